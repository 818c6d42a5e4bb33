"""Statistics the leaderboards and reproduction reports use: bootstrap intervals over seeds, tests of a method
against its baseline (a registry: Welch's t-test, Mann-Whitney U), Holm's correction over a family of comparisons,
and, from summaries (mean, spread, n), Welch intervals, equivalence tests (TOST) and Hedges' g."""
from __future__ import annotations

from scipy import stats
import math
import warnings
from typing import Callable, NamedTuple, Sequence

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


@TESTS.register("welch")
def welch(a: Samples, b: Samples) -> np.ndarray:
    """Welch's t-test (Welch 1947): two-sided p-values with unequal variances, scipy.stats.ttest_ind(equal_var=False)
    on each pair (a[i], b[i]); the pairs of one size go in one call. NaN with fewer than two values on a side or when
    neither side varies (the statistic is undefined)."""
    out = np.full(len(a), math.nan)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (x, y) in enumerate(zip(a, b)):
        if len(x) >= 2 and len(y) >= 2 and (np.ptp(x) > 0 or np.ptp(y) > 0):
            groups.setdefault((len(x), len(y)), []).append(i)
    for idx in groups.values():
        xs, ys = np.stack([np.asarray(a[i], float) for i in idx]), np.stack([np.asarray(b[i], float) for i in idx])
        with warnings.catch_warnings():  # nearly identical seeds: scipy warns, the p-value is still its answer
            warnings.simplefilter("ignore", RuntimeWarning)
            out[idx] = stats.ttest_ind(xs, ys, equal_var=False, axis=1).pvalue
    return out


@TESTS.register("mannwhitney")
def mann_whitney(a: Samples, b: Samples) -> np.ndarray:
    """The Mann-Whitney U test (Mann & Whitney 1947): two-sided p-values, exact for small samples without ties.

    Makes no assumption of normality; with 3 seeds against 3 the smallest possible p is 0.1, so a rank test needs
    more seeds before it marks anything."""
    out = np.full(len(a), math.nan)
    groups: dict[tuple[int, int, bool], list[int]] = {}  # pairs of one size (and with/without ties) in one call
    for i, (x, y) in enumerate(zip(a, b)):
        if len(x) and len(y):
            tied = len(np.unique(np.concatenate([x, y]))) < len(x) + len(y)
            groups.setdefault((len(x), len(y), tied), []).append(i)
    for idx in groups.values():
        xs, ys = np.stack([np.asarray(a[i], float) for i in idx]), np.stack([np.asarray(b[i], float) for i in idx])
        out[idx] = stats.mannwhitneyu(xs, ys, alternative="two-sided", axis=1).pvalue
    return out


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


# Equivalence and effect sizes: the reproduction reports' tests (see docs/statistics.md). Each works on summaries
# (a difference, its standard error and degrees of freedom), since a paper prints means and spreads, not its runs.

class Tost(NamedTuple):
    """The two one-sided tests' p-values; equivalence is shown when p (the larger) is below alpha."""

    p_lower: float  # H0: diff <= -margin
    p_upper: float  # H0: diff >= +margin

    @property
    def p(self) -> float:
        return max(self.p_lower, self.p_upper)


def welch_df(se_a: float, n_a: float, se_b: float, n_b: float) -> float:
    """Welch-Satterthwaite degrees of freedom of a difference of two means with standard errors se_a, se_b
    (Welch 1947; Satterthwaite 1946): (se_a^2 + se_b^2)^2 / (se_a^4/(n_a-1) + se_b^4/(n_b-1)); NaN when neither
    side varies or a side has fewer than two values."""
    if n_a < 2 or n_b < 2:
        return math.nan
    den = se_a ** 4 / (n_a - 1) + se_b ** 4 / (n_b - 1)
    return (se_a ** 2 + se_b ** 2) ** 2 / den if den > 0 else math.nan


def t_interval(diff: float, se: float, df: float, level: float = LEVEL) -> tuple[float, float]:
    """The t interval diff ± t_{(1+level)/2, df} * se (Student 1908); [diff, diff] when se is 0, NaN without df."""
    if se == 0:
        return diff, diff
    if not df > 0:
        return math.nan, math.nan
    half = float(stats.t.ppf((1 + level) / 2, df)) * se
    return diff - half, diff + half


def welch_ci(mean_a: float, std_a: float, n_a: int, mean_b: float, std_b: float, n_b: int,
             level: float = LEVEL) -> tuple[float, float, float]:
    """(mean_a - mean_b, lo, hi): the Welch t interval of a difference of two means from each sample's mean,
    standard deviation and size (Welch 1947); the same interval as scipy.stats.ttest_ind(equal_var=False). NaN
    bounds below two values on a side (a single value's spread is unknown, not 0)."""
    if n_a < 2 or n_b < 2:
        return mean_a - mean_b, math.nan, math.nan
    se_a, se_b = std_a / math.sqrt(n_a), std_b / math.sqrt(n_b)
    diff = mean_a - mean_b
    return (diff, *t_interval(diff, math.hypot(se_a, se_b), welch_df(se_a, n_a, se_b, n_b), level))


def tost(diff: float, se: float, df: float, margin: float) -> Tost:
    """Two one-sided t tests of equivalence within ±margin (Schuirmann 1987; Lakens 2017 for a readable account):
    p_lower = P(T_df >= (diff + margin)/se), p_upper = P(T_df <= (diff - margin)/se). Both below alpha exactly when
    the (1 - 2 alpha) t interval of diff lies inside (-margin, +margin). With se = 0 each p is 0 or 1."""
    if se == 0:
        return Tost(float(not diff + margin > 0), float(not diff - margin < 0))
    if not df > 0:
        return Tost(math.nan, math.nan)
    return Tost(float(stats.t.sf((diff + margin) / se, df)), float(stats.t.cdf((diff - margin) / se, df)))


def t_test_p(diff: float, se: float, df: float) -> float:
    """Two-sided p-value of H0: diff = 0, 2 P(T_df >= |diff|/se); 0 or 1 when se is 0."""
    if se == 0:
        return float(diff == 0)
    return float(2 * stats.t.sf(abs(diff) / se, df)) if df > 0 else math.nan


def equivalence(diff: float, se: float, df: float, margin: float, alpha: float = ALPHA) -> str:
    """'equivalent' (TOST rejects both one-sided nulls at alpha), else 'higher' or 'lower' (the two-sided t test
    rejects diff = 0 at alpha, in diff's direction), else 'inconclusive'. Equivalence takes precedence: a difference
    shown to be inside the margin is one the margin declares too small to matter, significant or not."""
    if tost(diff, se, df, margin).p < alpha:
        return "equivalent"
    if t_test_p(diff, se, df) < alpha:
        return "higher" if diff > 0 else "lower"
    return "inconclusive"


def hedges_j(df: float) -> float:
    """Hedges' exact small-sample correction J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2)) (Hedges 1981;
    Hedges & Olkin 1985, eq. 5.3.10); about 1 - 3/(4 df - 1)."""
    if df <= 1:
        return math.nan
    return math.exp(math.lgamma(df / 2) - math.lgamma((df - 1) / 2)) / math.sqrt(df / 2)


def hedges_g(mean_a: float, std_a: float, n_a: int, mean_b: float, std_b: float, n_b: int) -> float:
    """Hedges' g (Hedges & Olkin 1985, ch. 5): the bias-corrected standardized mean difference
    J(n_a + n_b - 2) (mean_a - mean_b) / s_pooled, s_pooled^2 = ((n_a-1) s_a^2 + (n_b-1) s_b^2) / (n_a + n_b - 2).
    ±inf when neither sample varies and the means differ; NaN below four values in all or when nothing differs."""
    df = n_a + n_b - 2
    if df < 2:
        return math.nan
    pooled = math.sqrt(((n_a - 1) * std_a ** 2 + (n_b - 1) * std_b ** 2) / df)
    diff = mean_a - mean_b
    if pooled == 0:
        return math.copysign(math.inf, diff) if diff else math.nan
    return hedges_j(df) * diff / pooled
