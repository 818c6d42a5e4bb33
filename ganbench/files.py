"""Files written whole or not at all: atomic writes (temporary file, fsync, rename), JSON and text, and tensors
saved and loaded safely (weights_only). The ground floor: everything that writes a file goes through here."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """Write through a temporary file in the same directory, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; results get the permissions of an ordinary file
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    """`rows` as CSV with the columns `fields` (others ignored), "\n" line ends."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text(path, buf.getvalue())


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def save_torch(path: Path, obj: Any) -> None:
    atomic_write(path, lambda f: torch.save(obj, f))


def load_torch(path: Path) -> Any:
    """Load a tensor file safely (tensors and plain containers only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def cached_torch(path: Path, compute: Callable[[], Any]) -> Any:
    """The tensors stored at `path`, else compute() stored there (temporary file + rename: concurrent workers at
    worst compute it twice; an absent, damaged or unreadable file is computed again and replaced)."""
    try:
        return load_torch(path)
    except Exception:  # noqa: BLE001 - any failure to read a cache file means: compute it again
        pass
    out = compute()
    save_torch(path, out)
    return out
