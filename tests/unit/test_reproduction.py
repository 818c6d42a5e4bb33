"""Reproduction reports: published numbers with their source beside measured ones, one verdict per cell."""
import numpy as np
import pytest

from ganbench import store
from ganbench.errors import SpecError
from ganbench.reproduction import MarginRule, Published, verdict
from ganbench.spec.claims import parse
from ganbench.spec import load_suite
from helpers import REPO

PAPER = Published("ring8", "ns", "modes", 6.0, "Table 1, row GAN", std=0.3, n=9)  # se 0.1


@pytest.mark.parametrize("mean,std,n,expected", [
    # se = hypot(0.3/3, 0.1) = 0.1414, Welch df = 0.02^2 / (2 * 0.1^4 / 8) = 16: t(.95) 1.746, t(.975) 2.120
    (6.05, 0.3, 9, "reproduced"),        # 90% CI 0.05 ± 0.247 = [-0.197, 0.297], inside ±1
    (7.5, 0.3, 9, "differs (higher)"),   # 90% CI [1.25, 1.75] not inside ±1; 95% CI [1.20, 1.80] excludes 0
    (4.0, 0.3, 9, "differs (lower)"),    # the direction of the metric's value, whichever way is better
    (6.5, 3.0, 9, "inconclusive"),       # se 1.005: 90% CI [-1.3, 2.3] exceeds ±1, 95% CI contains 0
    (6.05, 0.0, 1, "inconclusive"),      # one seed: our spread is unknown, not zero
])
def test_verdict_is_an_equivalence_test_against_the_margin(mean, std, n, expected):
    assert verdict(mean, std, n, PAPER, margin=1.0) == expected


def test_cell_test_interval_and_degrees_of_freedom():
    from scipy import stats as st

    from ganbench.reproduction import cell_test

    t = cell_test(6.05, 0.3, 9, PAPER, 1.0)
    half = st.t.ppf(0.95, 16) * np.hypot(0.1, 0.1)
    assert t.diff == pytest.approx(0.05) and (t.lo, t.hi) == pytest.approx((0.05 - half, 0.05 + half), abs=1e-12)
    assert t.paper_spread and t.margin == 1.0
    # the paper gives a std but no run count: no standard error, only ours counts, df = seeds - 1
    bare = Published("ring8", "ns", "modes", 6.0, "Table 1", std=0.3)
    t = cell_test(6.05, 0.3, 9, bare, 1.0)
    assert not t.paper_spread and t.hi - t.diff == pytest.approx(st.t.ppf(0.95, 8) * 0.1, abs=1e-12)


def test_without_any_spread_only_ours_counts():
    from scipy import stats as st

    from ganbench.reproduction import cell_test

    p = Published("grid25", "ns", "hq", 0.5, "Table 1")
    assert MarginRule().of(p) == pytest.approx(0.05)  # max(10% of 0.5, hq's floor 0.02)
    t = cell_test(0.49, 0.01, 5, p, 0.05)  # 90% CI -0.01 ± t(.95, 4) 0.01/sqrt(5) = [-0.0195, -0.0005]
    assert (t.lo, t.hi) == pytest.approx((-0.01 - st.t.ppf(0.95, 4) * 0.01 / np.sqrt(5),
                                          -0.01 + st.t.ppf(0.95, 4) * 0.01 / np.sqrt(5)), abs=1e-12)
    assert t.verdict == "reproduced"
    assert verdict(0.49, 0.1, 5, p) == "inconclusive"  # 90% CI [-0.105, 0.085] exceeds ±0.05
    # seeds that all agree and a paper without spread: the difference is exact; inside the margin or not
    assert verdict(0.5, 0.0, 1, p) == "inconclusive" and verdict(0.49, 0.0, 3, p) == "reproduced"
    assert verdict(0.6, 0.0, 3, p) == "differs (higher)" and verdict(0.3, 0.0, 3, p) == "differs (lower)"


def test_margin_rule_entry_margins_and_suite_floors():
    rep = parse({"citation": "x", "margin": {"relative": 0.2, "floor": {"modes": 2}}, "published": [
        {"dataset": "d", "method": "m", "metric": "modes", "value": 7.9, "source": "T"},
        {"dataset": "d", "method": "m", "metric": "modes", "value": 24.8, "source": "T"},
        {"dataset": "d", "method": "m", "metric": "kl_modes", "value": 0.07, "source": "T"},
        {"dataset": "d", "method": "m", "metric": "hq", "value": 1.0, "unit": "%", "source": "T"},
        {"dataset": "d", "method": "m", "metric": "fid", "value": 30.0, "margin": 1.5, "source": "T"},
        {"dataset": "d", "method": "m", "metric": "fid", "value": 0.0, "source": "T"}]}, "s")
    margins = [rep.margin.of(p) for p in rep.published]
    # 20% of 7.9 < floor 2; 20% of 24.8; KL's default floor 0.05; hq's 0.02 is 2 in %; the entry's own; no floor
    assert margins == pytest.approx([2.0, 4.96, 0.05, 2.0, 1.5, 0.0])
    assert parse({"citation": "x", "published": []}, "s").margin == MarginRule()
    for bad in ({"relative": -0.1}, {"relative": "ten"}, {"floor": {"modes": -1}}, {"absolute": 1}, 0.1):
        with pytest.raises(SpecError, match="margin"):
            parse({"citation": "x", "published": [], "margin": bad}, "s")
    with pytest.raises(SpecError, match="negative margin"):
        parse({"citation": "x", "published": [{"dataset": "d", "method": "m", "metric": "hq", "value": 1,
                                               "margin": -1, "source": "T"}]}, "s")


def test_a_published_number_needs_its_source():
    with pytest.raises(SpecError, match="needs dataset, method, metric, value, source"):
        parse({"citation": "x", "published": [{"dataset": "ring8", "method": "ns", "metric": "modes", "value": 3}]}, "s")
    with pytest.raises(SpecError, match="not a number"):
        parse({"citation": "x", "published": [{"dataset": "ring8", "method": "ns", "metric": "modes", "value": "many",
                                               "source": "T1"}]}, "s")


def test_units_and_printed_standard_errors():
    (p,) = parse({"citation": "x", "published": [{"dataset": "ring8", "method": "GAN", "metric": "hq", "value": 98.2,
                                                  "se": 0.2, "n": 10, "unit": "%", "source": "T1"}]}, "s").published
    assert p.printed() == "98.2 % ± 0.2 (se, n=10)" and p.se == 0.2
    assert MarginRule().of(p) == pytest.approx(9.82)  # 10% of 98.2, in the paper's unit (%)
    # ours 98.1 % over 5 identical seeds: se 0.2 (the paper's), Welch df 9; 90% CI -0.1 ± 1.833 * 0.2
    assert verdict(0.981, 0.0, 5, p, margin=1.0) == "reproduced"  # [-0.47, 0.27] inside ±1 %
    assert verdict(0.97, 0.0, 5, p, margin=1.0) == "differs (lower)"  # [-1.57, -0.83]; 95% [-1.65, -0.75]
    assert verdict(0.97, 0.0, 5, p) == "reproduced"  # 1.2 % off is within the default 9.82 %
    with pytest.raises(SpecError, match="both std and se"):
        parse({"citation": "x", "published": [{"dataset": "d", "method": "m", "metric": "hq", "value": 1, "std": 1,
                                               "se": 1, "source": "T"}]}, "s")
    with pytest.raises(SpecError, match="unit 'percent'"):
        parse({"citation": "x", "published": [{"dataset": "d", "method": "m", "metric": "hq", "value": 1,
                                               "unit": "percent", "source": "T"}]}, "s")


def test_claims_count_the_seeds_that_meet_them():
    import pandas as pd

    from ganbench.reproduction import claim_rows

    rep = parse({"citation": "x", "published": [], "claims": [
        {"dataset": "ring8", "method": "U", "metric": "modes", "op": "==", "value": 8, "source": "Fig. 1"},
        {"dataset": "ring8", "method": "G", "metric": "modes", "op": "<", "value": 8, "source": "Fig. 1"},
        {"dataset": "ring8", "method": "X", "metric": "modes", "op": ">=", "value": 1, "source": "Fig. 1"}]}, "s")
    runs = pd.DataFrame({"dataset": ["ring8"] * 5, "method": ["U", "U", "U", "G", "G"], "seed": [0, 1, 2, 0, 1],
                         "modes": [8, 8, 8, 8, 2]})
    rows = claim_rows(rep, runs)
    assert rows.verdict.tolist() == ["holds (3/3 seeds)", "mixed (1/2 seeds)", "not run"]
    assert rows["ours (per seed)"].tolist() == ["8, 8, 8", "8, 2", ""]
    with pytest.raises(SpecError, match="each claim needs"):
        parse({"citation": "x", "published": [], "claims": [{"dataset": "d", "method": "m", "metric": "modes",
                                                               "op": "~", "value": 1, "source": "F"}]}, "s")


def test_a_cheaper_scale_is_labelled_with_its_differences():
    full, cpu = load_suite("veegan-pacgan-2d").reproduces, load_suite("veegan-pacgan-2d", scale="cpu").reproduces
    assert full.variant == "" and cpu.variant.startswith("cpu (")
    assert len(cpu.differences) == len(full.differences) + 1 and "3,000 updates" in cpu.differences[-1]


def test_a_best_over_settings_meets_the_best_of_our_variants_and_missing_numbers_stay_empty():
    import pandas as pd

    from ganbench.reproduction import report_rows

    rep = parse({"citation": "x", "published": [
        {"dataset": "cifar10", "method": "SN-GANs", "metric": "fid@miyato2018", "value": 29.3, "source": "Table 2"},
        {"dataset": "cifar10", "method": "NS GAN", "metric": "fid@lucic2018", "value": None, "source": "not found"}]}, "s")
    agg = pd.DataFrame({"dataset": ["cifar10"] * 3, "method": ["SN-GANs [A]", "SN-GANs [B]", "NS GAN"],
                        "metric": ["fid@miyato2018 [x]", "fid@miyato2018 [x]", "fid@lucic2018 [x]"],
                        "mean": [40.0, 29.0, 20.0], "std": [1.0, 1.0, 1.0], "n": [3, 3, 3],
                        "higher_is_better": [False, False, False]})
    rows = report_rows(rep, agg)
    assert rows.ours[0].endswith("(best: SN-GANs [B])") and rows.ours[0].startswith("29 ")
    # -0.3 ± t(.95, 2) 1/sqrt(3) = [-1.99, 1.39], inside ±2.93 (10% of 29.3)
    assert rows.verdict[0] == "reproduced" and rows["90% CI"][0] == "[-1.99, 1.39] (ours only)"
    assert rows.margin[0] == "2.93"
    assert rows.paper[1] == "not found" and rows.verdict[1] == "no published number" and rows.ours[1].startswith("20")


def aggregate(rows):
    """A leaderboard.csv-like long table from (dataset, method, metric, mean, std, n)."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=["dataset", "method", "metric", "mean", "std", "n"])
    return df.assign(higher_is_better=True)


def test_comparative_claims_effect_size_interval_and_verdict():
    from scipy import stats as st

    from ganbench import stats
    from ganbench.reproduction import comparison_rows

    rep = parse({"citation": "x", "published": [], "claims": [
        {"claim": "packing increases modes", "dataset": "smnist", "metric": "modes", "higher": "Pac2", "than": "DC",
         "source": "Table 2"},
        {"claim": "packing lowers KL", "dataset": "smnist", "metric": "kl", "lower": "Pac2", "than": "DC",
         "source": "Table 2"},
        {"claim": "packing lowers modes", "dataset": "smnist", "metric": "modes", "lower": "Pac2", "than": "DC",
         "source": "made up"},
        {"claim": "same KL", "dataset": "smnist", "metric": "kl", "same": "Pac3", "as": "Pac2", "margin": 0.5,
         "source": "made up"},
        {"claim": "x", "dataset": "smnist", "metric": "modes", "higher": "Pac9", "than": "DC", "source": "none"},
        {"dataset": "smnist", "method": "DC", "metric": "modes", "op": "<", "value": 1000, "source": "Fig"}]}, "s")
    assert len(rep.comparisons) == 5 and len(rep.claims) == 1 and rep.comparisons[3].margin == 0.5
    agg = aggregate([("smnist", "Pac2", "modes", 990.0, 10.0, 10), ("smnist", "DC", "modes", 80.0, 20.0, 10),
                     ("smnist", "Pac2", "kl", 0.1, 0.05, 10), ("smnist", "DC", "kl", 0.2, 0.5, 10),
                     ("smnist", "Pac3", "kl", 0.12, 0.05, 10)])
    rows = comparison_rows(rep, agg)
    assert rows.verdict.tolist() == ["supported", "inconclusive", "contradicted", "supported", "not run"]
    # modes: 910 ± t(.975, Welch df) sqrt(100/10 + 400/10); g = J(18) 910 / sqrt((100 + 400)/2)
    se = np.sqrt(50.0)
    df = 50.0 ** 2 / ((10.0 ** 2 + 40.0 ** 2) / 9)
    assert rows["95% CI"][0] == f"[{910 - st.t.ppf(0.975, df) * se:.3g}, {910 + st.t.ppf(0.975, df) * se:.3g}]"
    g = 910 / np.sqrt(250.0) * stats.hedges_j(18)
    assert float(rows["Hedges' g"][0]) == pytest.approx(g, rel=2e-3) and rows["A − B"][0] == "910"
    assert rows.tested[0] == "Pac2 > DC" and rows.tested[1] == "Pac2 < DC"
    assert rows.tested[3].startswith("Pac3 ≈ Pac2 (±0.5; 90% CI [")
    assert rows.A[0] == "990 ± 10 (10)" and rows.B[4] == "80 ± 20 (10)" and rows.A[4] == ""
    # one seed a side: no interval, inconclusive; seeds that all agree on equal values: a claim of more is contradicted
    one = aggregate([("smnist", "Pac2", "modes", 990.0, 0.0, 1), ("smnist", "DC", "modes", 80.0, 0.0, 1)])
    assert comparison_rows(rep, one).verdict[0] == "inconclusive" and comparison_rows(rep, one)["95% CI"][0] == "n/a"
    tie = aggregate([("smnist", "Pac2", "modes", 8.0, 0.0, 3), ("smnist", "DC", "modes", 8.0, 0.0, 3)])
    assert comparison_rows(rep, tie).verdict[0] == "contradicted"


def test_comparative_claims_are_checked():
    for bad in ({"claim": "c", "dataset": "d", "metric": "m", "higher": "A", "source": "s"},  # no `than`
                {"claim": "c", "dataset": "d", "metric": "m", "higher": "A", "lower": "B", "than": "C", "source": "s"},
                {"claim": "c", "dataset": "d", "metric": "m", "higher": "A", "than": "B", "source": "s", "margin": 1},
                {"claim": "c", "dataset": "d", "metric": "m", "same": "A", "as": "B"}):
        with pytest.raises(SpecError, match="comparative claim needs"):
            parse({"citation": "x", "published": [], "claims": [bad]}, "s")
    with pytest.raises(SpecError, match="claim margin"):
        parse({"citation": "x", "published": [], "claims": [
            {"claim": "c", "dataset": "d", "metric": "m", "same": "A", "as": "B", "margin": -1, "source": "s"}]}, "s")


def test_two_papers_that_disagree_on_a_cell_are_said_to():
    from ganbench.reproduction import papers_rows, report_rows

    rep = parse({"citation": "x", "published": [
        {"dataset": "smnist", "method": "DCGAN", "metric": "modes", "value": 78.9, "se": 6.46, "n": 10, "source": "P"},
        {"dataset": "smnist", "method": "DCGAN", "metric": "modes", "value": 99, "n": 5, "source": "V"},
        {"dataset": "ring8", "method": "GAN", "metric": "hq", "value": 98.2, "se": 0.2, "n": 10, "unit": "%",
         "source": "P"},
        {"dataset": "ring8", "method": "GAN", "metric": "hq", "value": 99.3, "n": 5, "unit": "%", "source": "V"},
        {"dataset": "ring8", "method": "GAN", "metric": "modes", "value": 6.3, "se": 1.5, "n": 10, "source": "P"},
        {"dataset": "ring8", "method": "GAN", "metric": "modes", "value": 7.0, "n": 5, "source": "V"},
        {"dataset": "ring8", "method": "GAN", "metric": "kl_modes", "value": 0.45, "source": "P"}]}, "s")
    pairs = papers_rows(rep)
    # -20.1 with se 6.46 (9 df): the 95% CI excludes 0; -1.1 % with se 0.2 inside ±9.93 % (10% of 99.3);
    # -0.7 with se 1.5: the 90% CI [-3.45, 2.05] exceeds ±1 mode, the 95% CI holds 0
    assert pairs.papers.tolist() == ["disagree", "agree", "not shown to agree"]
    assert pairs["A − B"].tolist() == ["-20.1", "-1.1 %", "-0.7"] and pairs.margin.tolist() == ["9.9", "9.93 %", "1"]
    rows = report_rows(rep, aggregate([("ring8", "GAN", "kl_modes", 0.5, 0.1, 5)]))
    assert rows.papers.tolist() == ["disagree", "disagree", "agree", "agree", "not shown to agree",
                                    "not shown to agree", ""]
    assert "papers" not in report_rows(parse({"citation": "x", "published": rep.published and [
        {"dataset": "d", "method": "m", "metric": "hq", "value": 1, "source": "P"}]}, "s"), None)


def test_the_report_leads_with_the_claims():
    from ganbench.reproduction import report

    rep = parse({"citation": "x", "protocol": "p", "differences": ["d"], "published": [
        {"dataset": "ring8", "method": "A", "metric": "modes", "value": 8, "source": "T"}], "claims": [
        {"claim": "A beats B", "dataset": "ring8", "metric": "modes", "higher": "A", "than": "B", "source": "T"}]}, "s")
    md = report(rep, aggregate([("ring8", "A", "modes", 8.0, 0.0, 3), ("ring8", "B", "modes", 6.0, 1.0, 3)]), "s")
    assert md.index("## Claims") < md.index("## Published numbers") < md.index("## Protocol")
    assert "| A beats B " in md and "Verdicts: 1 reproduced." in md


def test_a_committed_report_is_re_rendered_from_its_leaderboard_csv(tmp_path):
    from ganbench.reproduction import render_committed, rerender

    rep = parse({"citation": "x", "published": [
        {"dataset": "ring8", "method": "GAN", "metric": "modes", "value": 7.9, "se": 0.1, "n": 10, "source": "T"}],
        "claims": [
        {"dataset": "ring8", "method": "U", "metric": "modes", "op": "==", "value": 8, "source": "Fig. 1"},
        {"dataset": "ring8", "method": "GAN", "metric": "modes", "op": "<", "value": 8, "source": "Fig. 1"},
        {"claim": "U covers more", "dataset": "ring8", "metric": "modes", "higher": "U", "than": "GAN",
         "source": "F"}]}, "s")
    suite = tmp_path / "ring-cpu"
    suite.mkdir()
    aggregate([("ring8", "GAN", "modes", 8.0, 0.0, 5), ("ring8", "U", "modes", 8.0, 0.0, 3),
               ("ring8", "GAN", "fd [coords]", 0.1, 0.01, 5)]).to_csv(suite / "leaderboard.csv", index=False)
    md = render_committed(rep, suite)  # no previous report: the per-run criteria cannot be counted
    assert md.count("per-seed values not committed") == 2 and "| supported" not in md
    assert "| ring8      | GAN      | modes    | 7.9 ± 0.1 (se, n=10) |" in md and "reproduced" in md
    (suite / "reproduction.md").write_text(
        "| data set | method | claim | source | ours (per seed) | verdict |\n|:--|:--|:--|:--|:--|:--|\n"
        "| ring8 | U | modes == 8 | Fig. 1 | 8, 8, 8 | holds (3/3 seeds) |\n"
        "| ring8 | GAN | modes < 8 | Fig. 1 | 8, 7, 8, 8, 8 | mixed (1/5 seeds) |\n")
    path = rerender(rep, suite)
    again = path.read_text()
    assert "holds (3/3 seeds)" in again and "mixed (1/5 seeds)" in again and "per-seed values as the previous" not in again
    assert rerender(rep, suite).read_text() == again  # a report printed from its runs re-renders to itself
    (suite / "reproduction.md").write_text(again.replace("mixed: some):", "mixed: some) (per-seed values as the previous "
                                                          "report printed them; the runs are not committed):"))
    carried = rerender(rep, suite).read_text()  # values an earlier report carried over keep saying so
    assert "per-seed values as the previous" in carried and rerender(rep, suite).read_text() == carried


def test_the_committed_reports_re_render():
    """results/veegan-pacgan-2d-cpu and results/unrolled-ring: every cell and claim gets a verdict from the committed
    leaderboard.csv; PacGAN's and VEEGAN's GAN rows are flagged where they disagree."""
    from ganbench.reproduction import papers_rows, render_committed

    results = REPO / "results"
    rep = load_suite("veegan-pacgan-2d", scale="cpu").reproduces
    md = render_committed(rep, results / "veegan-pacgan-2d-cpu")
    assert "not run" not in md and md.index("## Claims") < md.index("## Published numbers")
    assert papers_rows(rep).papers.tolist().count("disagree") >= 3  # ring and grid modes: 6.3 vs 1, 17.3 vs 3.3
    ring = load_suite("unrolled-ring").reproduces
    md = render_committed(ring, results / "unrolled-ring")
    assert "holds (3/3 seeds)" in md and "per-seed values not committed" not in md
