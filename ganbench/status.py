"""Where each cell of a suite stands (done, running, failed, interrupted, pending) and how long the rest will take."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ganbench import store
from ganbench.spec import RunSpec
from ganbench.data import get_dataset
from ganbench.tricks.base import compose

STATES = ("done", "running", "failed", "interrupted", "pending")
EXPLAINED = {
    "done": "metrics.json written",
    "running": "claimed by a live worker",
    "failed": "raised an error (error.txt holds the traceback); --retry-failed re-runs it",
    "interrupted": "has checkpoints but no worker: killed or preempted; the next bench resumes it",
    "pending": "not started",
}


@dataclass(frozen=True)
class Cell:
    spec: RunSpec
    path: Path
    state: str
    detail: str = ""  # failed: the error's last line; running: pid@host; interrupted/running: the checkpoint's step
    step: int = 0  # the last checkpoint's step (0 when none)


def _checkpoint_step(path: Path) -> int:
    """The last checkpoint's step (from its digest file), else the last logged step from history.csv."""
    step = store.checkpoint_step(path)
    if step is not None:
        return step
    rows = store.read_history(path)
    try:
        return int(rows[-1]["step"]) + 1 if rows else 0
    except (KeyError, ValueError):
        return 0


def cell(spec: RunSpec, path: Path) -> Cell:
    """The state of one cell from its run directory alone."""
    if store.is_finished(path):
        return Cell(spec, path, "done", step=spec.steps)
    owner = store.claim_owner(path)
    step = _checkpoint_step(path) if path.is_dir() else 0
    if owner is not None:
        return Cell(spec, path, "running", f"pid {owner['pid']} on {owner['host']}", step)
    err = path / "error.txt"
    if err.exists():
        lines = [ln for ln in err.read_text(errors="replace").splitlines() if ln.strip()]
        return Cell(spec, path, "failed", lines[-1].strip() if lines else "error.txt is empty", step)
    if (path / store.CHECKPOINT).exists() or (path / store.PREVIOUS).exists():
        return Cell(spec, path, "interrupted", "", step)
    return Cell(spec, path, "pending", "", 0)


def cells(jobs: Sequence[tuple[RunSpec, Path]]) -> list[Cell]:
    return [cell(spec, p) for spec, p in jobs]


def cost(spec: RunSpec) -> float:
    """A rough relative cost from the spec and its tricks' hooks, to start the longest runs first: steps x batch
    growth x (D updates, each with its penalties, + look-ahead + G updates) x data size."""
    stack = compose(spec.tricks)
    batch = stack.batch_size(spec.batch_size) / spec.batch_size
    extra = sum(t.extra_cost() for t in stack.tricks)
    per_step = stack.d_steps(1) * (1 + extra) + stack.g_steps(1)
    size = math.prod(get_dataset(spec.dataset).sample_shape)
    return spec.steps * batch * per_step * (1 + size / 64)


def seconds_per_cost(done: Sequence[Cell]) -> float | None:
    """The median of measured training wall time over the launcher's relative cost, over finished runs."""

    rates = []
    for c in done:
        try:
            wall = store.wall_seconds(store.read_json(c.path / store.METRICS)["cost"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if wall and wall > 0:
            rates.append(wall / max(cost(c.spec), 1e-9))
    return statistics.median(rates) if rates else None


def eta_seconds(states: Sequence[Cell], workers: int = 1) -> float | None:
    """Remaining wall time with `workers` parallel workers: each unfinished cell's cost (less what its
    checkpoints hold) at the measured seconds per unit of cost, spread over the workers; None before any run has
    finished."""

    rate = seconds_per_cost([c for c in states if c.state == "done"])
    if rate is None:
        return None
    left = [cost(c.spec) * (1 - c.step / max(c.spec.steps, 1)) * rate for c in states if c.state != "done"]
    if not left:
        return 0.0
    return max(sum(left) / max(workers, 1), max(left))


def fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def report(suite: str, states: Sequence[Cell], workers: int = 1, verbose: bool = False) -> list[str]:
    """The lines `ganbench status` prints: counts per state, every cell that is not done (all cells with
    `verbose`), the failures' reasons, and the ETA."""
    counts = {state: sum(c.state == state for c in states) for state in STATES}
    lines = [f"suite {suite}: {len(states)} cells: " + ", ".join(f"{counts[state]} {state}" for state in STATES if counts[state])]
    shown = [c for c in states if verbose or c.state != "done"]
    order = {state: i for i, state in enumerate(STATES)}
    for c in sorted(shown, key=lambda c: (order[c.state], c.spec.run_id)):
        progress = f" step {c.step}/{c.spec.steps}" if c.state in ("running", "interrupted", "failed") and c.step else ""
        detail = f": {c.detail}" if c.detail else ""
        lines.append(f"  {c.state:<11} {c.spec.run_id}{progress}{detail}")
    eta = eta_seconds(states, workers)
    if counts["done"] < len(states):
        lines.append(f"ETA with {workers} worker(s): " + (fmt_duration(eta) if eta is not None else
                                                          "unknown until a run has finished"))
    for state in STATES[1:]:
        if counts[state]:
            lines.append(f"{state}: {EXPLAINED[state]}")
    return lines
