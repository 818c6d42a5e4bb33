"""Aggregation on hand-made results whose means, spreads and deltas are known."""
import pytest

from ganbench import store
from ganbench.leaderboard import build_leaderboard, fmt_delta
from ganbench.spec import build_spec


def fake_run(root, tricks, seed, modes, hq):
    spec = build_spec({"dataset": "ring8", "loss": "ns", "tricks": tricks, "seed": seed})
    d = root / "runs" / spec.run_id
    d.mkdir(parents=True)
    store.write_json(d / store.SPEC, spec.to_json())
    store.write_json(d / store.METRICS, {
        "run_id": spec.run_id, "metrics": {"modes": modes, "hq": hq},
        "higher_is_better": {"modes": True, "hq": True}, "main_metric": "modes"})
    return spec.run_id


def test_means_ranks_and_deltas_against_the_trick_free_baseline(tmp_path):
    ids = [fake_run(tmp_path, [], 0, 4.0, 0.1), fake_run(tmp_path, [], 1, 6.0, 0.3),
           fake_run(tmp_path, ["sn"], 0, 8.0, 0.2), fake_run(tmp_path, ["sn"], 1, 8.0, 0.2),
           fake_run(tmp_path, ["ttur"], 0, 5.0, 0.1), fake_run(tmp_path, ["ttur"], 1, 4.0, 0.1)]
    agg, md = build_leaderboard(tmp_path, ids)
    row = agg[(agg.method == "ns+sn") & (agg.metric == "modes")].iloc[0]
    # delta = 8 - 5; se = sqrt(0^2/2 + sqrt(2)^2/2) = 1
    assert row["mean"] == 8 and row["rank"] == 1 and row["baseline"] == "ns"
    assert row["delta"] == pytest.approx(3.0) and row["delta_se"] == pytest.approx(1.0)
    assert "+3.00 ± 1.00 ▲" in md  # more than two standard errors better
    assert "-0.500 ± 1.118 |" in md  # ttur: worse, but within two standard errors: no mark
    base = agg[(agg.method == "ns") & (agg.metric == "modes")].iloc[0]
    assert base["std"] == pytest.approx(2 ** 0.5) and base["rank"] == 2 and "Change against the baseline" in md


def test_delta_format_marks_direction():
    assert fmt_delta(-3.0, 1.0, higher=False) == "-3.00 ± 1.00 ▲"  # lower FID is better
    assert fmt_delta(0.05, 0.01, higher=True) == "+0.050 ± 0.010 ▲"
    assert fmt_delta(float("nan"), 1.0, higher=True) == ""


def test_diverged_runs_are_counted_not_averaged(tmp_path):
    ids = [fake_run(tmp_path, [], 0, 4.0, 0.1), fake_run(tmp_path, [], 1, 6.0, 0.3),
           fake_run(tmp_path, ["sn"], 0, 8.0, 0.2), fake_run(tmp_path, ["sn"], 1, 8.0, 0.2),
           fake_run(tmp_path, ["ttur"], 0, 5.0, 0.1), fake_run(tmp_path, ["ttur"], 1, 5.0, 0.1)]
    for run_id in ids[3:]:  # sn seed 1 and both ttur seeds diverged: metrics.json without metrics
        p = tmp_path / "runs" / run_id / store.METRICS
        rec = store.read_json(p)
        rec.update(metrics={}, higher_is_better={}, main_metric=None, diverged_at=100)
        store.write_json(p, rec)
    agg, md = build_leaderboard(tmp_path, ids)
    sn = agg[(agg.method == "ns+sn") & (agg.metric == "modes")].iloc[0]
    assert sn["n"] == 1 and sn["mean"] == 8.0
    lines = {line.split("|")[2].strip(): line for line in md.splitlines() if line.startswith("|") and "ns" in line}
    cells = {m: [c.strip() for c in line.strip(" |").split("|")] for m, line in lines.items()}
    assert cells["ns+ttur"][2] == "0" and cells["ns+ttur"][-3:] == ["2 diverged", "100%", "100, 100"]  # listed, not averaged
    assert cells["ns+sn"][-3:] == ["1 ok, 1 diverged", "50%", "100"] and cells["ns"][-2:] == ["2 ok", "0%"]  # no failure step
    rate = agg[(agg.method == "ns+sn") & (agg.metric == "failure_rate")].iloc[0]
    assert rate["mean"] == 0.5 and rate["n"] == 2  # the failure rate is in leaderboard.csv as well


def test_a_diverging_run_records_it(tmp_path):
    from ganbench.runner import execute

    spec = build_spec({"dataset": "ring8", "loss": "ns", "steps": 200, "log_every": 10, "lr_g": 1e6, "lr_d": 1e6,
                       "optimizer": "sgd", "eval_samples": 200,
                       "arch_options": {"g_hidden": 8, "g_layers": 1, "d_hidden": 8, "d_layers": 1, "d_act": "lrelu"}})
    rec = execute(spec, tmp_path / "runs" / spec.run_id)
    assert rec["diverged_at"] is not None and rec["metrics"] == {} and rec["main_metric"] is None


def test_plots_skip_diverged_runs(tmp_path):
    from ganbench.plots import write_plots

    ids = [fake_run(tmp_path, [], 0, 4.0, 0.1), fake_run(tmp_path, ["sn"], 0, 8.0, 0.2)]
    p = tmp_path / "runs" / ids[1] / store.METRICS
    store.write_json(p, {**store.read_json(p), "metrics": {}, "higher_is_better": {}, "main_metric": None, "diverged_at": 5})
    assert {"metric_ring8.png", "samples_ring8.png"} <= {q.name for q in write_plots(tmp_path, ids)}


def test_values_of_different_protocols_never_share_a_column(tmp_path):
    """Two seeds scored on 2,500 samples and one on 10,000: their FIDs get separate columns, each protocol is stated
    in the header, and a sampling difference (EMA copy) is the method's business, not a new column."""
    ids = [fake_run(tmp_path, [], s, 8.0, 0.9) for s in range(3)]
    for s, run_id in enumerate(ids):
        p = tmp_path / "runs" / run_id / store.METRICS
        rec = store.read_json(p)
        n = 10000 if s == 2 else 2500
        rec["metrics"]["fd [coords]"] = 0.1 * (s + 1)
        rec["higher_is_better"]["fd [coords]"] = False
        rec["protocol"] = {"fd [coords]": {"features": "coords", "n_gen": n, "reference": "train",
                                           "generator": "ema" if s else "G"},
                           "modes": {"features": "none", "n_gen": 2500}, "hq": {"features": "none", "n_gen": 2500}}
        store.write_json(p, rec)
    agg, md = build_leaderboard(tmp_path, ids)
    fd = agg[agg.metric.str.startswith("fd")].set_index("metric")
    assert set(fd.index) == {"fd [coords, n_gen=2500]", "fd [coords, n_gen=10000]"}
    assert fd.loc["fd [coords, n_gen=2500]", "n"] == 2 and fd.loc["fd [coords, n_gen=10000]", "mean"] == pytest.approx(0.3)
    header = md.split("## ring8")[1].split("|")[0]
    assert "(coords: n_gen 2500, reference train)" in header and "(coords: n_gen 10000, reference train)" in header
    assert "generator" not in header
