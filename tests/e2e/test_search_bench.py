"""Searched suites through `bench`: a tiny search records each run's sample and gives a budget curve, and the
budget-digits suite's smoke scale writes its budget table and figure while its leaderboard keeps the defaults only."""
import math

import pytest

from ganbench import store


def test_search_runs_record_their_sample(tmp_path):
    """A search suite runs end to end and every run's stored spec names its sample (what the leaderboard groups
    by); the budget curve is computed from those records."""
    from ganbench.bench import bench
    from ganbench.budget import write_budget

    p = tmp_path / "tiny.yaml"
    p.write_text("""
seeds: 1
base: {steps: 6, eval_samples: 64, batch_size: 32, log_every: 3, quality_every: 0,
       arch_options: {g_hidden: 16, g_layers: 1, d_hidden: 16, d_layers: 1}}
grid: {dataset: [ring8], loss: [ns, ls]}
search: {samples: 3, space: {lr_g: {log_uniform: [1.0e-4, 1.0e-2]}}, tie: {lr_d: lr_g}}
""")
    lines = []
    assert bench(str(p), tmp_path / "results", workers=1, echo=lines.append) == 0, lines
    root = tmp_path / "results" / "tiny"
    rows = []
    for path, spec, rec in store.iter_runs(root):
        rows.append({"dataset": spec["dataset"], "method": spec["method"], "seed": spec["seed"],
                     "hp_sample": spec.get("hp_sample") or 0, **rec["metrics"]})
        main, higher = rec["main_metric"], rec["higher_is_better"]
    assert sorted((r["method"], r["hp_sample"]) for r in rows) == [(m, i) for m in ("ls", "ns") for i in range(3)]
    import pandas as pd

    df = pd.DataFrame(rows)
    written = write_budget(root, df, higher, {"ring8": main})
    assert [w.name for w in written] == ["budget.csv", "budget.md", "budget_ring8.png"]
    md = (root / "budget.md").read_text()
    assert "| method" in md and "k=1" in md and "k=3" in md and math.isfinite(df[main].mean())


@pytest.mark.slow(seconds=73)
def test_budget_digits_smoke_writes_the_budget_curve_and_keeps_searched_runs_off_the_leaderboard(tmp_path):
    """`ganbench bench budget-digits --scale smoke` end to end: 4 formulations x 2 settings (the defaults and one
    draw), the budget table and figure from all 8 runs, the leaderboard from the 4 default runs only."""
    from ganbench.bench import bench

    lines = []
    assert bench("budget-digits", tmp_path, workers=1, scale="smoke", echo=lines.append) == 0, lines
    root = tmp_path / "budget-digits-smoke"
    runs = sorted(p.name for p in (root / "runs").iterdir())
    assert len(runs) == 8 and sum("-h1-" in r for r in runs) == 4
    md = (root / "budget.md").read_text()
    for method in ("NS GAN", "LSGAN", "Hinge GAN", "WGAN GP"):
        assert method in md
    assert "k=1" in md and "k=2" in md and (root / "plots" / "budget_digits.png").stat().st_size > 0
    board = (root / "leaderboard.csv").read_text().splitlines()
    n = board[0].split(",").index("n")
    assert {line.split(",")[n] for line in board[1:]} == {"1"}  # one seed of the defaults, no searched sample
    assert "Change against the baseline" in (root / "leaderboard.md").read_text()  # against NS GAN
