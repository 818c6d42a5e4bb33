"""The leaderboard's statistics against known answers: scipy's reference tests, error rates under the null,
Holm's worked example and family-wise error, and the bootstrap interval's coverage."""
import numpy as np
import pytest
from scipy import stats as st

from ganbench import stats

REFERENCE = {  # each registered test against scipy's implementation of the paper's definition
    "welch": lambda a, b: st.ttest_ind(a, b, equal_var=False).pvalue,
    "mannwhitney": lambda a, b: st.mannwhitneyu(a, b, alternative="two-sided").pvalue,
}


def samples(rng, k, loc=0.0, scale=1.0):
    return [rng.normal(loc, scale, size=int(rng.integers(3, 11))) for _ in range(k)]


def test_every_registered_test_has_a_reference():
    assert set(stats.TESTS.names()) == set(REFERENCE)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_p_values_equal_the_reference_implementation(name):
    rng = np.random.default_rng(1)
    a, b = samples(rng, 200), samples(rng, 200, loc=0.7, scale=2.0)
    got = stats.TESTS.get(name)(a, b)
    want = np.array([REFERENCE[name](x, y) for x, y in zip(a, b)])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_false_positive_rate_under_the_null_is_at_most_alpha(name):
    """Both samples from one distribution: p < 0.05 in about 5% of 4,000 comparisons (at most, for the discrete
    rank test), and a real shift is detected far more often."""
    rng = np.random.default_rng(2)
    a = [rng.normal(size=8) for _ in range(4000)]
    b = [rng.normal(size=8) for _ in range(4000)]
    rate = np.mean(stats.TESTS.get(name)(a, b) < 0.05)
    assert 0.03 < rate < 0.065
    shifted = [x + 1.5 for x in b]
    assert np.mean(stats.TESTS.get(name)(a, shifted) < 0.05) > 0.7


def test_welch_is_undefined_without_spread_or_with_one_value():
    p = stats.welch([np.array([1.0, 1.0]), np.array([1.0]), np.array([1.0, 2.0])],
                    [np.array([2.0, 2.0]), np.array([1.0, 2.0]), np.array([2.0, 2.0])])
    assert np.isnan(p[0]) and np.isnan(p[1]) and 0 < p[2] < 1


def test_holm_worked_example():
    # sorted p 0.005, 0.01, 0.03, 0.04 (m = 4): 0.02, 0.03, 0.06, max(0.04, 0.06) = 0.06; NaN stays out of m
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, np.nan, 0.005]), [0.03, 0.06, 0.06, np.nan, 0.02])
    np.testing.assert_allclose(stats.holm([0.5, 0.9]), [1.0, 1.0])
    assert np.isnan(stats.holm([np.nan])).all()


def test_holm_controls_the_family_wise_error_rate():
    """10 true null hypotheses per family, 4,000 families: uncorrected, some p < 0.05 in about 40% of families;
    after Holm's correction in at most 5%."""
    rng = np.random.default_rng(3)
    p = rng.uniform(size=(20000, 10))
    raw = np.mean((p < 0.05).any(axis=1))
    adjusted = np.array([stats.holm(row) for row in p])
    fwer = np.mean((adjusted < 0.05).any(axis=1))
    assert 0.35 < raw < 0.45 and fwer <= 0.055


def test_bootstrap_interval_covers_the_true_mean_about_95_percent():
    rng = np.random.default_rng(4)
    groups = [rng.normal(3.0, 2.0, size=30) for _ in range(2000)]
    lo, hi = stats.bootstrap_mean_ci(groups)
    coverage = np.mean((lo <= 3.0) & (3.0 <= hi))
    assert 0.92 < coverage < 0.97  # the percentile interval slightly under-covers at n = 30
    width = np.mean(hi - lo)
    assert width == pytest.approx(2 * 1.96 * 2.0 / 30 ** 0.5, rel=0.1)


def test_bootstrap_interval_edge_cases_and_determinism(monkeypatch):
    groups = [[5.0], [2.0, 2.0, 2.0], [1.0, 2.0, 3.0], [], [0.0, 10.0]]
    lo, hi = stats.bootstrap_mean_ci(groups)
    assert (lo[0], hi[0]) == (5.0, 5.0) and (lo[1], hi[1]) == (2.0, 2.0)
    assert 1.0 <= lo[2] < 2.0 < hi[2] <= 3.0 and np.isnan(lo[3])
    assert (lo[4], hi[4]) == (0.0, 10.0)  # two values: the resampled means are 0, 5 and 10
    again = stats.bootstrap_mean_ci(groups)
    np.testing.assert_array_equal(lo, again[0])
    monkeypatch.setattr(stats, "CHUNK", 2000)  # one group per matrix product: the same intervals
    np.testing.assert_array_equal(hi, stats.bootstrap_mean_ci(groups)[1])
