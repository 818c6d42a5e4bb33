"""Figures of a suite (PNG; matplotlib with seaborn's palettes): per data set the main metric of every method (its
mean and spread over seeds, each seed, the baseline's mean and the leaderboard's significance marks), training
curves, the quality probe over training with each run's chosen checkpoint, the samples of each method's median seed,
the truncation curve, and for 2-D data the probe's samples over training; a search's budget curve; per run its
health signals and sample figures.

What every suite figure keeps to: a readable size (about 800 to 2,000 px wide; many methods wrap into panels),
every method it belongs to drawn or named in its footnote with the reason it is left out, axes labelled with metric
names (a feature space such as `ganbench-digits@efbb956d` is stated once, in the footnote), ±sd bands clipped to a
metric's natural range, and the same bytes for the same data (no time stamp in the PNG)."""
from __future__ import annotations

import itertools
import math
import re
import textwrap
import warnings
from pathlib import Path
from typing import Collection, Iterator, Sequence

import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from ganbench import diagnostics, health, stats, store  # noqa: E402
from ganbench import leaderboard as board  # noqa: E402
from ganbench.data import get_dataset  # noqa: E402
from ganbench.results import TAG, Results, load_results  # noqa: E402

DPI = 110
MANY_METHODS = 10  # beyond this, one small panel per method instead of one colour per method
GRID_COLUMNS = 7  # panels per row of a figure with a panel per method
MARK_COLOURS = {"▲": "#1e8449", "▼": "#c0392b", "△": "#7f8c8d", "▽": "#7f8c8d"}  # the leaderboard's marks
UNIT_INTERVAL = {"precision", "recall", "coverage", "hq", "memorized", "ndb", "failure_rate"}  # shares
NON_NEGATIVE = {"fid", "kid", "fd", "kl_modes", "density", "diversity", "ndb_js", "flattery"}  # distances, ratios


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Write `fig` as a PNG without a time stamp or version in its metadata (the same figure gives the same bytes)
    and close it. The footnote goes under everything else the figure shows (axes, legends), the image's bounding
    box around both."""
    if not fig.get_layout_engine():
        fig.set_layout_engine("tight")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*constrained_layout not applied.*")
        _finish_layout(fig)
        store.atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=DPI, bbox_inches="tight",
                                                       pad_inches=0.1, metadata={"Software": None}))
    plt.close(fig)
    return path


def _finish_layout(fig: plt.Figure) -> None:
    """Lay the figure out, pin its figure legends where the layout put them (else the tight bounding box would
    move them), and put the footnote (the figure text with gid 'footnote') just under everything else."""
    notes = [t for t in fig.texts if t.get_gid() == "footnote"]
    for t in notes:
        t.set_visible(False)
    fig.draw_without_rendering()
    fig.set_layout_engine("none")  # the layout is done: drawing again must not redo it without the pinned legends
    for legend in fig.legends:
        legend.set_bbox_to_anchor(legend.get_window_extent().transformed(fig.transFigure.inverted()),
                                  transform=fig.transFigure)
        legend.set_loc("center")
    if notes:
        box = fig.get_tightbbox()  # inches
        notes[0].set_visible(True)
        notes[0].set_position((box.x0 / fig.get_figwidth(), (box.y0 - 0.05) / fig.get_figheight()))


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "_", text)


def metric_name(column: str) -> str:
    """A metric column without its bracketed feature space: 'fid [ganbench-digits@efbb956d]' -> 'fid'."""
    return TAG.sub("", column)


def feature_note(column: str) -> str:
    """The sentence stating a column's feature space once (for a footnote); '' when it has none."""
    m = TAG.search(column)
    return f"{metric_name(column)} is computed in feature space {m.group(1)}." if m else ""


def metric_range(column: str, protocol: dict | None = None) -> tuple[float, float]:
    """The values a metric can take, which its ±sd bands are clipped to: [0, 1] for shares (precision, recall,
    coverage, high-quality share, ...), [0, num_modes] for modes covered (the protocol's count), [1, inf) for the
    Inception score, [0, inf) for distances and divergences (FID, KID, FD, KL), unbounded otherwise."""
    name = metric_name(column).split("@")[0]
    if name == "modes":
        return 0.0, float((protocol or {}).get("num_modes") or math.inf)
    if name in UNIT_INTERVAL:
        return 0.0, 1.0
    if name in NON_NEGATIVE or name.startswith("kl"):
        return 0.0, math.inf
    return (1.0, math.inf) if name == "is" else (-math.inf, math.inf)


def range_text(lo: float, hi: float) -> str:
    """'[0, 1]', '≥ 0', 'unbounded': a range for a footnote."""
    if math.isinf(hi):
        return "unbounded" if math.isinf(lo) else f"≥ {lo:g}"
    return f"≤ {hi:g}" if math.isinf(lo) else f"[{lo:g}, {hi:g}]"


def clipped(mean, sd, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """mean ± sd clipped to [lo, hi] (a missing sd, one seed: no band)."""
    mean, sd = np.asarray(mean, dtype=float), np.nan_to_num(np.asarray(sd, dtype=float))
    return np.clip(mean - sd, lo, hi), np.clip(mean + sd, lo, hi)


def left_out(reason: str, methods: Sequence[str]) -> str:
    """The footnote naming the methods a figure belongs to but does not draw, and why ('' when none)."""
    return f"Left out, {reason}: {', '.join(methods)}." if methods else ""


def _footnote(fig: plt.Figure, lines: Sequence[str]) -> None:
    """Small print under the axes, wrapped to the figure's width (method names are never broken)."""
    lines = [line for line in lines if line]
    if lines:
        width = max(70, int(fig.get_figwidth() * DPI / 6.0))
        text = "\n".join(textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)
                         for line in lines)
        fig.text(0.005, 0, text, ha="left", va="top", fontsize=7, color="#444444", gid="footnote")


def _palette(names: Sequence[str]) -> dict[str, tuple]:
    """A distinct colour per name: tab10 up to 10, tab20 up to 20, evenly spaced hues beyond."""
    n = len(names)
    colours = sns.color_palette("tab10" if n <= 10 else "tab20" if n <= 20 else "husl", n)
    return dict(zip(names, colours))


def _methods(df: pd.DataFrame, dataset: str) -> list[str]:
    """Every method of the suite on `dataset` (finished runs, diverged or not)."""
    return sorted(df.loc[df.dataset == dataset, "method"].unique())


def _grid(n: int, panel: tuple[float, float], top: float = 0.9) -> tuple[plt.Figure, np.ndarray]:
    """A figure of n small panels, GRID_COLUMNS per row, the unused ones switched off."""
    cols = min(GRID_COLUMNS, max(n, 1))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(8.0, panel[0] * cols), panel[1] * rows + top),
                             squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat[:n]


def compared(res: Results, options: board.Options = board.Options()) -> pd.DataFrame:
    """The leaderboard's long table of `res` (leaderboard.aggregate: mean, std, n per data set, method and metric;
    with leaderboard.add_deltas where a method has a baseline: its change, the test's p and Holm's p), so a figure
    marks exactly what the leaderboard marks."""
    groups = board.seed_groups(res.df)
    agg = board.aggregate(res.df, res.higher, res.main, groups)
    if board.baselines(res.df, options.baseline):
        agg = board.add_deltas(agg, res.df, groups, options.test, options.baseline)
    return agg


def significance_mark(row: pd.Series, higher: bool) -> str:
    """The leaderboard's mark of a method's change against its baseline (leaderboard.fmt_delta): ▲/▼ significantly
    better/worse after Holm's correction, △/▽ beyond two standard errors only, '' otherwise or without a baseline."""
    if not isinstance(row.get("baseline"), str):
        return ""
    text = board.fmt_delta(row["delta"], row["delta_se"], higher, row["p_holm"])
    return text[-1] if text.endswith(tuple(MARK_COLOURS)) else ""


def baseline_means(a: pd.DataFrame) -> dict[str, float]:
    """{baseline method: its mean} for the baselines the methods of one (data set, metric) table are compared with,
    the most compared first; `a` is indexed by method."""
    if "baseline" not in a:
        return {}
    counts = a["baseline"].dropna().value_counts()
    return {b: float(a.loc[b, "mean"]) for b in sorted(counts.index, key=lambda b: (-counts[b], b)) if b in a.index}


ROWS_PER_PANEL = 25  # methods per panel of the metric figure; more wrap into panels side by side
MAX_PANELS = 3


def metric_figure(df: pd.DataFrame, agg: pd.DataFrame, dataset: str, column: str, higher: bool,
                  protocol: dict | None = None, test: str = "welch") -> plt.Figure:
    """The main metric of every method on `dataset`, a row each, best at the top: the mean over seeds (diamond),
    ±1 sd clipped to the metric's range (bar), each seed (dots), the mean of each baseline methods are compared
    with (vertical line) and the leaderboard's marks (right margin). `agg`: compared()'s table."""
    a = agg[(agg.dataset == dataset) & (agg.metric == column)].sort_values(
        ["mean", "method"], ascending=[not higher, True], kind="stable").set_index("method")
    runs = df[(df.dataset == dataset) & df[column].notna()]
    panels = min(MAX_PANELS, max(1, -(-len(a) // ROWS_PER_PANEL)))
    per = max(1, -(-len(a) // panels))
    fig, axes = plt.subplots(1, panels, figsize=(max(8.0, 5.8 * panels), 1.9 + 0.24 * per), sharex=True,
                             squeeze=False, layout="constrained")
    lo, hi = metric_range(column, protocol)
    base = baseline_means(a)
    name = metric_name(column)
    for i, ax in enumerate(axes[0]):
        _metric_panel(ax, a.iloc[i * per:(i + 1) * per], runs, column, (lo, hi), higher, base)
        ax.set_xlabel(f"{name} ({'higher' if higher else 'lower'} is better)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=max(1, min(4, len(labels))), fontsize=7,
               frameon=False)
    fig.suptitle(f"{dataset}: {name} of each method, best first")
    marks = (f"Right margin: ▲/▼ significantly better/worse than the method's baseline (p (Holm) < "
             f"{stats.ALPHA}, {test} test over seeds, as in the leaderboard); △/▽ better/worse by more than two "
             "standard errors, not significant after Holm's correction." if base else
             "No method has a baseline on this data set: no reference line, no marks.")
    _footnote(fig, [f"Diamond: the mean over seeds; bar: ±1 sd over seeds, clipped to the metric's range "
                    f"({range_text(lo, hi)}); dots: each seed.", marks, feature_note(column),
                    left_out("no value (every seed diverged)", sorted(set(_methods(df, dataset)) - set(a.index)))])
    return fig


def _spread(n: int) -> np.ndarray:
    """Vertical offsets of n seed dots around a row (fixed, not random: the same data, the same image)."""
    return np.linspace(-0.2, 0.2, n) if n > 1 else np.zeros(n)


def _metric_panel(ax: plt.Axes, a: pd.DataFrame, runs: pd.DataFrame, column: str, bounds: tuple[float, float],
                  higher: bool, base: dict[str, float]) -> None:
    """One panel of metric_figure: the methods of `a` (indexed by method, best first) from the top."""
    y = np.arange(len(a))
    left, right = clipped(a["mean"], a["std"], *bounds)
    ax.hlines(y, left, right, color="#1f4e79", alpha=0.35, linewidth=5, label="±1 sd over seeds",
              gid=f"band:{column}")
    for i, method in enumerate(a.index):
        v = np.sort(runs.loc[runs.method == method, column].to_numpy(dtype=float))
        ax.scatter(v, i + _spread(len(v)), s=10, color="#e67e22", zorder=3, label="seeds" if i == 0 else None)
    ax.scatter(a["mean"], y, marker="D", s=26, color="#1f4e79", zorder=4, label="mean over seeds")
    for (b, mean), style in zip(base.items(), itertools.cycle(("--", ":", "-."))):
        ax.axvline(mean, color="#555555", linestyle=style, linewidth=1, label=f"baseline {b}: mean {mean:.3g}")
    ax.set_yticks(y, a.index.tolist(), fontsize=8)
    ax.set_ylim(max(len(a), 1) - 0.5, -0.5)
    for i, method in enumerate(a.index):
        mark = significance_mark(a.loc[method], higher)
        if mark:
            ax.text(1.01, i, mark, transform=ax.get_yaxis_transform(), color=MARK_COLOURS[mark], fontsize=9,
                    va="center", ha="left")
    ax.grid(axis="x", alpha=0.3)


def run_tables(suite_path: Path, df: pd.DataFrame, dataset: str, name: str) -> pd.DataFrame | None:
    """The per-run CSV file `name` of every run of `dataset` that has one, with method and seed columns."""
    frames = []
    for _, row in df[df.dataset == dataset].iterrows():
        f = suite_path / "runs" / row["run_id"] / name
        if f.exists():
            frames.append(pd.read_csv(f).assign(method=row["method"], seed=row["seed"]))
    return pd.concat(frames) if frames else None


def median_run(runs: pd.DataFrame, column: str, higher: bool) -> pd.Series:
    """The median seed of one method's runs by `column`: the middle one sorted from worst to best (of an even
    number, the worse of the two middle ones), ties broken by seed."""
    s = runs.sort_values([column, "seed"], ascending=[higher, True], kind="stable")
    return s.iloc[(len(s) - 1) // 2]


def samples_figure(suite_path: Path, df: pd.DataFrame, dataset: str, column: str, higher: bool) -> plt.Figure:
    """The samples.png of each method's median seed by the main metric (not its best: no cherry-picking), best
    method first; a method whose every seed diverged keeps its panel, saying so."""
    d = df[(df.dataset == dataset) & df[column].notna()]
    order = d.groupby("method")[column].mean().sort_values(ascending=not higher, kind="stable").index.tolist()
    methods = order + [m for m in _methods(df, dataset) if m not in order]
    many = len(methods) > MANY_METHODS
    cols = min(8 if many else 5, len(methods))
    rows = -(-len(methods) // cols)
    size = 1.8 if many else min(4.0, max(3.0, 8.0 / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.6), squeeze=False,
                             layout="constrained")
    font = 8 if size >= 3 else 6
    for ax in axes.flat:
        ax.axis("off")
    for ax, method in zip(axes.flat, methods):
        if method not in order:
            ax.set_title(f"{method}\nno value (every seed diverged)", fontsize=font)
            continue
        run = median_run(d[d.method == method], column, higher)
        img = suite_path / "runs" / run["run_id"] / store.SAMPLES
        if img.exists():
            ax.imshow(plt.imread(img))
        else:
            ax.text(0.5, 0.5, f"no {store.SAMPLES}", ha="center", va="center", fontsize=font, transform=ax.transAxes)
        ax.set_title(f"{method}\nmedian seed {run['seed']}: {run[column]:.3g}", fontsize=font)
    name = metric_name(column)
    fig.suptitle(f"{dataset}: samples of each method's median seed by {name}, best method first")
    _footnote(fig, [f"Each panel: the run whose {name} is the median of its method's seeds (of an even number of "
                    "seeds, the worse of the two middle ones), not the best seed.", feature_note(column)])
    return fig


CURVES = [("loss_d", "D loss"), ("loss_g", "G loss"), ("d_acc_real", "D accuracy on real"),
          ("d_acc_fake", "D accuracy on fake")]
GRID_SIGNALS = [("d_acc_real", "D accuracy on real"), ("d_acc_fake", "D accuracy on fake"), ("loss_d", "D loss")]


def signal_range(column: str) -> tuple[float, float]:
    """A training signal's range: D's accuracies are shares; losses are unbounded (a WGAN's is negative)."""
    return (0.0, 1.0) if column.startswith("d_acc") else (-math.inf, math.inf)


def mean_sd(t: pd.DataFrame, column: str, by: Sequence[str] = ("method", "step")) -> pd.DataFrame:
    """The mean and sd over seeds of `column` at each (method, step)."""
    return t.groupby(list(by), sort=True)[column].agg(["mean", "std"]).reset_index()


def line_band(ax: plt.Axes, s: pd.DataFrame, signal: str, colour, label: str | None, bounds: tuple[float, float],
              linewidth: float = 1.0, alpha: float = 0.2) -> None:
    """The mean of `signal` over steps and its ±1 sd band over seeds, the band clipped to `bounds` (its gid,
    'band:SIGNAL', names what it spans)."""
    ax.plot(s["step"], s["mean"], color=colour, linewidth=linewidth, label=label)
    low, high = clipped(s["mean"], s["std"], *bounds)
    ax.fill_between(s["step"], low, high, color=colour, alpha=alpha, linewidth=0, gid=f"band:{signal}")


def band_alpha(n: int) -> float:
    """Lighter bands when many share an axes, so the lines stay apart."""
    return 0.2 if n <= 4 else 0.12


def curves_figure(suite_path: Path, df: pd.DataFrame, dataset: str) -> plt.Figure | None:
    """Losses and D's accuracy over training per method (mean and ±1 sd band over seeds); with many methods, a
    small panel per method with D's accuracy on real and fake (the equilibrium practitioners watch) and D's loss.
    None when no run of `dataset` has a history."""
    h = run_tables(suite_path, df, dataset, store.HISTORY)
    if h is None:
        return None
    methods = sorted(h.method.unique())
    fig = (_curves_grid if len(methods) > MANY_METHODS else _curves_panels)(h, methods)
    fig.suptitle(f"{dataset}: training signals of each method" + (
        " (D accuracy on real and fake, D loss)" if len(methods) > MANY_METHODS else ""))
    _footnote(fig, ["Lines: the mean over seeds; bands: ±1 sd over seeds (D accuracies clipped to [0, 1]); dotted: "
                    "accuracy 0.5.",
                    left_out(f"no {store.HISTORY}", sorted(set(_methods(df, dataset)) - set(methods)))])
    return fig


def _curves_panels(h: pd.DataFrame, methods: list[str]) -> plt.Figure:
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.4), layout="constrained")
    colours = _palette(methods)
    for ax, (col, title) in zip(axes.flat, CURVES):
        if col in h:
            for method, s in mean_sd(h, col).groupby("method", sort=True):
                line_band(ax, s, col, colours[method], method, signal_range(col), alpha=band_alpha(len(methods)))
        ax.set(title=title if col in h else f"{title} (not recorded)", xlabel="step", ylabel="")
        if col.startswith("d_acc"):
            ax.axhline(0.5, color="#999999", linewidth=0.6, linestyle=":")
    handles = [Line2D([], [], color=colours[m], label=m) for m in methods]
    fig.legend(handles=handles, loc="outside right upper", fontsize=7, title="method", title_fontsize=8)
    return fig


def _curves_grid(h: pd.DataFrame, methods: list[str]) -> plt.Figure:
    fig, axes = _grid(len(methods), (2.35, 1.75))
    colours = dict(zip([c for c, _ in GRID_SIGNALS], sns.color_palette("tab10", len(GRID_SIGNALS))))
    present = [(c, t) for c, t in GRID_SIGNALS if c in h]
    stats_of = {c: mean_sd(h, c) for c, _ in present}
    for ax, method in zip(axes, methods):
        for col, _ in present:
            s = stats_of[col]
            line_band(ax, s[s.method == method], col, colours[col], None, signal_range(col), linewidth=0.9)
        ax.axhline(0.5, color="#999999", linewidth=0.6, linestyle=":")
        ax.set_title(method, fontsize=7)
        ax.tick_params(labelsize=6)
    fig.legend(handles=[Line2D([], [], color=colours[c], label=t) for c, t in present], loc="outside lower center",
               ncol=len(present), fontsize=8, frameon=False)
    return fig


def selection_protocol(suite_path: Path, df: pd.DataFrame, dataset: str) -> dict:
    """The quality probe's protocol (metric, feature space, ...) of the first probed run of `dataset`."""
    for run_id in df.loc[df.dataset == dataset, "run_id"]:
        f = suite_path / "runs" / run_id / store.METRICS
        sel = ((store.read_json(f).get("checkpoints") or {}).get("selection") or {}) if f.exists() else {}
        if sel.get("protocol"):
            return sel["protocol"]
    return {}


CHOSEN = dict(s=14, color="#c0392b", zorder=3, label="chosen checkpoint (one per seed)")


def quality_figure(suite_path: Path, df: pd.DataFrame, dataset: str) -> plt.Figure | None:
    """The quality probe over training per method (its distance to the reporting half B: mean and ±1 sd band over
    seeds, log scale), each run's chosen checkpoint marked; a small panel per method when there are many. None when
    no run of `dataset` was probed."""
    q = run_tables(suite_path, df, dataset, store.QUALITY)
    if q is None:
        return None
    sel = selection_protocol(suite_path, df, dataset)
    metric = sel.get("metric", "fd")
    best = df[(df.dataset == dataset) & df.best_step.notna()][["method", "seed", "best_step"]]
    best = best.merge(q, left_on=["method", "seed", "best_step"], right_on=["method", "seed", "step"])
    methods = sorted(q.method.unique())
    fig = (_quality_grid if len(methods) > MANY_METHODS else _quality_panel)(q, best, methods, f"{metric} to half B")
    fig.suptitle(f"{dataset}: the quality probe over training ({metric} to half B, log scale)")
    space = f" in feature space {sel['features']}" if sel.get("features") else ""
    _footnote(fig, [f"Lines: the probe's {metric}{space} to half B of the training data, mean over seeds; bands: ±1 "
                    "sd over seeds, clipped at 0; red dots: the checkpoint each run chose on half A, scored on half B.",
                    left_out(f"not probed (no {store.QUALITY})", sorted(set(_methods(df, dataset)) - set(methods)))])
    return fig


def _quality_panel(q: pd.DataFrame, best: pd.DataFrame, methods: list[str], label: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(8.8, 4.2), layout="constrained")
    colours = _palette(methods)
    for method, s in mean_sd(q, "report").groupby("method", sort=True):
        line_band(ax, s, "report", colours[method], method, (0.0, math.inf), alpha=band_alpha(len(methods)))
    ax.scatter(best.step, best.report, **CHOSEN)
    ax.set(yscale="log", ylabel=label, xlabel="step")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7)
    return fig


def _quality_grid(q: pd.DataFrame, best: pd.DataFrame, methods: list[str], label: str) -> plt.Figure:
    fig, axes = _grid(len(methods), (2.35, 1.75))
    stats_of = mean_sd(q, "report")
    for ax, method in zip(axes, methods):
        line_band(ax, stats_of[stats_of.method == method], "report", "#1f77b4", None, (0.0, math.inf),
                  linewidth=0.9)
        b = best[best.method == method]
        ax.scatter(b.step, b.report, **{**CHOSEN, "s": 10, "label": None})
        ax.set_yscale("log")
        ax.set_title(method, fontsize=7)
        ax.tick_params(labelsize=6)
    handles = [Line2D([], [], color="#1f77b4", label=f"{label}: mean over seeds (band ±1 sd)"),
               Line2D([], [], color=CHOSEN["color"], marker="o", linestyle="", label=CHOSEN["label"])]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return fig


def truncation_figure(suite_path: Path, df: pd.DataFrame, dataset: str) -> plt.Figure | None:
    """The fidelity/variety curve of runs with the truncation trick: precision against recall as psi varies (the
    figure belongs to those runs only). None when no run of `dataset` has one."""
    t = run_tables(suite_path, df, dataset, store.TRUNCATION)
    if t is None:
        return None
    prec = next(c for c in t.columns if c.startswith("precision"))
    rec = next(c for c in t.columns if c.startswith("recall"))
    fig, ax = plt.subplots(figsize=(8.0, 5.0), layout="constrained")
    colours = _palette(sorted(t.method.unique()))
    for (method, seed), g in t.groupby(["method", "seed"]):
        g = g.sort_values("psi")
        first = seed == t.loc[t.method == method, "seed"].min()
        ax.plot(g[rec], g[prec], marker="o", markersize=3, linewidth=1, color=colours[method],
                label=method if first else None)
        for _, r in g.iloc[[0, -1]].iterrows():
            ax.annotate(f"ψ={r.psi:g}", (r[rec], r[prec]), fontsize=6)
    ax.set(xlabel=metric_name(rec), ylabel=metric_name(prec), title=f"{dataset}: truncation, fidelity vs variety")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))
    _footnote(fig, ["One line per run (seed), from the lowest psi to the highest."] +
              sorted({feature_note(rec), feature_note(prec)} - {""}))
    return fig


TRAJECTORY_COLUMNS = 6  # probe steps shown per run, evenly spaced, the last one included
TRAJECTORY_SEEDS = 3  # with few methods every seed up to this many gets a row; with more, one seed per method
TRAJECTORY_ROWS = 12  # beyond this many runs, each gets 3 probe steps, four runs to a row


def trajectory_runs(suite_path: Path, df: pd.DataFrame, dataset: str) -> tuple[list[tuple], list[dict], list[str]]:
    """The runs the trajectory figure shows ((method, seed), each method's first readable runs by seed), their
    probe points, and footnotes naming the methods left out and why. A damaged file costs its run's row, with a
    warning, never the leaderboard."""
    d = df[df.dataset == dataset].sort_values(["method", "seed"])
    recorded = [(r.method, r.seed, suite_path / "runs" / r.run_id / store.PROBE_POINTS) for r in d.itertuples()]
    recorded = [r for r in recorded if r[2].exists()]
    per_method = TRAJECTORY_SEEDS if len({m for m, _, _ in recorded}) <= 2 else 1
    shown, kept = [], []
    for method, seed, path in recorded:
        if sum(m == method for m, _ in shown) == per_method:
            continue
        try:
            points = store.load_torch(path)
            if not len(points["step"]):
                raise ValueError("no probes")
        except Exception as e:  # noqa: BLE001 - any damage
            warnings.warn(f"{path} is unreadable ({type(e).__name__}); its run is left out of the trajectory plot",
                          stacklevel=2)
            continue
        shown.append((method, seed))
        kept.append(points)
    methods = _methods(df, dataset)
    unrecorded = [m for m in methods if not any(r[0] == m for r in recorded)]
    unreadable = [m for m in methods if m not in unrecorded and not any(s[0] == m for s in shown)]
    notes = [left_out(f"no {store.PROBE_POINTS} (runs of 2-D data keep it when trained with the quality probe)",
                      unrecorded), left_out(f"{store.PROBE_POINTS} unreadable", unreadable)]
    if per_method == 1 and (d.groupby("method").size() > 1).any():
        notes.insert(0, "One run per method: its first readable seed by seed number (not chosen by its score).")
    return shown, kept, notes


def trajectory_figure(suite_path: Path, df: pd.DataFrame, dataset: str) -> plt.Figure | None:
    """2-D data: the probe's points (the same latents every time) over training, a row of panels per run, with the
    mixture's means; shows a generator hopping between modes or spreading over them (Metz et al. 2017, Fig. 1).
    Past TRAJECTORY_ROWS runs, three steps per run and four runs to a row. None when no run can be shown."""
    shown, kept, notes = trajectory_runs(suite_path, df, dataset)
    if not shown:
        return None
    compact = len(shown) > TRAJECTORY_ROWS
    per_line = 4 if compact else 1
    cols = min(3 if compact else TRAJECTORY_COLUMNS, max(len(k["step"]) for k in kept))
    size = 1.3 if compact else 1.9
    lines = -(-len(shown) // per_line)
    fig, axes = plt.subplots(lines, per_line * cols, figsize=(max(8.0, size * per_line * cols), size * lines + 0.5),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    centres = get_dataset(dataset).info.get("centres")
    for i, ((method, seed), k) in enumerate(zip(shown, kept)):
        row = axes[i // per_line, (i % per_line) * cols:(i % per_line + 1) * cols]
        _trajectory_row(row, f"{method}\nseed {seed}", k, centres, 6 if compact else 7)
    fig.suptitle(f"{dataset}: the probe's samples over training (red x: the mixture's means)", fontsize=9)
    _footnote(fig, notes)
    return fig


def _trajectory_row(axes: Sequence[plt.Axes], label: str, k: dict, centres, font: int) -> None:
    """One run's probe points at evenly spaced probe steps (the last one included), one panel each."""
    n = len(k["step"])
    picks = sorted({round(i * (n - 1) / max(len(axes) - 1, 1)) for i in range(len(axes))})
    lim = 1.3 * float(centres.abs().max()) if centres is not None else None
    for ax, pick in zip(axes, picks):
        ax.axis("on")
        ax.set_xticks([])
        ax.set_yticks([])
        pts = k["points"][pick]
        ax.scatter(pts[:, 0], pts[:, 1], s=1.5, alpha=0.5, color="#1f77b4", rasterized=True)
        if centres is not None:
            ax.scatter(centres[:, 0], centres[:, 1], s=14, marker="x", color="#c0392b", linewidths=0.8)
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim))
        ax.set_aspect("equal")
        ax.set_title(f"step {int(k['step'][pick]):,}", fontsize=font)
    axes[0].set_ylabel(label, fontsize=font)


def suite_figures(suite_path: Path, res: Results, options: board.Options = board.Options()
                  ) -> Iterator[tuple[str, plt.Figure]]:
    """(file name, figure) of every figure of a suite, one at a time (write_plots saves and closes each before the
    next is drawn): per data set its metric, curves, samples, quality, truncation and trajectory figures."""
    agg = compared(res, options)
    for dataset, column in sorted(res.main.items()):
        slug = _slug(dataset)
        higher, protocol = res.higher[column], res.protocols.get((dataset, column), {})
        yield f"metric_{slug}.png", metric_figure(res.df, agg, dataset, column, higher, protocol, options.test)
        curves = curves_figure(suite_path, res.df, dataset)
        if curves is not None:
            yield f"curves_{slug}.png", curves
        yield f"samples_{slug}.png", samples_figure(suite_path, res.df, dataset, column, higher)
        for kind, make in (("quality", quality_figure), ("truncation", truncation_figure),
                           ("trajectory", trajectory_figure)):
            fig = make(suite_path, res.df, dataset)
            if fig is not None:
                yield f"{kind}_{slug}.png", fig


def write_plots(suite_path: Path, run_ids: Collection[str] | None = None, res: Results | None = None,
                options: board.Options = board.Options()) -> list[Path]:
    """All figures of a suite under <suite>/plots/ (only its current cells when `run_ids` is given; `res`: its runs,
    when the caller has loaded them; `options`: the leaderboard's test and baseline, for the marks)."""
    res = res or load_results(suite_path, run_ids)
    out = suite_path / "plots"
    out.mkdir(parents=True, exist_ok=True)
    return [save_figure(fig, out / name) for name, fig in suite_figures(suite_path, res, options)]


def trajectory_plot(suite_path: Path, df: pd.DataFrame, dataset: str, out: Path) -> Path | None:
    """trajectory_<dataset>.png under `out`, or None when no run can be shown."""
    fig = trajectory_figure(suite_path, df, dataset)
    if fig is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, out / f"trajectory_{_slug(dataset)}.png")


def health_plot(run_dir: Path) -> Path:
    """health.png of one run: losses, D's accuracy, gradient norms, the largest singular value of every weight
    matrix of G and D, and the quality probe over training, with the health verdict and the step it names marked."""
    run_dir = Path(run_dir)
    rec = store.read_json(run_dir / store.METRICS)
    h = pd.read_csv(run_dir / store.HISTORY)
    v = health.run_verdict(run_dir, rec)
    fig, grid = plt.subplots(2, 3, figsize=(14, 6.6), layout="constrained")
    axes = list(grid.flat[:5])
    grid.flat[5].axis("off")
    panels = [(["loss_d", "loss_g"], "losses", False), (["d_acc_real", "d_acc_fake"], "D accuracy", False),
              (["grad_norm_d", "grad_norm_g"], "gradient norm", True)]
    for ax, (cols, title, log) in zip(axes, panels):
        present = [c for c in cols if c in h]
        for c in present:
            ax.plot(h.step, h[c], label=c, linewidth=1)
        positive = bool(present) and bool((h[present].fillna(0) > 0).any().any())
        ax.set(title=title if present else f"{title} (not recorded)", xlabel="step",
               yscale="log" if log and positive else "linear")
        if present:
            ax.legend(fontsize=7)
    axes[1].axhline(0.5, color="#999999", linewidth=0.8, linestyle=":")
    _spectra_panel(axes[3], run_dir)
    _probe_panel(axes[4], run_dir, rec)
    if v["step"] is not None:
        for a in axes:
            a.axvline(v["step"], color="#c0392b", linewidth=1, linestyle="--")
    fig.suptitle(f"{run_dir.name}: {v['verdict']}" + (f" ({v['evidence']})" if v["evidence"] else ""), fontsize=9)
    return save_figure(fig, run_dir / "health.png")


def _spectra_panel(ax: plt.Axes, run_dir: Path) -> None:
    f = run_dir / store.SPECTRA
    if f.exists():
        sp = pd.read_csv(f)
        for (net, _), g in sp[sp.step >= 0].groupby(["net", "layer"], sort=False):
            ax.plot(g.step, g.s0, linewidth=0.8, color="#c0392b" if net == "G" else "#1f4e79", alpha=0.7)
        ax.plot([], [], color="#c0392b", label="G layers")
        ax.plot([], [], color="#1f4e79", label="D layers")
        ax.legend(fontsize=7)
    ax.set(title="largest singular value per layer" + ("" if f.exists() else " (not recorded)"), xlabel="step",
           yscale="log")


def _probe_panel(ax: plt.Axes, run_dir: Path, rec: dict) -> None:
    f = run_dir / store.QUALITY
    sel = (rec.get("checkpoints") or {}).get("selection")
    if f.exists():
        q = pd.read_csv(f)
        ax.plot(q["step"], q["select"], label="to half A (selects)", linewidth=1)
        ax.plot(q["step"], q["report"], label="to half B (reports)", linewidth=1)
        if sel:
            ax.axvline(sel["best"]["step"], color="#27ae60", linewidth=1, label=f"chosen: step {sel['best']['step']}")
        positive = bool((q[["select", "report"]] > 0).any().any())
        ax.set(yscale="log" if positive else "linear")
        ax.legend(fontsize=7)
    metric = sel["protocol"]["metric"] if sel else "quality"
    ax.set(title=f"quality probe ({metric})" if f.exists() else "quality probe (not recorded)", xlabel="step")


def modes_plot(hist, path: Path, title: str) -> Path:
    """modes.png: the share of generated and of training samples per mode; above 100 modes, both shares sorted
    from the most to the least frequent (a collapsed generator piles onto few modes)."""
    gen = hist.generated.double() / max(1, int(hist.generated.sum()))
    real = hist.data.double() / max(1, int(hist.data.sum()))
    k = len(gen)
    fig, ax = plt.subplots(figsize=(min(14, max(5, 0.3 * k + 2)) if k <= 100 else 8, 3.4))
    if k <= 100:
        x = np.arange(k)
        ax.bar(x - 0.2, real.numpy(), width=0.4, color="#bbbbbb", label="training data")
        ax.bar(x + 0.2, gen.numpy(), width=0.4, color="#c0392b", label="generated")
        ax.set(xlabel=f"mode ({hist.unit})", xticks=x if k <= 30 else x[::5])
    else:
        ax.plot(np.sort(real.numpy())[::-1], color="#888888", label="training data")
        ax.plot(np.sort(gen.numpy())[::-1], color="#c0392b", label="generated")
        ax.set(xlabel=f"modes sorted by share ({hist.unit})", yscale="log")
    ax.set(ylabel="share of the samples on a mode", title=f"{title}: {hist.covered} of {k} modes covered")
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def _rgb(image) -> np.ndarray:
    """One image tensor in [-1, 1] (C x H x W) as H x W x 3 in [0, 1] for imshow, grey repeated to three channels
    (what torchvision's make_grid gives for one image, without importing torchvision: 1-2 s of every plot command)."""
    rgb = image.clamp(-1, 1).add(1).div(2)
    return (rgb.expand(3, -1, -1) if rgb.shape[0] == 1 else rgb).permute(1, 2, 0).numpy()


def neighbours_plot(nb, data, path: Path, title: str) -> Path:
    """neighbours.png: generated images (top row) above their nearest training image in pixels and in the
    classifier's features, each with its distance; red where nearer than the memorization threshold."""
    rows = [("generated", nb.fake, None, None), ("nearest in pixels", data.floats(nb.pixel_index), nb.pixel_distance,
                                                   nb.pixel_threshold)]
    if nb.feature_index is not None:
        rows.append(("nearest in features", data.floats(nb.feature_index), nb.feature_distance, nb.feature_threshold))
    n = len(nb.fake)
    fig, axes = plt.subplots(len(rows), n, figsize=(0.8 * n, 1.0 * len(rows) + 0.5), squeeze=False)
    for r, (label, images, dist, thr) in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            ax.imshow(_rgb(images[i]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if dist is not None:
                ax.set_title(f"{float(dist[i]):.2g}", fontsize=6, color="#c0392b" if dist[i] < thr else "#333333")
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.suptitle(f"{title}: nearest training images (distance; red: below the 5% leave-one-out threshold)",
                 fontsize=8)
    return save_figure(fig, path)


def budget_plot(c: pd.DataFrame, dataset: str, metric: str, higher: bool, path: Path) -> Path:
    """The expected best of k per method, budget on a log axis: a first panel with every method's line, then a
    panel per method with its bootstrap band in its colour (the others' lines in grey), so bands never blend."""
    methods = sorted(c["method"].unique())
    colours = _palette(methods)
    bounds = metric_range(metric)
    cols = min(3 if len(methods) <= 5 else 4, len(methods) + 1)
    rows = -(-(len(methods) + 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(8.0, 4.0 * cols), 2.9 * rows + 0.4), sharex=True,
                             sharey=True, squeeze=False, layout="constrained")
    for ax in axes.flat[len(methods) + 1:]:
        ax.axis("off")
    curves = {m: c[c.method == m].sort_values("k") for m in methods}
    for method in methods:
        axes.flat[0].plot(curves[method]["k"], curves[method]["mean"], color=colours[method], linewidth=1.6,
                          label=method)
    axes.flat[0].set_title("every method (legend)", fontsize=9)
    axes.flat[0].legend(fontsize=7, loc="best")
    for ax, method in zip(axes.flat[1:], methods):
        _budget_panel(ax, curves, method, colours[method], bounds, metric)
    name = metric_name(metric)
    for ax in axes.flat[:len(methods) + 1]:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda k, _: f"{k:g}"))  # budgets: 1, 2, 5, 10, ...
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.tick_params(labelsize=7)
    fig.supxlabel("budget k (hyper-parameter samples)", fontsize=9)
    fig.supylabel(f"expected best {name}", fontsize=9)
    fig.suptitle(f"{dataset}: best {name} vs budget ({'higher' if higher else 'lower'} is better)")
    clip = f", clipped to {range_text(*bounds)}" if bounds != (-math.inf, math.inf) else ""
    _footnote(fig, ["Lines: the expected best of k hyper-parameter samples; bands: its percentile bootstrap 95% "
                    f"interval over the samples{clip}. A panel per method: its band and line in its colour, the "
                    "other methods' lines in grey.", feature_note(metric)])
    return save_figure(fig, path)


def _budget_panel(ax: plt.Axes, curves: dict[str, pd.DataFrame], method: str, colour, bounds: tuple[float, float],
                  metric: str) -> None:
    for other, m in curves.items():
        if other != method:
            ax.plot(m["k"], m["mean"], color="#bbbbbb", linewidth=0.8)
    m = curves[method]
    ax.fill_between(m["k"], np.clip(m["lo"], *bounds), np.clip(m["hi"], *bounds), color=colour, alpha=0.25,
                    linewidth=0, gid=f"band:{metric}")
    ax.plot(m["k"], m["mean"], color=colour, linewidth=1.6)
    ax.set_title(method, fontsize=9, color=colour)


def sample_figures(run: Path, checkpoint: str) -> list[tuple[str, bool]]:
    """modes.png and neighbours.png of one run from its kept `checkpoint`: (line to print, whether it is a
    problem) for each figure written, or why none was (no such checkpoint kept, non-finite samples)."""
    if not (run / checkpoint).exists():
        return [(f"{run.name} has no {checkpoint} (not kept with committed results): no sample plots", True)]
    s, fake, step = diagnostics.run_samples(run, checkpoint)
    if not bool(fake.isfinite().all()):
        return [(f"{checkpoint} of {run.name} makes non-finite samples: no sample plots", True)]
    title = f"{s.spec.method} s{s.spec.seed}, step {step}"
    lines = []
    hist = diagnostics.mode_histogram(s, fake)
    if hist is not None:
        lines.append((f"{modes_plot(hist, run / 'modes.png', title)}: {hist.covered} of {len(hist.data)} modes covered",
                      False))
    if s.data.kind == "image":
        nb = diagnostics.neighbours(s, fake)
        share = float((nb.pixel_distance < nb.pixel_threshold).double().mean())
        lines.append((f"{neighbours_plot(nb, s.data, run / 'neighbours.png', title)}: {share:.0%} of the shown "
                      "samples nearer to a training image than the pixel threshold", False))
    return lines
