"""Metrics for 2-D Gaussian mixtures: mode coverage and sample quality (VEEGAN/PacGAN), and distances on coordinates."""
from __future__ import annotations

import functools
import math

import torch

from ganbench.metrics.base import METRICS, EvalContext, MetricValue, kl_divergence
from ganbench.metrics.fidelity import (DIVERSITY_SAMPLES, diversity_ratio, frechet_distance, frechet_statistics,
                                       precision_recall)
from ganbench.data import get_dataset

STD_THRESHOLD = 3.0  # a sample is high quality within 3 std of its nearest mode (VEEGAN, PacGAN)
MIN_COUNT = 1  # a mode is covered by at least one high-quality sample (PacGAN's MetricLogger)


def mode_statistics(x: torch.Tensor, centres: torch.Tensor, std: float, threshold: float = STD_THRESHOLD,
                    min_count: int = MIN_COUNT) -> dict[str, float | list[int]]:
    """Modes covered, high-quality share, KL(mode histogram || uniform), and the per-mode counts."""
    dist = torch.cdist(x.double(), centres.double())
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= threshold * std
    counts = torch.bincount(nearest[good], minlength=len(centres))
    k = len(centres)
    kl = kl_divergence(counts, torch.ones(k)) if counts.sum() > 0 else math.log(k)
    return {
        "modes": int((counts >= min_count).sum()),
        "hq": float(good.double().mean()),
        "kl_modes": kl,
        "counts": counts.tolist(),
    }


@METRICS.register("modes2d")
def modes2d(ctx: EvalContext) -> list[MetricValue]:
    """Modes covered (>=1 sample within 3 std), high-quality share, KL of the mode histogram to uniform, and the
    diversity ratio (mean pairwise distance of generated over real points; near 0: collapsed)."""
    info = ctx.data.info
    stats = mode_statistics(ctx.fake, info["centres"], info["std"])
    proto = {"n_gen": len(ctx.fake), "threshold_std": STD_THRESHOLD, "min_count": MIN_COUNT,
             "num_modes": len(info["centres"])}
    _, subset = _real_reference(ctx.data.name, DIVERSITY_SAMPLES)
    return [
        MetricValue("modes", stats["modes"], True, protocol=proto),
        MetricValue("hq", stats["hq"], True, protocol=proto),
        MetricValue("kl_modes", stats["kl_modes"], False, protocol=proto),
        MetricValue("diversity", diversity_ratio(ctx.fake, subset), True,
                    protocol={"n_gen": min(len(ctx.fake), DIVERSITY_SAMPLES), "n_real": DIVERSITY_SAMPLES,
                              "features": "coords"}),
    ]


@functools.lru_cache(maxsize=8)
def _real_reference(name: str, n: int, seed: int = 0) -> tuple[dict, torch.Tensor]:
    x = get_dataset(name).x
    g = torch.Generator().manual_seed(seed)
    subset = x[torch.randperm(len(x), generator=g)[:n]]
    return frechet_statistics(x), subset


@METRICS.register("points-fidelity")
def points_fidelity(ctx: EvalContext) -> list[MetricValue]:
    """Frechet distance (all real samples) and k=3 precision/recall (equal-size real subset) on the coordinates."""
    n = len(ctx.fake)
    stats_real, subset = _real_reference(ctx.data.name, n)
    fd = frechet_distance(frechet_statistics(ctx.fake), stats_real)
    precision, recall = precision_recall(ctx.fake, subset, k=3)
    proto_fd = {"n_gen": n, "n_real": len(ctx.data), "reference": "train"}
    proto_pr = {"n_gen": n, "n_real": n, "k": 3, "reference": "train"}
    return [
        MetricValue("fd", fd, False, "coords", proto_fd),
        MetricValue("precision", precision, True, "coords", proto_pr),
        MetricValue("recall", recall, True, "coords", proto_pr),
    ]
