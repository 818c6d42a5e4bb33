"""Quality over training and checkpoint selection.

Every `quality_every` steps a probe of `quality_samples` generated samples (the evaluated generator in eval mode,
the same fixed latents each time, so the curve moves only when G does) is scored by the Frechet distance in the
data set's feature space against two disjoint halves of the training data, drawn once with a fixed seed:

* half A selects: the checkpoint with the lowest distance to A is kept as best.pt, beside the last checkpoint;
* half B reports: the selected checkpoint is scored against B, which played no part in choosing it.

Choosing and reporting on the same reference flatters every method (the minimum of a noisy curve is biased low);
`flattery` measures by how much: B's own minimum over the probes against B at the step A chose.

The probe never touches the training RNG, the models' training state or their weights, so a run's trained
numbers are the same with and without it (tested)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ganbench.build import Setup
from ganbench.data.base import Dataset
from ganbench.evaluate import Sampler, generate
from ganbench.metrics.probe import SPLIT_SEED, feature_space, halves, scores
from ganbench import store

PROBE_SEED_OFFSET = 104_729  # probe latents differ from the evaluation's and every training step's
FIELDS = ["step", "select", "report", "modes", "wall_time"]
KEPT_POINTS = 512  # 2-D data: this many of each probe's points are kept for the figure of samples over training


def probe(s: Setup) -> tuple[dict[str, float], torch.Tensor | None]:
    """The current generator's probe: {"select": distance to half A, "report": distance to half B, "modes":
    modes covered (NaN for a data set without modes)}, every value NaN when the samples are not finite; and for
    2-D data the first KEPT_POINTS generated points (on the CPU), else None."""
    spec = s.spec
    fake = generate(Sampler.of(s), spec.quality_samples, spec.seed + PROBE_SEED_OFFSET)
    points = fake[:KEPT_POINTS].detach().float().cpu() if s.data.kind == "points" else None
    return scores(s.data, fake, str(s.device)), points


def is_probe_step(done: int, every: int, steps: int) -> bool:
    """Whether the probe runs after `done` updates: every `every` updates and after the last one."""
    return every > 0 and (done % every == 0 or done == steps)


def selection(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The best and the final probe of a run, and the flattery of selecting on the reporting half:
    {"best": {step, select, report}, "final": {...}, "flattery": report at best - min of report}; None when no
    probe has a finite distance."""
    rows = [{k: float(r[k]) for k in ("step", "select", "report")} for r in rows]
    finite = [r for r in rows if math.isfinite(r["select"]) and math.isfinite(r["report"])]
    if not finite:
        return None
    best = min(finite, key=lambda r: (r["select"], r["step"]))
    final = rows[-1]
    as_probe = lambda r: {"step": int(r["step"]), "select": r["select"], "report": r["report"]}  # noqa: E731
    return {"best": as_probe(best), "final": as_probe(final),
            "flattery": best["report"] - min(r["report"] for r in finite)}


def record(path: Path, spec: Mapping[str, Any], data: Dataset) -> dict[str, Any] | None:
    """metrics.json's `checkpoints` entry of the run in `path`, from its quality.csv; None without probes."""
    sel = selection(store.read_history(path, store.QUALITY))
    if sel is None:
        return None
    metric, tag = feature_space(data)
    a, b = halves(len(data))
    return {**sel, "protocol": {"metric": metric, "features": tag, "n_gen": spec.get("quality_samples"),
                                "every": spec.get("quality_every"), "select": f"half A of the training data ({len(a)})",
                                "report": f"half B of the training data ({len(b)})", "split_seed": SPLIT_SEED,
                                "kept": store.BEST}}


def checkpoints(path: Path, data: Dataset) -> dict[str, Any]:
    """metrics.json's `checkpoints`: which checkpoints the run keeps and which one its metrics are of: the last
    always (the metrics), and the best by the quality probe (with its selection record) when it was probed."""
    stored = store.read_json(path / store.SPEC)  # the probe settings the run was trained with
    return {"reported": "final", "selection": record(path, stored, data)}
