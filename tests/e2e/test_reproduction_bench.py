"""Reproduction suites through `bench`: a hand-made one writes reproduction.md with the published and the measured
columns, and every shipped reproduction suite (a suite with a `reproduces` section) runs its smoke scale end to end
and writes its report; every published number names its source."""
import pytest

from ganbench.bench import bench
from ganbench.spec import load_suite
from helpers import REPRODUCTIONS


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
    assert rows[0] == ["data set", "method", "metric", "paper", "source", "ours", "seeds", "ours − paper", "90% CI",
                       "margin", "verdict"]
    cells = {(r[0], r[2]): r for r in rows[2:]}
    assert cells[("grid25", "modes")][5:] == ["", "0", "", "", "2.5", "not run"]  # 10% of 25 modes
    modes = cells[("ring8", "modes")]
    assert modes[3] == "8 ± 0 (n=10)" and modes[4] == "Table 1, row GAN" and " ± " in modes[5] and modes[6] == "2"
    assert modes[9] == "1" and modes[10] in ("reproduced", "differs (higher)", "differs (lower)", "inconclusive")
    assert float(modes[7]) == pytest.approx(float(modes[5].split(" ± ")[0]) - 8, abs=0.01)
    assert cells[("ring8", "hq")][3] == "0.9" and cells[("ring8", "hq")][8].endswith("(ours only)")
    assert md.index("## Published numbers") < md.index("## Protocol")
    leaderboard = (tmp_path / "res" / "repro" / "leaderboard.md").read_text()
    assert "Table 1" not in leaderboard  # published numbers never enter our own tables


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip(" |").split("|")]


def table(md: str, *header: str) -> list[list[str]]:
    """The rows (header first) of the Markdown table whose header begins with the cells `header`."""
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|") and cells(line)[: len(header)] == list(header))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(cells(line))
    return [rows[0]] + rows[2:]


@pytest.mark.parametrize("name", REPRODUCTIONS)
@pytest.mark.slow(seconds=93)
def test_reproduction_suite_smoke_writes_its_report(name, tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_FEATURES", "ganbench-mnist")  # image sets: the offline stand-in for Inception
    rep = load_suite(name).reproduces
    assert rep.citation and rep.protocol and rep.differences and (rep.published or rep.claims)
    assert all(p.source for p in rep.published) and all(c.source for c in rep.claims + rep.comparisons)
    suite = load_suite(name, scale="smoke")
    lines = []
    assert bench(name, tmp_path, scale="smoke", echo=lines.append) == 0, lines
    md = (tmp_path / f"{name}-smoke" / "reproduction.md").read_text()
    assert md.startswith(f"# Reproduction: {name}-smoke") and "Variant: smoke (" in md
    ours = {(s.dataset, s.method) for s in suite.expand()}
    if rep.published:
        rows = table(md, "data set", "method", "metric", "paper")
        assert rows[0][:11] == ["data set", "method", "metric", "paper", "source", "ours", "seeds", "ours − paper",
                                "90% CI", "margin", "verdict"]
        assert len(rows) - 1 == len(rep.published)
        for r in rows[1:]:
            measured = any(d == r[0] and (m == r[1] or m.startswith(f"{r[1]} [")) for d, m in ours)
            assert r[3] and r[4]  # the paper's number and its source
            assert r[9] != "" or r[3] == "not found"  # every published number has its margin
            # one seed per cell at the smoke scale: our spread is unknown, so no cell is called reproduced or different
            verdicts = ("no published number",) if r[3] == "not found" else ("inconclusive",)
            assert (r[5] != "" and r[6] == "1" and r[10] in verdicts) if measured else r[10] == "not run"
        assert any(r[10] != "not run" for r in rows[1:])  # the smoke cells meet the published rows
    if rep.claims:
        rows = table(md, "data set", "method", "claim")
        assert len(rows) - 1 == len(rep.claims) and all("1 seeds)" in r[-1] for r in rows[1:])
    if rep.comparisons:
        rows = table(md, "claim", "data set", "metric", "tested")
        assert len(rows) - 1 == len(rep.comparisons) and all(r[-1] for r in rows[1:])  # every claim's source
        measured = [any(d == r[1] and m == a for d, m in ours) and any(d == r[1] and m == b for d, m in ours)
                    for r, (a, b) in zip(rows[1:], [(c.a, c.b) for c in rep.comparisons])]
        assert [r[9] for r in rows[1:]] == ["inconclusive" if m else "not run" for m in measured]  # one seed
        assert any(measured) and md.index("## Claims") < md.index("## Published numbers" if rep.published else "## Protocol")
    if name == "unrolled-ring":
        assert (tmp_path / f"{name}-smoke" / "plots" / "trajectory_ring8.png").exists()
