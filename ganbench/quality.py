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

import functools
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ganbench.build import Setup
from ganbench.data.base import Dataset
from ganbench.metrics.features import classifier_of, extract, extractor_tag, feature_extractors
from ganbench.metrics.images import class_histograms, real_features
from ganbench.metrics.points import mode_statistics
from ganbench.metrics.features import weights_digest
from ganbench.data import get_dataset
from ganbench.metrics.fidelity import frechet_distance, frechet_statistics
from ganbench.evaluate import Sampler, generate
from ganbench import store

SPLIT_SEED = 4_241  # the halves of the training data
PROBE_SEED_OFFSET = 104_729  # probe latents differ from the evaluation's and every training step's
FIELDS = ["step", "select", "report", "modes", "wall_time"]
KEPT_POINTS = 512  # 2-D data: this many of each probe's points are kept for the figure of samples over training


def halves(n: int, seed: int = SPLIT_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of two disjoint halves of n training samples (A: the first n // 2 of a fixed permutation)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[: n // 2], perm[n // 2 :]


def feature_space(data: Dataset) -> tuple[str, str]:
    """(metric name, feature tag) of a data set's probe: FID in its classifier's features for image sets with a
    registered extractor, the Frechet distance of the raw values (coordinates, pixels) otherwise."""
    if data.info.get("extractor"):
        return "fid", extractor_tag(feature_extractors(data)[0])
    return "fd", "coords" if data.kind == "points" else "pixels"


def features_and_modes(data: Dataset, x: torch.Tensor, device: str = "cpu") -> tuple[torch.Tensor, int | None]:
    """Samples in the probe's feature space, and how many of the data set's modes they cover by the rule of its
    mode metric (None without modes): samples within 3 std of a mixture component, or classifier classes."""
    if data.info.get("extractor"):
        name = feature_extractors(data)[0]
        out = extract(name, x, device)
        if "num_modes" not in data.info:
            return out["features"], None
        logits = out["logits"] if classifier_of(data) == name else extract(classifier_of(data), x, device)["logits"]
        return out["features"], int((class_histograms(data, logits, device)[0] > 0).sum())
    if "centres" in data.info:
        return x.flatten(1), int(mode_statistics(x, data.info["centres"], data.info["std"])["modes"])
    return x.flatten(1), None


def reference(dataset: str, device: str = "cpu", extractor: str | None = None) -> tuple[dict, dict]:
    """Frechet statistics of half A and half B of a data set's training samples, in extractor `extractor`'s
    feature space (None: the raw values); computed once per data set, extractor and its weights."""
    digest = ""
    if extractor:
        digest = weights_digest(extractor)
    return _reference(dataset, device, extractor, digest)


@functools.lru_cache(maxsize=8)
def _reference(dataset: str, device: str, extractor: str | None, digest: str) -> tuple[dict, dict]:
    data = get_dataset(dataset)
    if extractor:
        feats = real_features(dataset, extractor, device)["features"]
    else:
        feats = data.floats().flatten(1)
    a, b = halves(len(feats))
    return frechet_statistics(feats[a]), frechet_statistics(feats[b])


def probe(s: Setup) -> tuple[dict[str, float], torch.Tensor | None]:
    """The current generator's probe: {"select": distance to half A, "report": distance to half B, "modes":
    modes covered (NaN for a data set without modes)}, every value NaN when the samples are not finite; and for
    2-D data the first KEPT_POINTS generated points (on the CPU), else None."""

    spec = s.spec
    fake = generate(Sampler.of(s), spec.quality_samples, spec.seed + PROBE_SEED_OFFSET)
    points = fake[:KEPT_POINTS].detach().float().cpu() if s.data.kind == "points" else None
    if not torch.isfinite(fake).all():
        return {"select": math.nan, "report": math.nan, "modes": math.nan}, points
    feats, modes = features_and_modes(s.data, fake, str(s.device))
    stats = frechet_statistics(feats)
    extractor = None
    if s.data.info.get("extractor"):
        extractor = feature_extractors(s.data)[0]
    ref_a, ref_b = reference(s.data.name, str(s.device), extractor)
    return {"select": frechet_distance(stats, ref_a), "report": frechet_distance(stats, ref_b),
            "modes": math.nan if modes is None else float(modes)}, points


def is_probe_step(done: int, every: int, steps: int) -> bool:
    """Whether the probe runs after `done` updates: every `every` updates and after the last one."""
    return every > 0 and (done % every == 0 or done == steps)


def improves(rows: Sequence[Mapping[str, Any]], value: float) -> bool:
    """Whether `value` (a new probe's distance to half A) beats every earlier probe (ties keep the earlier)."""
    if not math.isfinite(value):
        return False
    return all(not math.isfinite(float(r["select"])) or value < float(r["select"]) for r in rows)


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
