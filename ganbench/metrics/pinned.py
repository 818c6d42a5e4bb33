"""The weights of ganbench's own feature extractors, shipped inside the package so that every machine scores in the
same feature space: each `<name>.pt` (a plain state dict) has a `<name>.pt.json` beside it with its sha256, held-out
accuracy and training recipe. `ganbench extractor train NAME --out FILE` retrains one; `--feature-weights
NAME=FILE` (or $GANBENCH_WEIGHTS_<NAME>) scores with that file instead, under its own hash."""
from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

from ganbench.errors import MetricError
from ganbench.files import atomic_write, load_torch, save_torch

WEIGHTS_DIR = Path(__file__).parent / "weights"
# ganbench's extractors by the weights they compute with (the stacked ones classify each channel with the same net)
NETS = {"ganbench-digits": "ganbench-digits", "ganbench-stacked-digits": "ganbench-digits",
        "ganbench-mnist": "ganbench-mnist", "ganbench-stacked-mnist": "ganbench-mnist"}


def env_name(name: str) -> str:
    """The variable that names another weights file for ganbench's extractor `name` (--feature-weights NAME=FILE;
    a stacked extractor shares its net's)."""
    return "GANBENCH_WEIGHTS_" + "".join(c if c.isalnum() else "_" for c in NETS.get(name, name).upper())


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=16)
def _checked(path: str, recorded: str | None, stamp: tuple[int, int], fix: str) -> str:
    digest = sha256_of(Path(path))
    if recorded is not None and digest != recorded:
        raise MetricError(f"feature-extractor weights {path} have sha256 {digest[:12]}, but their record says "
                          f"{recorded[:12]}; {fix}")
    return digest


def weights(name: str, default: Path | None = None) -> tuple[Path, dict]:
    """The weights file of ganbench's extractor `name` and its record (sha256 checked against the file): the file
    named by $GANBENCH_WEIGHTS_<NAME> when set (its record is FILE.json beside it, when there is one), else
    `default` (a classifier ganbench trained and cached here), else the one shipped with ganbench. A file without a
    record is used under its own hash."""
    given = os.environ.get(env_name(name))
    path = Path(given).expanduser() if given else default or WEIGHTS_DIR / f"{name}.pt"
    record_path = path.with_name(path.name + ".json")
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    if given and not path.is_file():
        raise MetricError(f"${env_name(name)}={given} is not a file; give the weights file that "
                          f"`ganbench extractor train {name} --out FILE` wrote")
    if not path.is_file():
        raise MetricError(f"feature-extractor weights {path} are missing; reinstall ganbench")
    st = path.stat()  # a file rewritten in place is hashed again
    where = str(path) if given else "cached" if default else "shipped"
    fix = {"shipped": "restore it (reinstall ganbench)", "cached": "delete it and its .json: ganbench trains it again"
           }.get(where, "retrain it with `ganbench extractor train`, or give the file its record was written for")
    digest = _checked(str(path), record.get("sha256"), (st.st_mtime_ns, st.st_size), fix)
    return path, {**record, "sha256": digest, "file": where}


def load_net(net_class: type, name: str):
    """ganbench's extractor net `name` (weights() picks the file) as an eval-mode, frozen `net_class`, and its
    record; built once per file and record."""
    path, record = weights(name)
    return _load_net(net_class, str(path), json.dumps(record, sort_keys=True))


@functools.lru_cache(maxsize=4)
def _load_net(net_class: type, path: str, record: str):
    net = net_class()
    net.load_state_dict(load_torch(Path(path)))
    return net.eval().requires_grad_(False), json.loads(record)


def write(path: Path, state_dict: dict, record: dict) -> dict:
    """Save a trained extractor's state dict at `path` and its record (with the file's sha256) at `path`.json,
    each written atomically; returns the record."""

    save_torch(path, state_dict)
    record = {**record, "sha256": sha256_of(path)}
    atomic_write(path.with_name(path.name + ".json"), lambda f: f.write((json.dumps(record, indent=2) + "\n").encode()))
    return record
