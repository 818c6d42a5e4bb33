"""A run's state between steps: what its checkpoints hold (the networks, optimizers, tricks' state and the logs so
far), how training resumes from the last intact one, and how a step's state is kept: best.pt when the quality probe
improves, checkpoint.pt at every checkpoint interval (the one before kept as checkpoint.prev.pt), never replaced by
a state with non-finite weights. The files themselves (atomic, checksummed) are store.py's."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ganbench import store
from ganbench.build import Setup
from ganbench.files import save_torch, write_csv
from ganbench.monitor import HISTORY_FIELDS, SPECTRA_FIELDS, at_init
from ganbench.quality import FIELDS as QUALITY_FIELDS


@dataclass
class Logs:
    """What a run records along the way (kept in its checkpoints, so that a resumed run writes them whole)."""

    history: list[dict]
    spectra: list[dict]
    quality: list[dict]
    points: list[dict] = field(default_factory=list)  # 2-D data: {"step", "points"} of each probe

    def write(self, path: Path) -> None:
        """history.csv, spectra.csv, quality.csv (when probed) and probe_points.pt (2-D data) in `path`."""
        write_csv(path / store.HISTORY, self.history, HISTORY_FIELDS)
        write_csv(path / store.SPECTRA, self.spectra, SPECTRA_FIELDS)
        if self.quality:
            write_csv(path / store.QUALITY, self.quality, QUALITY_FIELDS)
        if self.points:
            save_torch(path / store.PROBE_POINTS, {"step": torch.tensor([p["step"] for p in self.points]),
                                                   "points": torch.stack([p["points"] for p in self.points])})


def state(s: Setup, step: int, drawn: int, logs: Logs) -> dict:
    """The run's state after `step` updates and `drawn` real batches: what a checkpoint holds."""
    return {
        "step": step, "batches_drawn": drawn, "history": logs.history,
        "G": s.G.state_dict(), "D": s.D.state_dict(),
        "opt_g": s.opt_g.state_dict(), "opt_d": s.opt_d.state_dict(), "tricks": s.tricks.state_dict(),
        "spectra": logs.spectra, "quality": logs.quality, "points": logs.points,
        "probe_s": float(s.timings.get("probe_s", 0.0)),
    }


def restore(s: Setup, state: dict) -> None:
    """Load a checkpoint's networks, optimizers and tricks' state into a freshly built run."""
    s.G.load_state_dict(state["G"])
    s.D.load_state_dict(state["D"])
    s.opt_g.load_state_dict(state["opt_g"])
    s.opt_d.load_state_dict(state["opt_d"])
    s.tricks.load_state_dict(state["tricks"])


def resume(s: Setup, path: Path) -> tuple[int, int, Logs]:
    """Restore the run from its last intact checkpoint in `path` (checksums verified; a damaged one is set aside
    and never silently reused): (the step to continue from, real batches drawn so far, the logs so far). A fresh
    run: (0, 0, logs that start with the networks' spectra at initialisation)."""
    state = store.load_checkpoint(path)
    if state is not None:
        restore(s, state)
        logs = Logs(list(state["history"]), list(state.get("spectra", [])), list(state.get("quality", [])),
                    list(state.get("points", [])))
        s.timings["probe_s"] = float(state.get("probe_s", 0.0))  # earlier segments' time, for the run's cost
        s.timings["resumed_s"] = s.timings["probe_s"] + (logs.history[-1]["wall_time"] if logs.history else 0.0)
        return state["step"], state["batches_drawn"], logs
    return 0, 0, Logs([], at_init(s), [])


def finite_weights(*modules: nn.Module) -> bool:
    """Whether every floating-point parameter and buffer of `modules` is finite (one host synchronisation)."""
    tensors = [t for m in modules for t in (*m.parameters(), *m.buffers()) if t.is_floating_point()]
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()) if tensors else True


def improves(rows: Sequence[Mapping[str, Any]], value: float) -> bool:
    """Whether `value` (a new probe's distance to half A) beats every earlier probe (ties keep the earlier)."""
    if not math.isfinite(value):
        return False
    return all(not math.isfinite(float(r["select"])) or value < float(r["select"]) for r in rows)


def keep(s: Setup, path: Path, step: int, drawn: int, logs: Logs, probed: bool, due: bool) -> bool:
    """Keep the state after `step` updates: as best.pt when the probe just run (`probed`, the last row of
    logs.quality) beats every earlier one, and, when a checkpoint is `due`, as checkpoint.pt (the last one kept as
    checkpoint.prev.pt) with the logs written beside it. False when a checkpoint is due and a weight is not finite:
    the run has diverged, and the last good checkpoint is never replaced by a broken one."""
    best = probed and improves(logs.quality[:-1], float(logs.quality[-1]["select"]))
    finite = not due or finite_weights(s.G, s.D)
    if not (best or due and finite):
        return finite
    kept = state(s, step, drawn, logs)
    if best:
        store.save_checkpoint(path / store.BEST, kept)
    if due and finite:
        store.save_checkpoint(path / store.CHECKPOINT, kept, keep_previous=True)
        logs.write(path)
    return finite
