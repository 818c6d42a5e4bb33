"""Every reproduction suite (a suite with a `reproduces` section): its smoke scale runs end to end and writes
reproduction.md with the published and the measured columns; every published number names its source."""
from pathlib import Path

import pytest
import yaml

from ganbench.bench import bench
from ganbench.spec import load_suite

SUITES_DIR = Path(__file__).resolve().parents[1] / "suites"
REPRODUCTIONS = sorted(p.stem for p in SUITES_DIR.glob("*.yaml") if "reproduces" in yaml.safe_load(p.read_text()))


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


def test_the_reproductions_of_issue_6_exist():
    assert {"veegan-pacgan-2d", "unrolled-ring"} <= set(REPRODUCTIONS)
    assert len(REPRODUCTIONS) >= 7


@pytest.mark.parametrize("name", REPRODUCTIONS)
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


def test_a_scale_may_leave_out_cells_that_repeat_others_code():
    """sngan-cifar10's smoke scale keeps one n_dis=1 and one n_dis=5 setting of each of its 7 methods."""
    full = load_suite("sngan-cifar10")
    smoke = load_suite("sngan-cifar10", scale="smoke")
    assert len(full.cells()) == 42 and len(smoke.cells()) == 14
    assert {c["method"][-3:] for c in smoke.cells()} == {"[A]", "[B]"}
