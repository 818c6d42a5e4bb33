"""Reproduction reports: published numbers with their source beside measured ones, one verdict per cell."""
import pytest

from ganbench import store
from ganbench.bench import bench
from ganbench.errors import SpecError
from ganbench.reproduction import Published, parse, verdict
from ganbench.spec import load_suite

PAPER = Published("ring8", "ns", "modes", 6.0, "Table 1, row GAN", std=1.0, n=4)  # se 0.5


@pytest.mark.parametrize("mean,std,n,expected", [
    (6.8, 0.0, 3, "reproduced"),   # |0.8| <= 2 * hypot(0, 0.5)
    (7.2, 0.0, 3, "better"),       # 1.2 > 1.0, more modes is better
    (4.0, 1.0, 4, "worse"),        # 2.0 > 2 * hypot(0.5, 0.5) = 1.41
    (5.0, 1.0, 4, "reproduced"),   # 1.0 <= 1.41
])
def test_verdict_uses_the_combined_standard_error(mean, std, n, expected):
    assert verdict(mean, std, n, PAPER, higher=True) == expected


def test_without_any_spread_only_equality_reproduces():
    p = Published("grid25", "ns", "hq", 0.5, "Table 1")
    assert verdict(0.5, 0.0, 1, p, higher=True) == "reproduced"
    assert verdict(0.49, 0.0, 1, p, higher=True) == "worse"
    assert verdict(0.49, 0.0, 1, p, higher=False) == "better"


def test_a_published_number_needs_its_source():
    with pytest.raises(SpecError, match="needs dataset, method, metric, value, source"):
        parse({"citation": "x", "published": [{"dataset": "ring8", "method": "ns", "metric": "modes", "value": 3}]}, "s")
    with pytest.raises(SpecError, match="not a number"):
        parse({"citation": "x", "published": [{"dataset": "ring8", "method": "ns", "metric": "modes", "value": "many",
                                               "source": "T1"}]}, "s")


def test_bench_writes_the_report_with_published_and_measured_columns(tmp_path, tiny_mlp):
    suite = tmp_path / "repro.yaml"
    suite.write_text(f"""
name: repro
seeds: 2
base: {{dataset: ring8, steps: 30, batch_size: 64, eval_samples: 500, quality_every: 0, arch: mlp,
        arch_options: {tiny_mlp}}}
grid:
  loss: [ns]
reproduces:
  citation: Some et al. 2018, Table 1
  protocol: 10 runs of 400 epochs
  differences: [30 steps instead of 400 epochs]
  published:
    - {{dataset: ring8, method: ns, metric: modes, value: 8, std: 0, n: 10, source: "Table 1, row GAN"}}
    - {{dataset: ring8, method: ns, metric: hq, value: 0.9, source: "Table 1, row GAN"}}
    - {{dataset: grid25, method: ns, metric: modes, value: 25, source: "Table 1, row GAN"}}
""")
    assert load_suite(str(suite)).reproduces.citation == "Some et al. 2018, Table 1"
    assert bench(str(suite), tmp_path / "res", echo=lambda _: None) == 0
    md = (tmp_path / "res" / "repro" / "reproduction.md").read_text()
    assert "Target: Some et al. 2018, Table 1." in md and "- 30 steps instead of 400 epochs" in md
    rows = [[c.strip() for c in line.strip(" |").split("|")] for line in md.splitlines() if line.startswith("|")]
    assert rows[0] == ["data set", "method", "metric", "paper", "source", "ours", "seeds", "verdict"]
    cells = {(r[0], r[2]): r for r in rows[2:]}
    assert cells[("grid25", "modes")][5:] == ["", "0", "not run"]
    modes = cells[("ring8", "modes")]
    assert modes[3] == "8 ± 0 (n=10)" and modes[4] == "Table 1, row GAN" and " ± " in modes[5] and modes[6] == "2"
    assert modes[7] in ("reproduced", "better", "worse") and cells[("ring8", "hq")][3] == "0.9"
    leaderboard = (tmp_path / "res" / "repro" / "leaderboard.md").read_text()
    assert "Table 1" not in leaderboard  # published numbers never enter our own tables


def test_units_and_printed_standard_errors():
    (p,) = parse({"citation": "x", "published": [{"dataset": "ring8", "method": "GAN", "metric": "hq", "value": 98.2,
                                                  "se": 0.2, "n": 10, "unit": "%", "source": "T1"}]}, "s").published
    assert p.printed() == "98.2 % ± 0.2 (se, n=10)" and p.se == 0.2
    assert verdict(0.981, 0.0, 5, p, higher=True) == "reproduced"  # 98.1 % is 0.1 from 98.2, within 2 * 0.2
    assert verdict(0.97, 0.0, 5, p, higher=True) == "worse"
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
    assert rows.verdict[0] == "reproduced"  # |29 - 29.3| within 2 * 1/sqrt(3)
    assert rows.paper[1] == "not found" and rows.verdict[1] == "no published number" and rows.ours[1].startswith("20")
