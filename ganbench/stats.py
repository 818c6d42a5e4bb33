"""Statistics the leaderboards report: bootstrap intervals over seeds, tests of a method against its baseline (a
registry: Welch's t-test, Mann-Whitney U) and Holm's correction over a family of comparisons."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ganbench.registry import Registry

LEVEL = 0.95  # the bootstrap interval's coverage
REPLICATES = 2000  # bootstrap resamples per interval
ALPHA = 0.05  # family-wise error rate of the marked differences (after Holm's correction)
CHUNK = 4_000_000  # groups x replicates per matrix product: bounds the memory of many intervals at once


def bootstrap_mean_ci(groups: Sequence[Sequence[float]], level: float = LEVEL, replicates: int = REPLICATES,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the mean of each group (Efron & Tibshirani 1993, ch. 13): resample each
    group's values with replacement `replicates` times and take the (1-level)/2 and (1+level)/2 quantiles of the
    resampled means. Groups of one value get the degenerate interval [x, x].

    Vectorized: groups of equal size share one set of resampling counts (a replicates x n matrix, deterministic in
    (seed, n)), so all their intervals come from one matrix product; the intervals of different groups are then
    correlated, each one's coverage is unchanged. With few seeds (n = 3) the percentile interval is narrower than a
    t-interval: it describes the seeds run, it does not correct for having few."""
    lo, hi = np.full(len(groups), np.nan), np.full(len(groups), np.nan)
    by_size: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        by_size.setdefault(len(g), []).append(i)
    q = [(1 - level) / 2, (1 + level) / 2]
    for n, idx in by_size.items():
        if n == 0:
            continue
        x = np.asarray([groups[i] for i in idx], dtype=float)  # G x n
        if n == 1:
            lo[idx], hi[idx] = x[:, 0], x[:, 0]
            continue
        rng = np.random.default_rng([seed, n])
        draws = rng.integers(0, n, size=(replicates, n))
        weights = np.zeros((replicates, n))
        np.add.at(weights, (np.arange(replicates)[:, None], draws), 1.0 / n)  # each resample's weights on the seeds
        step = max(1, CHUNK // replicates)
        for start in range(0, len(idx), step):
            means = x[start:start + step] @ weights.T  # G x replicates resampled means
            bounds = np.quantile(means, q, axis=1)
            lo[idx[start:start + step]], hi[idx[start:start + step]] = bounds[0], bounds[1]
    return lo, hi


Samples = Sequence[np.ndarray]
TESTS: Registry[Callable[[Samples, Samples], np.ndarray]] = Registry("test")


def summaries(samples: Samples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, mean, unbiased variance) of each sample, in one pass over all of them (bincount, no Python loop over
    values); the variance is NaN below two values."""
    n = np.array([len(x) for x in samples], dtype=float)
    flat = np.concatenate([np.asarray(x, dtype=float) for x in samples]) if len(samples) else np.array([])
    seg = np.repeat(np.arange(len(samples)), n.astype(int))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(seg, flat, minlength=len(samples)) / n
        ss = np.bincount(seg, (flat - mean[seg]) ** 2, minlength=len(samples))
        var = np.where(n > 1, ss / np.maximum(n - 1, 1), np.nan)
    return n, mean, var


@TESTS.register("welch")
def welch(a: Samples, b: Samples) -> np.ndarray:
    """Welch's t-test (Welch 1947): two-sided p-values, unequal variances.

    t = (mean_a - mean_b) / sqrt(va/na + vb/nb) with the Welch-Satterthwaite degrees of freedom, for every pair
    (a[i], b[i]) at once; the same numbers as scipy.stats.ttest_ind(equal_var=False). NaN with fewer than two
    values on a side or when neither side varies (the statistic is undefined)."""
    from scipy import stats

    na, ma, va = summaries(a)
    nb, mb, vb = summaries(b)
    with np.errstate(invalid="ignore", divide="ignore"):
        sa, sb = va / na, vb / nb
        t = (ma - mb) / np.sqrt(sa + sb)
        df = (sa + sb) ** 2 / (sa ** 2 / (na - 1) + sb ** 2 / (nb - 1))
        p = 2 * stats.t.sf(np.abs(t), df)
    return np.where((sa + sb) > 0, p, np.nan)


@TESTS.register("mannwhitney")
def mann_whitney(a: Samples, b: Samples) -> np.ndarray:
    """The Mann-Whitney U test (Mann & Whitney 1947): two-sided p-values, exact for small samples without ties.

    Makes no assumption of normality; with 3 seeds against 3 the smallest possible p is 0.1, so a rank test needs
    more seeds before it marks anything."""
    from scipy import stats

    return np.array([float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue) if len(x) and len(y)
                     else math.nan for x, y in zip(a, b)])


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's (1979) step-down adjusted p-values: sort the m p-values, multiply the i-th smallest (0-based) by
    m - i, carry the running maximum, cap at 1. Rejecting where the adjusted p < alpha controls the family-wise
    error rate at alpha. NaN p-values are left NaN and do not count in m."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out
