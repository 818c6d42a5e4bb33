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


# Equivalence (TOST), Welch intervals and Hedges' g: the reproduction reports' tests, against known answers.

def test_tost_p_values_equal_the_t_tail_probabilities():
    """p_lower = P(T_df >= (d + m)/se), p_upper = P(T_df <= (d - m)/se), computed by hand from scipy's t."""
    for d, se, df, m in [(0.3, 0.2, 7.3, 0.5), (-1.2, 0.4, 3, 1.0), (0.0, 1.0, 30, 0.1), (2.0, 0.5, 12.7, 1.5)]:
        got = stats.tost(d, se, df, m)
        assert got.p_lower == pytest.approx(st.t.sf((d + m) / se, df), abs=1e-10)
        assert got.p_upper == pytest.approx(st.t.cdf((d - m) / se, df), abs=1e-10)
        assert got.p == max(got.p_lower, got.p_upper)
    # a worked case: d = 0.3, se = 0.2, df = 7.3, m = 0.5: t = 4 and -1 (P(T <= -1) at 7.3 df is about 0.175)
    assert stats.tost(0.3, 0.2, 7.3, 0.5).p == pytest.approx(0.1748, abs=5e-4)


def test_tost_equals_two_one_sided_welch_tests_on_shifted_samples():
    """An independent route: H0 diff <= -m is Welch's one-sided test of (a + m) against b (scipy.stats.ttest_ind)."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        a, b, m = rng.normal(0.3, 1.0, size=7), rng.normal(0.0, 2.0, size=11), float(rng.uniform(0.1, 2))
        sa, sb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        se, df = np.sqrt(sa + sb), stats.welch_df(np.sqrt(sa), len(a), np.sqrt(sb), len(b))
        got = stats.tost(a.mean() - b.mean(), se, df, m)
        assert got.p_lower == pytest.approx(st.ttest_ind(a + m, b, equal_var=False, alternative="greater").pvalue,
                                            abs=1e-10)
        assert got.p_upper == pytest.approx(st.ttest_ind(a - m, b, equal_var=False, alternative="less").pvalue,
                                            abs=1e-10)


def test_welch_df_and_interval_match_the_reference():
    # equal standard errors and sizes: (2 s^2)^2 / (2 s^4 / (n - 1)) = 2 (n - 1)
    assert stats.welch_df(0.3, 5, 0.3, 5) == pytest.approx(8.0)
    assert stats.welch_df(0.0, 5, 0.2, 10) == pytest.approx(9.0)  # one side exact: the other side's n - 1
    assert np.isnan(stats.welch_df(0.0, 5, 0.0, 5)) and np.isnan(stats.welch_df(1.0, 1, 1.0, 5))
    rng = np.random.default_rng(6)
    a, b = rng.normal(1.0, 1.0, size=6), rng.normal(0.0, 3.0, size=9)
    diff, lo, hi = stats.welch_ci(a.mean(), a.std(ddof=1), 6, b.mean(), b.std(ddof=1), 9)
    ref = st.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert diff == pytest.approx(a.mean() - b.mean()) and (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-10)
    assert stats.t_interval(1.0, 0.5, 10, 0.9) == pytest.approx((1 - 1.812461 * 0.5, 1 + 1.812461 * 0.5), abs=1e-6)
    assert stats.t_interval(1.0, 0.0, np.nan) == (1.0, 1.0)  # no spread: the difference itself
    assert np.isnan(stats.welch_ci(1.0, 0.0, 1, 0.0, 0.0, 1)[1])  # one value a side: unknown spread, no interval


def test_tost_is_the_90_percent_interval_inside_the_margin():
    rng = np.random.default_rng(7)
    for _ in range(500):
        d, se, df, m = rng.normal(0, 1), rng.uniform(0.05, 1), rng.uniform(2, 40), rng.uniform(0, 2)
        lo, hi = stats.t_interval(d, se, df, 0.90)
        assert (stats.tost(d, se, df, m).p < 0.05) == (-m < lo and hi < m)


def test_equivalence_verdicts_on_cases_with_known_answers():
    rng = np.random.default_rng(8)
    same = rng.normal(10.0, 0.01, size=1000)  # n = 1000, tiny spread, difference 0 by construction
    d, lo, hi = stats.welch_ci(same.mean(), same.std(ddof=1), 1000, 10.0, 0.01, 1000)
    se = np.hypot(same.std(ddof=1), 0.01) / np.sqrt(1000)
    assert stats.equivalence(d, se, 1998, margin=0.01) == "equivalent"
    assert stats.equivalence(3.0, 0.1, 9, margin=0.5) == "higher"   # far above: t = 30
    assert stats.equivalence(-3.0, 0.1, 9, margin=0.5) == "lower"
    assert stats.equivalence(0.2, 5.0, 4, margin=0.5) == "inconclusive"  # huge spread: neither test rejects
    # significant but inside the margin: equivalence takes precedence (the margin says it does not matter)
    assert stats.t_test_p(0.1, 0.01, 50) < 1e-10 and stats.equivalence(0.1, 0.01, 50, margin=0.5) == "equivalent"
    # no spread at all: the difference is exact, equivalent iff strictly inside the margin
    assert stats.equivalence(0.4, 0.0, np.nan, 0.5) == "equivalent"
    assert stats.equivalence(0.5, 0.0, np.nan, 0.5) == "higher"
    assert stats.equivalence(0.0, 0.0, np.nan, 0.0) == "inconclusive"  # margin 0: equivalence can never be shown


def test_verdicts_partition_as_the_margin_grows():
    """With the data fixed, growing the margin only ever turns a verdict into 'equivalent', exactly once the 90%
    interval fits inside it; below that the verdict is the margin-free two-sided test's."""
    rng = np.random.default_rng(9)
    for _ in range(200):
        d, se, df = rng.normal(0, 2), rng.uniform(0.05, 1.5), rng.uniform(2, 30)
        lo, hi = stats.t_interval(d, se, df, 0.90)
        threshold = max(abs(lo), abs(hi))
        p = stats.t_test_p(d, se, df)
        below = "inconclusive" if p >= 0.05 else "higher" if d > 0 else "lower"
        verdicts = [stats.equivalence(d, se, df, m) for m in np.linspace(0, 2 * threshold + 1, 60)]
        flips = [i for i in range(1, len(verdicts)) if verdicts[i] != verdicts[i - 1]]
        assert len(flips) <= 1 and verdicts[-1] == "equivalent"
        assert all(v == below for v in verdicts[: flips[0] if flips else 0])
        assert stats.equivalence(d, se, df, threshold * 0.999) == below
        assert stats.equivalence(d, se, df, threshold * 1.001) == "equivalent"


def test_hedges_g_on_a_textbook_example():
    """Borenstein, Hedges, Higgins & Rothstein (2009), Introduction to Meta-Analysis, ch. 4: means 103 and 100, SDs
    5.5 and 4.5, n = 50 each: S_within = 5.0249, d = 0.5970, J = 0.9923, g = 0.5924."""
    assert stats.hedges_g(103, 5.5, 50, 100, 4.5, 50) == pytest.approx(0.5924, abs=5e-5)
    assert stats.hedges_g(100, 4.5, 50, 103, 5.5, 50) == pytest.approx(-0.5924, abs=5e-5)
    assert stats.hedges_j(98) == pytest.approx(1 - 3 / (4 * 98 - 1), abs=1e-5)


def test_hedges_correction_closed_forms_and_edge_cases():
    # J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)) in closed form: J(2) = Gamma(1) / Gamma(1/2) = 1/sqrt(pi),
    # J(4) = Gamma(2) / (sqrt(2) Gamma(3/2)) = sqrt(2/pi); J(10) = 0.9228 (the approximation 1 - 3/39 gives 0.9231)
    assert stats.hedges_j(2) == pytest.approx(1 / np.sqrt(np.pi), abs=1e-12)
    assert stats.hedges_j(4) == pytest.approx(np.sqrt(2 / np.pi), abs=1e-12)
    assert stats.hedges_j(10) == pytest.approx(0.9228, abs=1e-4)
    # three seeds against three: d = 1 / 1 = 1, g = J(4) d
    assert stats.hedges_g(2.0, 1.0, 3, 1.0, 1.0, 3) == pytest.approx(np.sqrt(2 / np.pi), abs=1e-12)
    assert stats.hedges_g(8.0, 0.0, 3, 7.0, 0.0, 3) == np.inf and np.isnan(stats.hedges_g(8.0, 0.0, 3, 8.0, 0.0, 3))
    assert np.isnan(stats.hedges_g(1.0, 0.0, 1, 0.0, 1.0, 2))
