"""Seaborn figures of a suite: main-metric distributions over seeds, training curves, best samples per method."""
from __future__ import annotations

import numpy as np
import re
import warnings
from pathlib import Path
from typing import Collection

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402

from ganbench import store  # noqa: E402
from ganbench.results import Results, load_results  # noqa: E402
from ganbench.data import get_dataset
from ganbench import diagnostics, health


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    store.atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "_", text)


def metric_plot(df: pd.DataFrame, dataset: str, column: str, higher: bool, out: Path) -> Path:
    """Box plot of the main metric per method with each seed as a point, best method first."""
    d = df[(df.dataset == dataset) & df[column].notna()]  # diverged runs have no metrics
    order = d.groupby("method")[column].mean().sort_values(ascending=not higher).index.tolist()
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(order) + 2), 3.6))
    sns.boxplot(data=d, x="method", y=column, order=order, ax=ax, color="#dde6f0", fliersize=0)
    sns.stripplot(data=d, x="method", y=column, order=order, ax=ax, color="#1f4e79", size=5, jitter=0.15)
    ax.set(title=f"{dataset}: {column} ({'higher' if higher else 'lower'} is better)", xlabel="")
    ax.tick_params(axis="x", rotation=30)
    return _save(fig, out / f"metric_{_slug(dataset)}.png")


def run_tables(suite_path: Path, df: pd.DataFrame, dataset: str, name: str) -> pd.DataFrame | None:
    """The per-run CSV file `name` of every run of `dataset` that has one, with method and seed columns."""
    frames = []
    for _, row in df[df.dataset == dataset].iterrows():
        f = suite_path / "runs" / row["run_id"] / name
        if f.exists():
            frames.append(pd.read_csv(f).assign(method=row["method"], seed=row["seed"]))
    return pd.concat(frames) if frames else None


MANY_METHODS = 10  # beyond this, one small panel per method instead of one colour per method


def curves_plot(suite_path: Path, df: pd.DataFrame, dataset: str, out: Path) -> Path | None:
    """Losses and D accuracy over training per method (mean and band over seeds); with many methods, a small
    panel per method with D's accuracy on real and fake (the equilibrium practitioners watch) and D's loss."""
    h = run_tables(suite_path, df, dataset, store.HISTORY)
    if h is None:
        return None
    if h.method.nunique() > MANY_METHODS:
        long = h.melt(id_vars=["step", "method", "seed"], value_vars=["d_acc_real", "d_acc_fake", "loss_d"],
                      var_name="signal")
        grid = sns.relplot(data=long, x="step", y="value", hue="signal", col="method", col_wrap=8, kind="line",
                           errorbar="sd", height=1.7, aspect=1.25, linewidth=0.9,
                           col_order=sorted(h.method.unique()), facet_kws={"sharey": False})
        grid.set_titles("{col_name}", size=7)
        grid.set_axis_labels("step", "")
        for ax in grid.axes.flat:
            ax.tick_params(labelsize=6)
            ax.axhline(0.5, color="#999999", linewidth=0.6, linestyle=":")
        grid.figure.suptitle(f"{dataset}: D accuracy (real, fake) and D loss over training", y=1.0)
        return _save(grid.figure, out / f"curves_{_slug(dataset)}.png")
    panels = [("loss_d", "D loss"), ("loss_g", "G loss"), ("d_acc_real", "D accuracy on real"), ("d_acc_fake", "D accuracy on fake")]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
    for ax, (col, title) in zip(axes, panels):
        sns.lineplot(data=h, x="step", y=col, hue="method", ax=ax, errorbar="sd", legend=ax is axes[-1], linewidth=1)
        ax.set(title=title, ylabel="")
    if axes[-1].get_legend():
        sns.move_legend(axes[-1], "upper left", bbox_to_anchor=(1, 1), fontsize=7)
    fig.suptitle(dataset)
    return _save(fig, out / f"curves_{_slug(dataset)}.png")


def quality_plot(suite_path: Path, df: pd.DataFrame, dataset: str, out: Path) -> Path | None:
    """The quality probe over training per method (its distance to the reporting half B: mean and band over
    seeds), with each run's chosen checkpoint marked; a small panel per method when there are many."""
    q = run_tables(suite_path, df, dataset, store.QUALITY)
    if q is None:
        return None
    rec = store.read_json(suite_path / "runs" / df[df.dataset == dataset].run_id.iloc[0] / store.METRICS)
    sel = ((rec.get("checkpoints") or {}).get("selection") or {}).get("protocol", {})
    label = f"{sel.get('metric', 'fd')} to half B" + (f" [{sel['features']}]" if sel.get("features") else "")
    best = df[(df.dataset == dataset) & df.best_step.notna()][["method", "seed", "best_step"]]
    best = best.merge(q, left_on=["method", "seed", "best_step"], right_on=["method", "seed", "step"])
    many = q.method.nunique() > MANY_METHODS
    if many:
        grid = sns.relplot(data=q, x="step", y="report", col="method", col_wrap=8, kind="line", errorbar="sd",
                           height=1.7, aspect=1.25, linewidth=0.9, col_order=sorted(q.method.unique()))
        grid.set_titles("{col_name}", size=7)
        grid.set_axis_labels("step", "")
        for method, ax in grid.axes_dict.items():
            b = best[best.method == method]
            ax.scatter(b.step, b.report, s=10, color="#c0392b", zorder=3)
            ax.set_yscale("log")
            ax.tick_params(labelsize=6)
        grid.figure.suptitle(f"{dataset}: quality probe over training ({label}, log scale; dots: chosen "
                             "checkpoints)", y=1.0)
        return _save(grid.figure, out / f"quality_{_slug(dataset)}.png")
    fig, ax = plt.subplots(figsize=(7, 3.8))
    sns.lineplot(data=q, x="step", y="report", hue="method", ax=ax, errorbar="sd", linewidth=1)
    ax.scatter(best.step, best.report, s=12, color="#c0392b", zorder=3, label="chosen checkpoint")
    ax.set(yscale="log", ylabel=label, title=f"{dataset}: quality probe over training (log scale)")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1, 1), fontsize=7)
    return _save(fig, out / f"quality_{_slug(dataset)}.png")


def samples_plot(suite_path: Path, df: pd.DataFrame, dataset: str, column: str, higher: bool, out: Path) -> Path:
    """The samples.png of the best seed of each method, side by side, best method first."""
    d = df[(df.dataset == dataset) & df[column].notna()]  # diverged runs have no metrics
    order = d.groupby("method")[column].mean().sort_values(ascending=not higher).index.tolist()
    cols = min(5 if len(order) <= MANY_METHODS else 8, len(order))
    rows = -(-len(order) // cols)
    size = 3.0 if len(order) <= MANY_METHODS else 1.8  # many methods: smaller panels keep the file small
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, method in zip(axes.flat, order):
        m = d[d.method == method]
        best = m.loc[m[column].idxmax() if higher else m[column].idxmin()]
        img = suite_path / "runs" / best["run_id"] / store.SAMPLES
        if img.exists():
            ax.imshow(plt.imread(img))
        ax.set_title(f"{method}\nseed {best['seed']}: {best[column]:.3g}", fontsize=8 if size >= 3 else 6)
    fig.suptitle(f"{dataset}: best seed of each method")
    return _save(fig, out / f"samples_{_slug(dataset)}.png")


def truncation_plot(suite_path: Path, df: pd.DataFrame, dataset: str, out: Path) -> Path | None:
    """The fidelity/variety curve of runs with the truncation trick: precision against recall as psi varies."""
    t = run_tables(suite_path, df, dataset, store.TRUNCATION)
    if t is None:
        return None
    prec = next(c for c in t.columns if c.startswith("precision"))
    rec = next(c for c in t.columns if c.startswith("recall"))
    fig, ax = plt.subplots(figsize=(4.6, 4))
    for (method, seed), g in t.groupby(["method", "seed"]):
        g = g.sort_values("psi")
        ax.plot(g[rec], g[prec], marker="o", markersize=3, linewidth=1, label=f"{method} s{seed}")
        for _, r in g.iloc[[0, -1]].iterrows():
            ax.annotate(f"ψ={r.psi:g}", (r[rec], r[prec]), fontsize=6)
    ax.set(xlabel=rec, ylabel=prec, title=f"{dataset}: truncation, fidelity vs variety")
    ax.legend(fontsize=6)
    return _save(fig, out / f"truncation_{_slug(dataset)}.png")


TRAJECTORY_COLUMNS = 6  # probe steps shown per run, evenly spaced, the last one included
TRAJECTORY_SEEDS = 3  # with few methods every seed up to this many gets a row; with more, one seed per method


def trajectory_plot(suite_path: Path, df: pd.DataFrame, dataset: str, out: Path) -> Path | None:
    """2-D data: the probe's points (the same latents every time) over training, one row per run, with the
    mixture's means; shows a generator hopping between modes or spreading over them (Metz et al. 2017, Fig. 1)."""
    d = df[df.dataset == dataset].sort_values(["method", "seed"])
    runs = [(r.method, r.seed, suite_path / "runs" / r.run_id / store.PROBE_POINTS) for r in d.itertuples()]
    runs = [r for r in runs if r[2].exists()]
    methods = list(dict.fromkeys(m for m, _, _ in runs))
    per_method = TRAJECTORY_SEEDS if len(methods) <= 2 else 1
    shown, kept = [], []
    for method in methods:  # each method's first readable runs: a damaged file costs its row, never the leaderboard
        for run in [r for r in runs if r[0] == method]:
            if sum(m == method for m, _, _ in shown) == per_method:
                break
            try:
                kept.append(store.load_torch(run[2]))
            except Exception as e:  # noqa: BLE001 - any damage
                warnings.warn(f"{run[2]} is unreadable ({type(e).__name__}); its run is left out of the trajectory "
                              "plot", stacklevel=2)
                continue
            shown.append(run)
    runs = shown
    if not runs:
        return None

    centres = get_dataset(dataset).info.get("centres")
    n_probes = max(len(k["step"]) for k in kept)
    cols = min(TRAJECTORY_COLUMNS, n_probes)
    fig, axes = plt.subplots(len(runs), cols, figsize=(1.9 * cols, 1.9 * len(runs)), squeeze=False)
    lim = 1.3 * float(centres.abs().max()) if centres is not None else None
    for row, ((method, seed, _), k) in enumerate(zip(runs, kept)):
        n = len(k["step"])
        picks = sorted({round(i * (n - 1) / max(cols - 1, 1)) for i in range(cols)})
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(picks):
                ax.axis("off")
                continue
            pts = k["points"][picks[col]]
            ax.scatter(pts[:, 0], pts[:, 1], s=1.5, alpha=0.5, color="#1f77b4", rasterized=True)
            if centres is not None:
                ax.scatter(centres[:, 0], centres[:, 1], s=14, marker="x", color="#c0392b", linewidths=0.8)
                ax.set(xlim=(-lim, lim), ylim=(-lim, lim))
            ax.set_aspect("equal")
            ax.set_title(f"step {int(k['step'][picks[col]]):,}", fontsize=7)
            if col == 0:
                ax.set_ylabel(f"{method}\nseed {seed}", fontsize=7)
    fig.suptitle(f"{dataset}: the probe's samples over training (red x: the mixture's means)", fontsize=9)
    return _save(fig, out / f"trajectory_{_slug(dataset)}.png")


def write_plots(suite_path: Path, run_ids: Collection[str] | None = None, res: Results | None = None) -> list[Path]:
    """All figures of a suite under <suite>/plots/ (only its current cells when `run_ids` is given; `res`: its runs,
    when the caller has loaded them)."""
    res = res or load_results(suite_path, run_ids)
    df, higher, main = res.df, res.higher, res.main
    out = suite_path / "plots"
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for dataset, column in sorted(main.items()):
        paths.append(metric_plot(df, dataset, column, higher[column], out))
        curves = curves_plot(suite_path, df, dataset, out)
        if curves:
            paths.append(curves)
        paths.append(samples_plot(suite_path, df, dataset, column, higher[column], out))
        for extra in (quality_plot(suite_path, df, dataset, out), truncation_plot(suite_path, df, dataset, out),
                      trajectory_plot(suite_path, df, dataset, out)):
            if extra:
                paths.append(extra)
    return paths


def health_plot(run_dir: Path) -> Path:
    """health.png of one run: losses, D's accuracy, gradient norms, and the largest singular value of every
    weight matrix of G and D over training, with the health verdict and the step it names marked."""

    run_dir = Path(run_dir)
    rec = store.read_json(run_dir / store.METRICS)
    h = pd.read_csv(run_dir / store.HISTORY)
    spectra_file = run_dir / store.SPECTRA
    sp = pd.read_csv(spectra_file) if spectra_file.exists() else None
    v = health.run_verdict(run_dir, rec)
    q = pd.read_csv(run_dir / store.QUALITY) if (run_dir / store.QUALITY).exists() else None
    fig, axes = plt.subplots(1, 5, figsize=(21, 3.6))
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
    ax = axes[3]
    if sp is not None:
        for (net, layer), g in sp[sp.step >= 0].groupby(["net", "layer"], sort=False):
            ax.plot(g.step, g.s0, linewidth=0.8, color="#c0392b" if net == "G" else "#1f4e79", alpha=0.7)
        ax.plot([], [], color="#c0392b", label="G layers")
        ax.plot([], [], color="#1f4e79", label="D layers")
        ax.legend(fontsize=7)
    ax.set(title="largest singular value per layer", xlabel="step", yscale="log")
    ax = axes[4]
    sel = (rec.get("checkpoints") or {}).get("selection")
    if q is not None:
        ax.plot(q["step"], q["select"], label="to half A (selects)", linewidth=1)
        ax.plot(q["step"], q["report"], label="to half B (reports)", linewidth=1)
        if sel:
            ax.axvline(sel["best"]["step"], color="#27ae60", linewidth=1, label=f"chosen: step {sel['best']['step']}")
        positive = bool((q[["select", "report"]] > 0).any().any())
        ax.set(yscale="log" if positive else "linear")
        ax.legend(fontsize=7)
    metric = sel["protocol"]["metric"] if sel else "quality"
    ax.set(title=f"quality probe ({metric})" if q is not None else "quality probe (not recorded)", xlabel="step")
    if v["step"] is not None:
        for a in axes:
            a.axvline(v["step"], color="#c0392b", linewidth=1, linestyle="--")
    fig.suptitle(f"{run_dir.name}: {v['verdict']}" + (f" ({v['evidence']})" if v["evidence"] else ""), fontsize=9)
    return _save(fig, run_dir / "health.png")


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
    return _save(fig, path)


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
            img = make_grid(images[i : i + 1], nrow=1, normalize=True, value_range=(-1, 1), padding=0)
            ax.imshow(img.permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if dist is not None:
                ax.set_title(f"{float(dist[i]):.2g}", fontsize=6, color="#c0392b" if dist[i] < thr else "#333333")
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.suptitle(f"{title}: nearest training images (distance; red: below the 5% leave-one-out threshold)",
                 fontsize=8)
    return _save(fig, path)


def budget_plot(c: pd.DataFrame, dataset: str, metric: str, higher: bool, path: Path) -> Path:
    """One line per method (the expected best of k) with its bootstrap band, budget on a log axis."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    methods = sorted(c["method"].unique())
    for method, colour in zip(methods, sns.color_palette("tab10", len(methods))):
        m = c[c.method == method]
        ax.plot(m["k"], m["mean"], color=colour, label=method, linewidth=1.4)
        ax.fill_between(m["k"], m["lo"], m["hi"], color=colour, alpha=0.18, linewidth=0)
    ax.set_xscale("log")
    ax.set(xlabel="budget k (hyper-parameter samples)", ylabel=f"expected best {metric}",
           title=f"{dataset}: best {metric} vs budget ({'higher' if higher else 'lower'} is better)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    store.atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
    return path


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
