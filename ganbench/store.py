"""Run directories on disk: their layout, claims, specs, and checkpoints with checksums.

Layout: <results>/<suite>/runs/<run_id>/{spec.json, history.csv, spectra.csv, quality.csv, metrics.json, samples.png,
checkpoint.pt, best.pt}.
metrics.json is written last: a run is finished exactly when it holds a readable metrics.json.
"""
from __future__ import annotations

import threading
import csv
import contextlib
import hashlib
import io
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import torch

from ganbench.errors import ResultsError
from ganbench.files import atomic_write, load_torch, read_json, save_torch, write_json, write_text  # noqa: F401 - run files use them through store
from ganbench.spec import RunSpec

SPEC, HISTORY, METRICS, SAMPLES, CHECKPOINT, CLAIM = (
    "spec.json", "history.csv", "metrics.json", "samples.png", "checkpoint.pt", ".claim")
QUALITY, BEST = "quality.csv", "best.pt"  # the quality probe over training; the checkpoint it selects
PROBE_POINTS = "probe_points.pt"  # 2-D data: the probe's generated points at each probe step (for figures)
TRUNCATION = "truncation.csv"  # runs with the truncation trick: metrics along the psi curve
DRAWS = "draws.json"  # the final checkpoint's metrics over several sample draws (sampling seeds)
SPECTRA = "spectra.csv"  # top singular values of every weight matrix at each logged step (-1: at initialisation)


def wall_seconds(cost: dict) -> float | None:
    """A recorded run's whole wall time (`wall_s`; runs recorded before it existed called it train_wall_s)."""
    return cost.get("wall_s", cost.get("train_wall_s"))


def train_seconds(cost: dict) -> float | None:
    """A recorded run's training time without evaluation (runs recorded before train_s: their whole wall time)."""
    return cost.get("train_s", cost.get("train_wall_s"))


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


def same_spec(path: Path, spec: RunSpec) -> None:
    """A ResultsError unless the run directory `path` holds `spec` (its spec.json has the same identity)."""
    try:
        stored = RunSpec.from_json(read_json(path / SPEC))
    except (OSError, ValueError, KeyError, TypeError):
        stored = None
    if stored is None or stored.canonical() != spec.canonical():
        other = f"run {stored.run_id}" if stored is not None else "a run without a readable spec.json"
        raise ResultsError(f"{path} holds {other}, not {spec.run_id}; give another --out (ganbench never "
                           "overwrites a run)")


def writable_dir(path: Path, what: str) -> Path:
    """`path` as a directory ganbench can create and write in (checked before any training): a ResultsError line
    when it is a file, lies under a file, or is on a read-only or unwritable file system."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ResultsError(f"{what} {path} is a file; give a directory")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ResultsError(f"{what} {path} lies under the file {existing}; give a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ResultsError(f"{what} {path}: {existing} is not writable; give a directory you can write in")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".ganbench-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ResultsError(f"{what} {path} cannot be written ({e.strerror}); give a writable directory") from None
    return path


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


CLAIM_TIMEOUT_S = float(os.environ.get("GANBENCH_CLAIM_TIMEOUT", 600))  # a claim from another host: stale after
HEARTBEAT_S = 30.0  # the owner touches its claim this often


class ClaimHeld(ResultsError):
    """The run directory is claimed by a live worker (here or on another host)."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process_started(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), from /proc; None where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def claim_owner(path: Path) -> dict | None:
    """Who holds the run directory's claim, if anyone live: {pid, host, since, beat} (`beat`: seconds since the
    owner's last heartbeat). A claim is live when its process still runs on this host (the same process: one
    started before the claim was written) or, from another host, when its heartbeat is younger than
    GANBENCH_CLAIM_TIMEOUT seconds (default 600)."""
    lock = Path(path) / CLAIM
    try:
        parts = lock.read_text().split()
        beat = time.time() - lock.stat().st_mtime
        pid, since = int(parts[0]), float(parts[1])
    except (OSError, ValueError, IndexError):
        return None
    host = parts[2] if len(parts) > 2 else socket.gethostname()
    if host == socket.gethostname():
        started = _process_started(pid)
        live = pid != os.getpid() and _pid_alive(pid) and (started is None or started <= since + 2)
    else:
        live = beat < CLAIM_TIMEOUT_S
    return {"pid": pid, "host": host, "since": since, "beat": beat} if live else None


def _take_over(lock: Path) -> None:
    """Remove a stale claim so that exactly one contender can create its own: the stale file is renamed away
    (one rename wins) and put back if it changed in between (it was a fresh claim after all)."""
    try:
        seen = lock.read_text()
        aside = lock.with_name(f"{CLAIM}.stale-{os.getpid()}-{time.monotonic_ns()}")
        os.rename(lock, aside)
    except FileNotFoundError:
        return
    if aside.read_text() != seen:  # someone else's new claim: give it back
        with contextlib.suppress(OSError):
            os.link(aside, lock)
    os.unlink(aside)


@contextlib.contextmanager
def claim(path: Path) -> Iterator[None]:
    """Hold an exclusive claim on a run directory (.claim: pid, time, host), touched every HEARTBEAT_S seconds by
    a background thread; a claim whose owner is dead (same host) or silent for GANBENCH_CLAIM_TIMEOUT seconds
    (another host: a preempted node) is taken over. Raises ClaimHeld while a live worker holds it."""
    path.mkdir(parents=True, exist_ok=True)
    lock = path / CLAIM
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            owner = claim_owner(path)
            if owner is not None:
                raise ClaimHeld(f"{path.name} is being run by process {owner['pid']} on {owner['host']}; wait for it "
                                "or stop it") from None
            _take_over(lock)
    else:
        raise ClaimHeld(f"cannot claim {path}: another worker keeps taking it")
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            with contextlib.suppress(OSError):
                os.utime(lock)

    try:
        os.write(fd, f"{os.getpid()} {time.time():.3f} {socket.gethostname()}\n".encode())
        os.close(fd)
        threading.Thread(target=beat, daemon=True, name=f"claim-{path.name[:20]}").start()
        yield
    finally:
        stop.set()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)


# ---------------------------------------------------------------- checkpoints with checksums

PREVIOUS = "checkpoint.prev.pt"  # the checkpoint before the last: the fallback when the last is damaged
DIGEST = ".sha256"  # beside each checkpoint: the SHA-256 of its bytes


def _digest_file(f: Path) -> Path:
    return f.with_name(f.name + DIGEST)


def save_checkpoint(f: Path, state: Any, keep_previous: bool = False) -> None:
    """torch.save `state` to `f` atomically with its SHA-256 beside it; with `keep_previous`, the file it replaces
    (and its digest) is kept as checkpoint.prev.pt. Every intermediate state on disk leaves a loadable checkpoint:
    if the process dies between the steps, load_checkpoint falls back to the previous one."""
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    side = _digest_file(f)
    if keep_previous and f.exists():
        prev = f.with_name(PREVIOUS)
        if side.exists():
            os.replace(side, _digest_file(prev))
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(_digest_file(prev))
        os.replace(f, prev)
    step = f"  step={state['step']}" if isinstance(state, dict) and "step" in state else ""
    write_text(side, f"{hashlib.sha256(data).hexdigest()}  {f.name}{step}\n")
    atomic_write(f, lambda out: out.write(data))


def checkpoint_step(path: Path) -> int | None:
    """The step of a run's last checkpoint, from its digest file (no checkpoint is loaded); None without one."""
    for name in (CHECKPOINT, PREVIOUS):
        try:
            words = _digest_file(Path(path) / name).read_text().split()
        except OSError:
            continue
        for w in words:
            if w.startswith("step="):
                return int(w[5:])
    return None


def load_verified(f: Path) -> Any:
    """A checkpoint's content after checking its SHA-256, loaded with weights_only=True. A ResultsError when the
    checksum does not match (truncated or corrupted) or its checksum file is missing (unverified: ganbench writes
    one beside every checkpoint, so a missing one means the file cannot be trusted)."""
    data = f.read_bytes()
    side = _digest_file(f)
    try:
        want = side.read_text().split()[0]
    except (OSError, IndexError):
        raise ResultsError(f"{f} has no readable checksum file {side.name}: it cannot be verified; re-run the "
                           "run (ganbench never uses an unverified checkpoint)") from None
    if hashlib.sha256(data).hexdigest() != want:
        raise ResultsError(f"{f} does not match its checksum (truncated or corrupted); re-run the run")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def load_checkpoint(path: Path) -> Any | None:
    """The newest intact checkpoint of a run: checkpoint.pt, else checkpoint.prev.pt, else None. A damaged one
    (checksum mismatch, unreadable) is set aside, with its digest, and never silently reused."""
    for f in (Path(path) / CHECKPOINT, Path(path) / PREVIOUS):
        if not f.exists():
            continue
        try:
            return load_verified(f)
        except Exception as e:  # noqa: BLE001 - any damage means: keep it for inspection, use the one before
            set_aside(f, f"could not be read ({type(e).__name__}: {e})")
            if _digest_file(f).exists():
                os.replace(_digest_file(f), _digest_file(f).with_name(f"{f.name}{DIGEST}.bad"))
    return None


def read_history(path: Path, name: str = HISTORY) -> list[dict[str, str]]:
    """The rows of a run's history.csv, or of its CSV file `name` (none if it has no such file)."""
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
