"""Aggregation on hand-made results whose means, spreads and deltas are known."""
import pandas as pd
import pytest

from ganbench import store
from ganbench.leaderboard import build_leaderboard, build_report, fmt_delta
from ganbench.spec import build_spec
from helpers import fake_run


def test_means_ranks_and_deltas_against_the_trick_free_baseline(tmp_path):
    from scipy import stats as st

    modes = {(): [4.0, 5.0, 6.0], ("sn",): [8.0, 9.0, 10.0], ("ttur",): [5.0, 6.0, 7.0]}
    ids = [fake_run(tmp_path, list(t), s, v, 0.1 * (s + 1)) for t, vs in modes.items() for s, v in enumerate(vs)]
    agg, md = build_leaderboard(tmp_path, ids)
    rows = agg[agg.metric == "modes"].set_index("method")
    sn, ttur, base = rows.loc["ns+sn"], rows.loc["ns+ttur"], rows.loc["ns"]
    assert sn["mean"] == 9 and sn["rank"] == 1 and sn["baseline"] == "ns" and sn["median"] == 9
    # delta = 9 - 5; se = sqrt(1/3 + 1/3)
    assert sn["delta"] == pytest.approx(4.0) and sn["delta_se"] == pytest.approx((2 / 3) ** 0.5)
    p_sn = st.ttest_ind(modes[("sn",)], modes[()], equal_var=False).pvalue
    p_ttur = st.ttest_ind(modes[("ttur",)], modes[()], equal_var=False).pvalue
    assert sn["p"] == pytest.approx(p_sn) and ttur["p"] == pytest.approx(p_ttur)
    # Holm over the two comparisons on (ring8, modes): the smaller p doubled, the larger one kept (running max)
    assert sn["p_holm"] == pytest.approx(2 * p_sn) and ttur["p_holm"] == pytest.approx(max(2 * p_sn, p_ttur))
    assert sn["significant"] and not ttur["significant"] and pd.isna(base["p"])
    assert "+4.00 ± 0.82 ▲" in md  # significant after Holm's correction
    assert "+1.00 ± 0.82" in md and "+1.00 ± 0.82 ▲" not in md and "+1.00 ± 0.82 △" not in md  # within 2 se
    assert base["std"] == pytest.approx(1.0) and base["rank"] == 3 and "Change against the baseline" in md
    assert base["ci_lo"] >= 4.0 and base["ci_hi"] <= 6.0 and base["ci_lo"] < 5.0 < base["ci_hi"]


def test_a_suite_baseline_compares_methods_without_tricks(tmp_path):
    """Methods that differ in loss have no trick-free twin; a declared baseline method is compared with each."""
    from ganbench.leaderboard import Options

    ids = []
    for loss, vals in (("ns", [4.0, 5.0, 6.0]), ("ls", [7.0, 8.0, 9.0])):
        for s, v in enumerate(vals):
            spec = build_spec({"dataset": "ring8", "loss": loss, "seed": s})
            d = tmp_path / "runs" / spec.run_id
            d.mkdir(parents=True)
            store.write_json(d / store.SPEC, spec.to_json())
            store.write_json(d / store.METRICS, {"run_id": spec.run_id, "metrics": {"modes": v},
                                                 "higher_is_better": {"modes": True}, "main_metric": "modes"})
            ids.append(spec.run_id)
    agg, md = build_leaderboard(tmp_path, ids)
    assert "baseline" not in agg and "Change against the baseline" not in md
    agg, md = build_leaderboard(tmp_path, ids, Options(baseline="ns"))
    ls = agg[(agg.method == "ls") & (agg.metric == "modes")].iloc[0]
    assert ls["baseline"] == "ns" and ls["delta"] == pytest.approx(3.0) and ls["p_holm"] == pytest.approx(ls["p"])
    _, md = build_leaderboard(tmp_path, ids, Options(baseline="wgan"))  # not finished yet: said, not compared
    assert "`wgan` has no finished runs yet" in md and "Change against the baseline" not in md
    agg, _ = build_leaderboard(tmp_path, ids, Options(baseline="ns", test="mannwhitney"))
    ls = agg[(agg.method == "ls") & (agg.metric == "modes")].iloc[0]
    assert ls["p"] == pytest.approx(0.1)  # 3 vs 3, completely separated: the smallest exact two-sided p


def test_delta_format_marks_significant_differences_only():
    assert fmt_delta(-3.0, 1.0, higher=False, p_holm=0.01) == "-3.00 ± 1.00 ▲"  # lower FID is better
    assert fmt_delta(0.05, 0.01, higher=True, p_holm=0.049) == "+0.050 ± 0.010 ▲"
    assert fmt_delta(0.05, 0.01, higher=False, p_holm=0.049) == "+0.050 ± 0.010 ▼"
    assert fmt_delta(0.05, 0.01, higher=True, p_holm=0.051) == "+0.050 ± 0.010 △"  # five standard errors, yet not
    assert fmt_delta(0.05, 0.01, higher=False) == "+0.050 ± 0.010 ▽"  # no test: the descriptive mark only
    assert fmt_delta(0.015, 0.01, higher=True, p_holm=0.3) == "+0.015 ± 0.010"  # within two standard errors
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
    assert cells["ns+ttur"][2] == "0" and cells["ns+ttur"][-1] == "2 diverged"  # listed, not averaged
    assert cells["ns+sn"][-1] == "1 ok, 1 diverged" and cells["ns"][-1] == "2 ok"
    _, blocks = build_report(tmp_path, ids)
    full = next(b.full for b in blocks if b.kind == "table" and b.full is not None).set_index("method")
    assert list(full.loc["ns+ttur", ["failure rate", "failure step"]]) == ["100%", "100, 100"]  # every column in full
    assert list(full.loc["ns+sn", ["failure rate", "failure step"]]) == ["50%", "100"]
    assert list(full.loc["ns", ["failure rate", "failure step"]]) == ["0%", ""]  # no failure step
    rate = agg[(agg.method == "ns+sn") & (agg.metric == "failure_rate")].iloc[0]
    assert rate["mean"] == 0.5 and rate["n"] == 2  # the failure rate is in leaderboard.csv as well


def test_a_diverging_run_records_it(tmp_path):
    from ganbench.execute import execute

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
    agg, blocks = build_report(tmp_path, ids)
    fd = agg[agg.metric.str.startswith("fd")].set_index("metric")
    assert set(fd.index) == {"fd [coords, n_gen=2500]", "fd [coords, n_gen=10000]"}
    assert fd.loc["fd [coords, n_gen=2500]", "n"] == 2 and fd.loc["fd [coords, n_gen=10000]", "mean"] == pytest.approx(0.3)
    header = next(b.text for b in blocks if b.kind == "text" and b.only == "html" and b.text.startswith("Main metric"))
    assert "(coords: n_gen 2500, reference train)" in header and "(coords: n_gen 10000, reference train)" in header
    assert "generator" not in header


def test_sampling_draws_separate_sampling_from_training_variance(tmp_path):
    """Two training seeds, each final checkpoint scored on 4 sample draws: draw 0 is the run's own evaluation,
    the other draws differ, and the leaderboard reports their pooled spread beside the training-seed spread."""
    import numpy as np

    from ganbench.errors import ResultsError
    from ganbench.execute import evaluate_draws, execute
    from ganbench.execution import ExecOptions

    arch = {"g_hidden": 16, "g_layers": 1, "d_hidden": 16, "d_layers": 2, "d_act": "lrelu"}
    specs = [build_spec({"dataset": "ring8", "loss": "ns", "steps": 40, "batch_size": 64, "seed": s,
                         "eval_samples": 500, "arch_options": arch}) for s in (0, 1)]
    paths = [tmp_path / "runs" / s.run_id for s in specs]
    recs = [execute(s, p, ExecOptions(progress=False)) for s, p in zip(specs, paths)]
    assert all(evaluate_draws(s, p, 4) == "drawn" for s, p in zip(specs, paths))
    assert evaluate_draws(specs[0], paths[0], 3) == "current"  # already has more
    variances = []
    for rec, p in zip(recs, paths):
        d = store.read_json(p / store.DRAWS)
        fd = d["values"]["fd [coords]"]
        assert d["draws"] == 4 and fd[0] == rec["metrics"]["fd [coords]"] and len(set(fd)) == 4
        assert len(set(d["latent_seeds"])) == 4
        variances.append(np.var(fd, ddof=1))
    agg, md = build_leaderboard(tmp_path, [s.run_id for s in specs])
    row = agg[agg.metric == "fd [coords]"].iloc[0]
    assert row["sampling_sd"] == pytest.approx(np.mean(variances) ** 0.5) and row["draws"] == 4
    assert row["std"] == pytest.approx(abs(recs[0]["metrics"]["fd [coords]"] - recs[1]["metrics"]["fd [coords]"])
                                       / 2 ** 0.5)  # the plain ± stays the spread over training seeds
    assert "± sampling" in md and "(4 draws)" in md
    # a checkpoint that no longer gives the recorded numbers: refused, nothing written
    (paths[1] / store.DRAWS).unlink()
    rec = store.read_json(paths[1] / store.METRICS)
    store.write_json(paths[1] / store.METRICS, {**rec, "metrics": {**rec["metrics"], "fd [coords]": 123.0}})
    with pytest.raises(ResultsError, match="draw 0 does not reproduce fd"):
        evaluate_draws(specs[1], paths[1], 2)
    assert not (paths[1] / store.DRAWS).exists()


def test_html_and_latex_leaderboards(tmp_path):
    """One self-contained page (tables, figures inlined, no external references) and booktabs tables."""
    import re

    from ganbench.leaderboard import write_leaderboard
    from ganbench.plots import write_plots

    modes = {(): [4.0, 5.0, 6.0], ("sn",): [8.0, 9.0, 10.0]}
    ids = [fake_run(tmp_path, list(t), s, v, 0.1 * (s + 1)) for t, vs in modes.items() for s, v in enumerate(vs)]
    write_plots(tmp_path, ids)
    paths = write_leaderboard(tmp_path, ids, formats=("csv", "markdown", "html", "latex"))
    assert [p.name for p in paths] == ["leaderboard.csv", "leaderboard.md", "leaderboard.html", "leaderboard.tex"]
    page = (tmp_path / "leaderboard.html").read_text()
    # the change summary, ring8's table and its every-column table (sortable), and each method's seeds
    assert page.count('<table class="sortable"') == 3 and page.count("<table") == 3 + 2
    assert "ns+sn" in page and "+4.00 ± 0.82 ▲" in page and page.count('class="expand"') == 2
    figures = sorted(p.name for p in (tmp_path / "plots").glob("*_ring8.png"))
    assert page.count('src="data:image/png;base64,') == len(figures) > 0
    assert not re.search(r'(src|href)="(?!data:|#)', page)  # nothing outside the file
    tex = (tmp_path / "leaderboard.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 2 and r"\toprule" in tex and r"\label{tab:" in tex
    assert r"+4.00 $\pm$ 0.82 $\blacktriangle$" in tex and "ns+sn" in tex
    assert "±" not in tex and "▲" not in tex  # every symbol converted


def test_latex_escapes_special_characters():
    from ganbench.render import latex_escape

    assert latex_escape("ns_sn & 50% #1 {x} ~^") == r"ns\_sn \& 50\% \#1 \{x\} \textasciitilde{}\textasciicircum{}"
    assert latex_escape("`fd [coords]` Δ ≤ 1") == r"\texttt{fd [coords]} $\Delta$ $\leq$ 1"


def test_a_setting_an_older_record_does_not_state_does_not_split_a_column(tmp_path):
    """Runs recorded before ganbench stated the feature layer agree with newer runs that state it; a conflicting
    value still gets its own column."""
    ids = [fake_run(tmp_path, [], s, 8.0, 0.9) for s in range(3)]
    layers = [None, "features", "logits"]
    for run_id, layer in zip(ids, layers):
        p = tmp_path / "runs" / run_id / store.METRICS
        rec = store.read_json(p)
        rec["metrics"]["fd [coords]"] = 0.5
        rec["higher_is_better"]["fd [coords]"] = False
        rec["protocol"] = {"fd [coords]": {"features": "coords", "n_gen": 2500, **({"layer": layer} if layer else {})}}
        store.write_json(p, rec)
    agg, md = build_leaderboard(tmp_path, ids)
    fd = agg[agg.metric.str.startswith("fd")].set_index("metric")
    assert set(fd.index) == {"fd [coords, layer=features]", "fd [coords, layer=logits]"}
    assert fd.loc["fd [coords, layer=features]", "n"] == 2  # the unstated one joined the agreeing one
    agg, _ = build_leaderboard(tmp_path, ids[:2])
    assert set(agg[agg.metric.str.startswith("fd")].metric) == {"fd [coords]"}


def test_markdown_tables_are_compact_and_the_html_page_has_every_column(tmp_path):
    """leaderboard.md: at most 10 columns per table whatever the metrics; every metric stays in the HTML page's
    every-column table and in the CSV; each method's seeds are behind its row."""
    from ganbench.leaderboard import write_leaderboard

    modes = {(): [4.0, 5.0, 6.0], ("sn",): [8.0, 9.0, 10.0]}
    ids = [fake_run(tmp_path, list(t), s, v, 0.1 * (s + 1)) for t, vs in modes.items() for s, v in enumerate(vs)]
    extra = [f"metric{i}" for i in range(12)]
    for run_id in ids:
        p = tmp_path / "runs" / run_id / store.METRICS
        rec = store.read_json(p)
        rec["metrics"].update({m: 1.0 + i for i, m in enumerate(extra)} | {"recall": 0.5})
        rec["higher_is_better"].update({m: True for m in [*extra, "recall"]})
        store.write_json(p, rec)
    write_leaderboard(tmp_path, ids)
    md = (tmp_path / "leaderboard.md").read_text()
    headers = [line for line in md.splitlines() if line.startswith("|") and line.strip("| ").startswith("rank")]
    assert headers and all(h.count("|") - 1 <= 10 for h in headers), headers
    assert "modes (95% CI)" in headers[0] and "recall" in headers[0] and "metric3" not in headers[0]
    assert len([line for line in md.split("## Change")[0].splitlines() if line and not line.startswith(("|", "#"))]) <= 2
    page = (tmp_path / "leaderboard.html").read_text()
    assert all(f"<th>{m}</th>" in page for m in extra) and "metric11" in (tmp_path / "leaderboard.csv").read_text()


def test_the_docs_define_every_health_verdict_as_the_code_does():
    from ganbench import health
    from helpers import REPO

    text = (REPO / "docs" / "leaderboards.md").read_text()
    for v in health.VERDICTS:
        assert f"**{v}**: {health.EXPLAINED[v]}." in text, v


def test_rows_of_added_tricks_are_kept_and_runs_of_another_protocol_are_not(tmp_path):
    """`ganbench leaderboard` without `--add-trick`: the runs of a trick added earlier (same settings as the suite's
    cells but for the trick) keep their row, said so; a run whose other settings differ stays out."""
    ids = [fake_run(tmp_path, t, s, v, 0.1) for t, vals in (([], [4.0, 5.0]), (["sn"], [8.0, 9.0])) for s, v in enumerate(vals)]
    added = [fake_run(tmp_path, ["ttur"], s, 6.0 + s, 0.1) for s in range(2)]
    other = build_spec({"dataset": "ring8", "loss": "ns", "tricks": ["ema"], "seed": 0, "steps": 7})
    d = tmp_path / "runs" / other.run_id
    d.mkdir(parents=True)
    store.write_json(d / store.SPEC, other.to_json())
    store.write_json(d / store.METRICS, {"run_id": other.run_id, "metrics": {"modes": 1.0, "hq": 0.1},
                                         "higher_is_better": {"modes": True, "hq": True}, "main_metric": "modes"})
    agg, md = build_leaderboard(tmp_path, ids)
    methods = set(agg[agg.metric == "modes"].method)
    assert methods == {"ns", "ns+sn", "ns+ttur"} and "Also shown: `ns+ttur`" in md
    assert agg[(agg.method == "ns+ttur") & (agg.metric == "modes")].iloc[0]["baseline"] == "ns"  # compared too
    assert "1 finished runs under runs/ are from an earlier version" in md  # the 7-step run
    assert set(agg.method) == methods and added
