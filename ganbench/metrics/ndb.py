"""NDB, the number of statistically different bins (Richardson & Weiss 2018).

The training samples are clustered with k-means (scikit-learn, fixed seed, one thread, so the bins are the same on
every machine); generated samples fall into the bin of their nearest centre; in each bin a two-proportion z-test
compares the generated share with the real share. NDB is the number of bins where they differ at significance
0.05, reported as a share of the bins (about 0.05 when the two distributions match, near 1 when the samples pile
into a few bins), together with the Jensen-Shannon divergence of the two bin histograms."""
from __future__ import annotations

from threadpoolctl import threadpool_limits
import functools
import math

import torch

from ganbench.metrics.base import METRICS, EvalContext, MetricValue
from ganbench.cache import cache_dir, file_safe
from ganbench.data import get_dataset
from ganbench.files import cached_torch

ALPHA = 0.05
Z_CRIT = 1.959963984540054  # two-sided 5% quantile of the standard normal
MAX_BINS = 100
SAMPLES_PER_BIN = 40  # bins = min(100, training samples / 40): enough samples per bin for the test


def num_bins(n_train: int) -> int:
    return max(2, min(MAX_BINS, n_train // SAMPLES_PER_BIN))


def kmeans_centres(x: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """k-means centres of the rows of x (scikit-learn, k-means++ init, fixed seed, single-threaded)."""
    from sklearn.cluster import KMeans  # heavy: scikit-learn, 1.4 s, only when the NDB reference is clustered
    with threadpool_limits(1):
        km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(x.flatten(1).double().numpy())
    return torch.from_numpy(km.cluster_centers_)


def bin_counts(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    x = x.flatten(1).double()
    nearest = torch.cat([torch.cdist(chunk, centres).argmin(1) for chunk in x.split(4096)])
    return torch.bincount(nearest, minlength=len(centres))


def ndb(gen_counts: torch.Tensor, real_counts: torch.Tensor) -> tuple[int, float]:
    """(number of bins whose shares differ at ALPHA by a two-proportion z-test, JS divergence of the histograms)."""
    n_g, n_r = gen_counts.sum().double(), real_counts.sum().double()
    p_g, p_r = gen_counts.double() / n_g, real_counts.double() / n_r
    pooled = (gen_counts + real_counts).double() / (n_g + n_r)
    se = torch.sqrt(pooled * (1 - pooled) * (1 / n_g + 1 / n_r))
    z = torch.where(se > 0, (p_g - p_r) / se.clamp_min(1e-300), torch.zeros_like(se))
    m = 0.5 * (p_g + p_r)

    def kl(p: torch.Tensor) -> float:
        keep = p > 0
        return float((p[keep] * (p[keep] / m[keep]).log()).sum())

    return int((z.abs() > Z_CRIT).sum()), 0.5 * kl(p_g) + 0.5 * kl(p_r)


CLUSTER_BYTES = 400_000_000  # the float64 training samples k-means clusters: at most this many bytes
SUBSET_SEED = 2018


def reference_subset(n: int, dim: int) -> torch.Tensor | None:
    """Indices of the training samples NDB clusters and counts: all of them when they fit in CLUSTER_BYTES as
    float64 (every CPU data set: 100,000 2-D points, 12,800 stacked 8x8 digits), else a fixed-seed subset that
    does (16,276 CIFAR-10 images, 4,069 CelebA images at 64x64)."""
    cap = CLUSTER_BYTES // (8 * dim)
    if n <= cap:
        return None
    return torch.randperm(n, generator=torch.Generator().manual_seed(SUBSET_SEED))[:cap]


@functools.lru_cache(maxsize=4)
def _reference(dataset: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The bins' centres and the training samples' counts, computed once per data set and cached on disk."""

    data = get_dataset(dataset)
    dim = math.prod(data.sample_shape)
    subset = reference_subset(len(data), dim)
    n = len(data) if subset is None else len(subset)
    path = cache_dir("reference") / f"{file_safe(dataset)[:60]}-{data.fingerprint}-ndb-n{n}-s{SUBSET_SEED}-v1.pt"

    def compute() -> dict[str, torch.Tensor]:
        x = data.floats(subset)
        centres = kmeans_centres(x, num_bins(len(x)))
        return {"centres": centres, "counts": bin_counts(x, centres)}

    ref = cached_torch(path, compute)
    return ref["centres"], ref["counts"]


@METRICS.register("ndb")
def ndb_metric(ctx: EvalContext) -> list[MetricValue]:
    """NDB/K (share of k-means bins of the training data where the generated share differs at 0.05) and the JS
    divergence of the bin histograms, in the data's own space (pixels or coordinates), Richardson & Weiss 2018."""
    centres, real_counts = _reference(ctx.data.name)
    different, js = ndb(bin_counts(ctx.fake, centres), real_counts)
    k = len(centres)
    proto = {"n_gen": len(ctx.fake), "n_real": int(real_counts.sum()), "bins": k, "alpha": ALPHA,
             "clustering": "k-means++ seed 0, 3 inits, training data"}
    space = "coords" if ctx.data.kind == "points" else "pixels"
    return [MetricValue("ndb", different / k, False, space, proto),
            MetricValue("ndb_js", js, False, space, proto)]
