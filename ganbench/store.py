"""Run directories on disk: atomic writes, claims, state, and loading finished runs into a DataFrame.

Layout: <results>/<suite>/runs/<run_id>/{spec.json, history.csv, spectra.csv, quality.csv, metrics.json, samples.png,
checkpoint.pt, best.pt}.
metrics.json is written last: a run is finished exactly when it holds a readable metrics.json.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from ganbench.errors import ResultsError
from ganbench.spec import RunSpec

SPEC, HISTORY, METRICS, SAMPLES, CHECKPOINT, CLAIM = (
    "spec.json", "history.csv", "metrics.json", "samples.png", "checkpoint.pt", ".claim")
QUALITY, BEST = "quality.csv", "best.pt"  # the quality probe over training; the checkpoint it selects
PROBE_POINTS = "probe_points.pt"  # 2-D data: the probe's generated points at each probe step (for figures)
TRUNCATION = "truncation.csv"  # runs with the truncation trick: metrics along the psi curve
SPECTRA = "spectra.csv"  # top singular values of every weight matrix at each logged step (-1: at initialisation)


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


def save_torch(path: Path, obj: Any) -> None:
    atomic_write(path, lambda f: torch.save(obj, f))


def load_torch(path: Path) -> Any:
    """Load a checkpoint safely (tensors and plain containers only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def suite_dir(results: Path, suite: str) -> Path:
    return Path(results) / suite


def run_dir(results: Path, suite: str, spec: RunSpec) -> Path:
    return suite_dir(results, suite) / "runs" / spec.run_id


def is_finished(path: Path) -> bool:
    """True when the run holds a readable metrics.json."""
    try:
        read_json(path / METRICS)
        return True
    except (OSError, ValueError):
        return False


def prepare(path: Path, spec: RunSpec) -> RunSpec:
    """Create the run directory and write spec.json; refuse a directory that holds a different spec. Returns the
    spec the run goes on with: a started run keeps the observation settings (quality probes) it began with."""
    spec_file = path / SPEC
    if spec_file.exists():
        try:
            stored = RunSpec.from_json(read_json(spec_file))
        except (ValueError, KeyError, TypeError):
            stored = None
        if stored is None or stored.canonical() != spec.canonical():
            raise ResultsError(f"{path} holds a different or unreadable spec.json; move it aside, ganbench will not overwrite it")
        return stored
    write_json(spec_file, spec.to_json())
    return spec


def set_aside(path: Path, reason: str) -> Path:
    """Rename a damaged file so that nothing is lost, and say so."""
    dest = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, dest)
    warnings.warn(f"{path} {reason}; kept as {dest.name} and the run is redone", stacklevel=2)
    return dest


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def claim(path: Path) -> Iterator[None]:
    """Hold an exclusive claim on a run directory; a claim left by a dead process is taken over."""
    path.mkdir(parents=True, exist_ok=True)
    lock = path / CLAIM
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            try:
                pid = int(lock.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pid = -1
            if pid > 0 and _pid_alive(pid) and pid != os.getpid():
                raise ResultsError(f"{path.name} is being run by process {pid}; wait for it or stop it") from None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)
    else:
        raise ResultsError(f"cannot claim {path}")
    try:
        os.write(fd, f"{os.getpid()} {time.time():.0f}\n".encode())
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)


def read_history(path: Path, name: str = HISTORY) -> list[dict[str, str]]:
    """The rows of a run's history.csv, or of its CSV file `name` (none if it has no such file)."""
    import csv

    f = Path(path) / name
    if not f.exists():
        return []
    with open(f, newline="") as fh:
        return list(csv.DictReader(fh))


def iter_runs(suite_path: Path) -> Iterator[tuple[Path, dict[str, Any], dict[str, Any]]]:
    """(run dir, spec, metrics) of each finished run; unreadable ones are reported and skipped."""
    runs = suite_path / "runs"
    if not runs.is_dir():
        return
    for d in sorted(p for p in runs.iterdir() if p.is_dir()):
        if not (d / METRICS).exists():
            continue
        try:
            yield d, read_json(d / SPEC), read_json(d / METRICS)
        except (OSError, ValueError) as e:
            warnings.warn(f"skipping {d.name}: unreadable result ({e})", stacklevel=2)
