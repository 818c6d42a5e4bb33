"""The figures of a synthetic suite (run directories written as ganbench writes them): readable sizes, every method
drawn or named as left out (with why), metric names without extractor hashes on the axes, ±sd bands inside a
metric's range, the leaderboard's marks, the median seed's samples, the same bytes for the same data; and a damaged
figure file costs only its row."""
import hashlib
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from ganbench import plots, store
from ganbench.leaderboard import Options
from ganbench.results import load_results
from ganbench.spec import build_spec

SPACE = "ganbench-digits@efbb956d"
FID = f"fid [{SPACE}]"
HASH = re.compile(r"@[0-9a-f]{6,}")
MARKS = "▲▼△▽"
STEPS = [100, 200, 300, 400]

# ring8: few methods (one panel, one colour each). ns is the baseline; against it ns+b is significantly worse (▼),
# ns+c significantly better (▲), ns+a better by more than two standard errors only (△); ns+a's mean + sd (8.49)
# passes the 8 modes there are. ns+dead diverged on every seed, ns+old was trained before probes and histories were
# kept, ns+broken's probe points are damaged, ns+trunc has the truncation curve.
RING = {"ns": [4.9, 5.0, 5.1], "ns+a": [8.0, 8.0, 6.0], "ns+b": [1.0, 1.1, 0.9], "ns+c": [7.9, 8.0, 7.95],
        "ns+trunc": [6.0, 7.0, 5.0], "ns+old": [4.0, 5.0, 6.0], "ns+broken": [5.0, 5.5, 6.0], "ns+dead": None}
# digits: more than plots.MANY_METHODS methods (a small panel each); FIDs near 0 with a spread past it, two seeds.
DIGITS = {"ns": [20.0, 25.0], **{f"ns+t{i:02d}": [1.0 + i, 30.0 + 2 * i] for i in range(11)}}


def write_run(root, base, method, seed, metrics, *, history=True, quality=True, points=False, truncation=False):
    """A finished run directory: spec.json, metrics.json (with the probe's selection when probed), history.csv,
    quality.csv, samples.png, and for 2-D data probe_points.pt (truncation.csv with the truncation trick)."""
    spec = {**base, "method": method, "seed": seed}
    run_id = f"{spec['dataset']}-{method}-s{seed}-{hashlib.sha256(f'{method}{seed}'.encode()).hexdigest()[:10]}"
    d = root / "runs" / run_id.replace("+", "_")
    d.mkdir(parents=True)
    store.write_json(d / store.SPEC, spec)
    rng = np.random.default_rng([seed, len(method)])
    rec = {"run_id": d.name, "metrics": metrics or {},
           "higher_is_better": {c: c.startswith("modes") for c in metrics or {}},
           "main_metric": next(iter(metrics)) if metrics else None, "diverged_at": None if metrics else 50,
           "protocol": {"modes": {"num_modes": 8, "n_gen": 100}} if "modes" in (metrics or {}) else {}}
    if history:
        acc = 0.7 if seed % 2 else 1.0  # seeds 0.7 and 1.0 apart: mean + sd passes 1
        pd.DataFrame({"step": STEPS, "loss_d": rng.normal(1.3, 0.1, 4), "loss_g": rng.normal(0.8, 0.1, 4),
                      "d_acc_real": [acc] * 4, "d_acc_fake": [acc] * 4}).to_csv(d / store.HISTORY, index=False)
    if quality and metrics:
        report = [1.0, 40.0, 2.0, 3.0] if seed % 2 else [60.0, 1.0, 80.0, 90.0]  # sd past 0 at every step
        pd.DataFrame({"step": STEPS, "select": report, "report": report, "modes": 8, "wall_time": 1.0}).to_csv(
            d / store.QUALITY, index=False)
        best = {"step": STEPS[int(np.argmin(report))], "select": min(report), "report": min(report)}
        rec["checkpoints"] = {"reported": "final", "selection": {
            "best": best, "final": {"step": STEPS[-1], "select": report[-1], "report": report[-1]}, "flattery": 0.0,
            "protocol": {"metric": "fd", "features": "coords" if "modes" in metrics else SPACE}}}
    if points:
        store.save_torch(d / store.PROBE_POINTS, {"step": torch.tensor(STEPS), "points": torch.randn(4, 64, 2)})
    if truncation:
        pd.DataFrame({"psi": [0.5, 1.0, 2.0], "precision [coords]": [0.9, 0.7, 0.5],
                      "recall [coords]": [0.3, 0.6, 0.8]}).to_csv(d / store.TRUNCATION, index=False)
    Image.new("RGB", (24, 24), (seed * 80, 40, 120)).save(d / store.SAMPLES)
    store.write_json(d / store.METRICS, rec)
    return d.name


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """The synthetic suite: its directory and loaded results."""
    root = tmp_path_factory.mktemp("suite")
    ring = build_spec({"dataset": "ring8", "loss": "ns"}).to_json()
    digits = build_spec({"dataset": "digits", "loss": "ns"}).to_json()
    for method, values in RING.items():
        for seed in range(3):
            metrics = None if values is None else {"modes": values[seed], "hq": min(1.0, 0.3 * values[seed] / 2)}
            old = method == "ns+old"
            write_run(root, ring, method, seed, metrics, history=not old, quality=not old, points=not old,
                      truncation=method == "ns+trunc")
    for p in (root / "runs").glob("ring8-ns_broken-*"):
        (p / store.PROBE_POINTS).write_bytes(b"truncated")
    for method, values in DIGITS.items():
        for seed, v in enumerate(values):
            write_run(root, digits, method, seed, {FID: v}, history=method != "ns+t10",
                      quality=method != "ns+t10")
    return root, load_results(root)


@pytest.fixture(scope="module")
def figures(suite):
    """{file name: (figure, PNG path)} of every figure write_plots writes for the suite (each figure caught as it
    is saved)."""
    root, res = suite
    caught, save = {}, plots.save_figure
    with pytest.MonkeyPatch.context() as mp, pytest.warns(UserWarning, match="left out of the trajectory plot"):
        mp.setattr(plots, "save_figure", lambda fig, path: caught.setdefault(path.name, (fig, save(fig, path)))[1])
        written = plots.write_plots(root, res=res, options=Options(baseline="ns"))
    assert [p.name for p in written] == list(caught)
    return caught


def named(fig) -> set[str]:
    """Every name a figure shows: tick labels, the lines of titles and y labels, legend entries, and the methods
    its footnote lists as left out."""
    texts = []
    for ax in fig.axes:
        texts += [t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels()]
        texts += ax.get_title().split("\n") + ax.get_ylabel().split("\n")
        if ax.get_legend():
            texts += [t.get_text() for t in ax.get_legend().get_texts()]
    texts += [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    out = {t.strip() for t in texts}
    for t in fig.texts:
        flat = " ".join(t.get_text().split())
        for m in re.finditer(r"Left out, [^:]*: (.*?)\.(?= |$)", flat):
            out.update(x.strip() for x in m.group(1).split(","))
    return out


def small_print(fig) -> str:
    """A figure's footnote (its texts but the title), its lines joined."""
    return " ".join(" ".join(t.get_text().split()) for t in fig.texts if t is not fig._suptitle)


def labels(fig) -> list[str]:
    """The labels of a figure's axes: axis labels, titles, tick labels, legend entries, the figure's title and
    axis labels."""
    out = [t.get_text() for t in (fig._suptitle, fig._supxlabel, fig._supylabel) if t]
    for ax in fig.axes:
        out += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
        out += [t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels()]
        if ax.get_legend():
            out += [t.get_text() for t in ax.get_legend().get_texts()]
    return out + [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_every_figure_of_the_suite_is_written(figures):
    assert sorted(figures) == sorted(
        [f"{kind}_digits.png" for kind in ("metric", "curves", "samples", "quality")] +
        [f"{kind}_ring8.png" for kind in ("metric", "curves", "samples", "quality", "truncation", "trajectory")])


def test_every_png_is_readable_at_screen_width(figures):
    for name, (_, path) in figures.items():
        width, height = Image.open(path).size
        assert 800 <= width <= 2000 and 0.25 <= width / height <= 4, f"{name}: {width} x {height} px"


def test_every_method_is_drawn_or_said_to_be_left_out(figures, suite):
    _, res = suite
    for name, (fig, _) in figures.items():
        kind, dataset = name.removesuffix(".png").split("_", 1)
        methods = set(res.df.loc[res.df.dataset == dataset, "method"])
        if kind == "truncation":  # the figure of the truncation trick's runs
            methods = {"ns+trunc"}
        assert methods <= named(fig), f"{name} lacks {sorted(methods - named(fig))}"
    footnote = lambda name: small_print(figures[name][0])  # noqa: E731
    assert "Left out, no value (every seed diverged): ns+dead." in footnote("metric_ring8.png")
    assert "probe_points.pt unreadable: ns+broken." in footnote("trajectory_ring8.png")
    assert "(runs of 2-D data keep it when trained with the quality probe): ns+old." in footnote("trajectory_ring8.png")
    assert "Left out, no history.csv: ns+t10." in footnote("curves_digits.png")
    assert "Left out, not probed (no quality.csv): ns+dead, ns+old." in footnote("quality_ring8.png")


def test_axes_name_metrics_without_extractor_hashes(figures):
    for name, (fig, _) in figures.items():
        assert not [t for t in labels(fig) if HASH.search(t)], name
        stated = [t.get_text() for t in fig.texts if SPACE in t.get_text()]
        assert len(stated) <= 1 and all(t.get_text().count(SPACE) <= 1 for t in fig.texts), name
    fig = figures["metric_digits.png"][0]
    assert fig.axes[0].get_xlabel() == "fid (lower is better)"
    assert f"fid is computed in feature space {SPACE}." in small_print(fig)


def band_extents(fig) -> dict[str, tuple[float, float]]:
    """{what a band spans: (lowest, highest) value} over the ±sd bands of a figure (artists with gid 'band:...'),
    along the value axis (x for the metric figure's horizontal bars, y for curves)."""
    out: dict[str, tuple[float, float]] = {}
    for ax in fig.axes:
        for c in ax.collections:
            gid = c.get_gid() or ""
            if not gid.startswith("band:"):
                continue
            if hasattr(c, "get_segments") and c.get_segments():  # hlines
                values = np.concatenate([s[:, 0] for s in c.get_segments()])
            else:
                values = np.concatenate([p.vertices[:, 1] for p in c.get_paths()] or [np.array([])])
            values = values[np.isfinite(values)]
            if values.size:
                lo, hi = out.get(gid[5:], (math.inf, -math.inf))
                out[gid[5:]] = (min(lo, values.min()), max(hi, values.max()))
    return out


def test_sd_bands_stay_within_each_metric_range(figures):
    metric = band_extents(figures["metric_ring8.png"][0])
    assert metric["modes"] == (pytest.approx(0.9), 8.0)  # ns+a's 7.33 + 1.15 clipped to the 8 modes
    assert band_extents(figures["metric_digits.png"][0])[FID][0] == 0.0  # FID >= 0
    for name in ("curves_ring8.png", "curves_digits.png"):
        bands = band_extents(figures[name][0])
        for signal in ("d_acc_real", "d_acc_fake"):
            assert 0.5 < bands[signal][0] and bands[signal][1] == 1.0, name  # seeds 0.7 and 1.0: mean + sd clipped
    for name in ("quality_ring8.png", "quality_digits.png"):
        assert band_extents(figures[name][0])["report"][0] == 0.0, name


def test_the_metric_figure_marks_what_the_leaderboard_marks(figures):
    fig = figures["metric_ring8.png"][0]
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows[:3] == ["ns+c", "ns+a", "ns+trunc"]  # best (most modes) first
    marks = {rows[round(t.get_position()[1])]: t.get_text() for t in ax.texts if t.get_text() in MARKS}
    assert marks == {"ns+c": "▲", "ns+b": "▼", "ns+a": "△"}
    baseline = [line for line in ax.get_lines() if line.get_label().startswith("baseline ns")]
    assert len(baseline) == 1 and baseline[0].get_xdata()[0] == pytest.approx(5.0)
    legend = [t.get_text() for t in figures["metric_digits.png"][0].legends[0].get_texts()]
    assert "baseline ns: mean 22.5" in legend


def test_many_methods_wrap_into_panels_side_by_side(suite, monkeypatch, tmp_path):
    root, res = suite
    monkeypatch.setattr(plots, "ROWS_PER_PANEL", 5)  # the 12 methods on digits as if there were 60
    fig = plots.metric_figure(res.df, plots.compared(res, Options(baseline="ns")), "digits", FID, False)
    rows = [[t.get_text() for t in ax.get_yticklabels()] for ax in fig.axes]
    assert [len(r) for r in rows] == [4, 4, 4] and sorted(sum(rows, [])) == sorted(DIGITS)
    assert Image.open(plots.save_figure(fig, tmp_path / "wide.png")).size[0] <= 2000  # three panels, still readable


def test_samples_show_each_method_s_median_seed(figures):
    fig = figures["samples_ring8.png"][0]
    titles = {ax.get_title().split("\n")[0]: ax.get_title() for ax in fig.axes if ax.get_title()}
    assert titles["ns+c"] == "ns+c\nmedian seed 2: 7.95"  # seeds 7.9, 8.0, 7.95
    assert titles["ns+dead"] == "ns+dead\nno value (every seed diverged)"
    assert "median seed" in fig._suptitle.get_text() and "not the best seed" in small_print(fig)


def test_the_quality_legend_shows_the_chosen_checkpoint_marker(figures):
    few = figures["quality_ring8.png"][0].axes[0].get_legend()
    assert "chosen checkpoint (one per seed)" in [t.get_text() for t in few.get_texts()]
    many = figures["quality_digits.png"][0].legends[0]
    assert "chosen checkpoint (one per seed)" in [t.get_text() for t in many.get_texts()]


def test_the_same_data_gives_the_same_bytes(suite, figures, tmp_path):
    """Drawn again, the figures with seed dots and point clouds are byte-identical."""
    root, res = suite
    agg = plots.compared(res, Options(baseline="ns"))
    again = {"metric_ring8.png": plots.metric_figure(res.df, agg, "ring8", "modes", True, {"num_modes": 8}),
             "samples_digits.png": plots.samples_figure(root, res.df, "digits", FID, False)}
    with pytest.warns(UserWarning):
        again["trajectory_ring8.png"] = plots.trajectory_figure(root, res.df, "ring8")
    for name, fig in again.items():
        assert plots.save_figure(fig, tmp_path / name).read_bytes() == figures[name][1].read_bytes(), name


def test_budget_bands_are_distinct_clipped_and_in_the_legend(tmp_path, monkeypatch):
    methods = [f"method {i:02d}" for i in range(12)]
    k = np.arange(1, 9)
    c = pd.DataFrame([{"method": m, "k": kk, "mean": 50 / kk + i, "lo": 50 / kk + i - 60, "hi": 50 / kk + i + 10}
                      for i, m in enumerate(methods) for kk in k])
    caught, save = [], plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: caught.append(fig) or save(fig, path))
    path = plots.budget_plot(c, "digits", FID, False, tmp_path / "budget_digits.png")
    fig = caught[0]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == methods
    bands = [(ax.get_title(), c) for ax in fig.axes for c in ax.collections if c.get_gid()]
    assert [title for title, _ in bands] == methods  # a panel per method: bands never overlap
    assert len({tuple(np.round(c.get_facecolor()[0][:3], 3)) for _, c in bands}) == len(methods)  # a colour each
    assert band_extents(fig)[FID][0] == 0.0 and not [t for t in labels(fig) if HASH.search(t)]
    width, height = Image.open(path).size
    assert 800 <= width <= 2000 and 0.25 <= width / height <= 4


def test_a_damaged_probe_points_file_costs_only_its_row_of_the_trajectory_plot(tmp_path):
    runs = tmp_path / "runs"
    df = pd.DataFrame({"dataset": ["ring8", "ring8"], "method": ["ns", "hinge"], "seed": [0, 0], "run_id": ["a", "b"]})
    (runs / "a").mkdir(parents=True)
    (runs / "b").mkdir()
    store.save_torch(runs / "a" / store.PROBE_POINTS, {"step": torch.tensor([10, 20]), "points": torch.randn(2, 50, 2)})
    (runs / "b" / store.PROBE_POINTS).write_bytes(b"truncated")
    with pytest.warns(UserWarning, match="left out of the trajectory plot"):
        out = plots.trajectory_plot(tmp_path, df, "ring8", tmp_path / "plots")
    assert out is not None and out.exists()
    with pytest.warns(UserWarning):
        assert named(plots.trajectory_figure(tmp_path, df, "ring8")) >= {"ns", "hinge"}  # hinge: named as left out
    (runs / "a" / store.PROBE_POINTS).write_bytes(b"")
    with pytest.warns(UserWarning):
        assert plots.trajectory_plot(tmp_path, df, "ring8", tmp_path / "plots2") is None


@pytest.mark.parametrize("channels", [1, 3])
def test_an_image_is_shown_as_torchvision_s_make_grid_shows_it(channels):
    """plots._rgb replaces make_grid(one image, normalize=True, value_range=(-1, 1), padding=0) without importing
    torchvision: the same pixels bit for bit, grey repeated to three channels, values outside [-1, 1] clipped."""
    from torchvision.utils import make_grid

    images = torch.randn(3, channels, 8, 8, generator=torch.Generator().manual_seed(0)) * 1.5
    for i in range(len(images)):
        expected = make_grid(images[i : i + 1], nrow=1, normalize=True, value_range=(-1, 1), padding=0)
        shown = plots._rgb(images[i])
        assert shown.shape == (8, 8, 3)
        assert np.array_equal(shown, expected.permute(1, 2, 0).numpy())
    assert plots._rgb(torch.full((channels, 2, 2), 5.0)).max() == 1.0
