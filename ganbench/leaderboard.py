"""Aggregate a suite's finished runs with pandas: per data set and method, mean/std/best over seeds, and rank."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Collection

import numpy as np
import pandas as pd

from ganbench import health, render, stats, store
from ganbench.render import Block, slug
from ganbench.reproduction import write_report
from ganbench.results import FAILED, ID_COLUMNS, TAG, Results, load_results


def add_sampling(agg: pd.DataFrame, draws: pd.DataFrame) -> pd.DataFrame:
    """The spread over sampling seeds beside the spread over training seeds: sampling_sd = the square root of the
    mean over a method's runs of each run's variance over its sample draws (pooled), and the fewest draws a run
    had. Absent when no run was scored on several draws."""
    if draws.empty:
        return agg
    pooled = draws.groupby(["dataset", "method", "metric"]).agg(var=("var", "mean"), draws=("draws", "min"))
    pooled["sampling_sd"] = pooled["var"] ** 0.5
    return agg.merge(pooled[["sampling_sd", "draws"]].reset_index(), on=["dataset", "method", "metric"], how="left")


def cost_note(df: pd.DataFrame, dataset: str) -> str:
    """One sentence on what a data set's runs cost: devices, median training time, images seen, peak memory."""
    r = df[df.dataset == dataset]
    if r.empty or r["train_s"].isna().all():
        return ""
    devices = ", ".join(sorted({str(d) for d in r["device_model"] if d}))
    parts = [f"median training time {r['train_s'].median():.0f} s per run"]
    if r["images_seen"].notna().any():
        parts.append(f"{r['images_seen'].median():,.0f} real images seen")
    if r["peak_mib"].notna().any():
        parts.append(f"peak memory up to {r['peak_mib'].max():,.0f} MiB")
    return f" Cost: {'; '.join(parts)}" + (f" (on {devices})." if devices else ".")


def seed_groups(df: pd.DataFrame) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Each (dataset, method, metric)'s values over its runs (seeds), in sorted key order: the keys and the arrays."""
    metric_cols = [c for c in df.columns if c not in ID_COLUMNS]
    long = df.melt(id_vars=["dataset", "method", "seed"], value_vars=metric_cols, var_name="metric")
    long = long.dropna(subset=["value"]).sort_values(["dataset", "method", "metric", "seed"], kind="stable")
    keys = ["dataset", "method", "metric"]
    codes = long.groupby(keys, sort=True).ngroup().to_numpy()
    values = long["value"].to_numpy(dtype=float)
    bounds = np.flatnonzero(np.diff(codes)) + 1
    first = np.concatenate([[0], bounds]) if len(codes) else np.array([], dtype=int)
    return long.iloc[first][keys].reset_index(drop=True), np.split(values, bounds) if len(codes) else []


def aggregate(df: pd.DataFrame, higher: dict[str, bool], main: dict[str, str],
              groups: tuple[pd.DataFrame, list[np.ndarray]] | None = None) -> pd.DataFrame:
    """Long table: dataset, method, metric, mean, std, median, best, the bootstrap 95% interval of the mean
    (ci_lo, ci_hi), n, and the method's rank on the data set's main metric."""
    keys, values = groups if groups is not None else seed_groups(df)
    out = keys.copy()
    out["mean"] = [v.mean() for v in values]
    out["std"] = [v.std(ddof=1) if len(v) > 1 else 0.0 for v in values]
    out["median"] = [float(np.median(v)) for v in values]
    out["n"] = [len(v) for v in values]
    out["ci_lo"], out["ci_hi"] = stats.bootstrap_mean_ci(values)
    out["higher_is_better"] = out["metric"].map(higher)
    hi = np.array([v.max() for v in values]) if values else np.array([])
    lo = np.array([v.min() for v in values]) if values else np.array([])
    out["best"] = np.where(out["higher_is_better"].astype(bool), hi, lo)
    ranks = []
    for dataset, col in main.items():
        m = out[(out.dataset == dataset) & (out.metric == col)].copy()
        m["rank"] = m["mean"].rank(ascending=not higher[col], method="min").astype(int)
        ranks.append(m[["dataset", "method", "rank"]])
    return out.merge(pd.concat(ranks), on=["dataset", "method"], how="left") if ranks else out.assign(rank=np.nan)


def baselines(df: pd.DataFrame, suite_baseline: str | None = None) -> dict[tuple[str, str], str]:
    """(dataset, method) -> the method it is compared with: the trick-free method run with the same settings where
    the suite has exactly one, else the suite's declared baseline method on the same data set."""
    base = df[df.n_tricks == 0].groupby("config")["method"].unique()
    out = {}
    for (dataset, method), runs in df[df.n_tricks > 0].groupby(["dataset", "method"]):
        found = {m for c in runs.config.unique() if c in base.index for m in base[c]}
        if len(found) == 1:
            out[(dataset, method)] = found.pop()
    if suite_baseline:
        have = set(df.loc[df.method == suite_baseline, "dataset"])
        for dataset, method in df[["dataset", "method"]].drop_duplicates().itertuples(index=False):
            if dataset in have and method != suite_baseline:
                out.setdefault((dataset, method), suite_baseline)
    return out


def add_deltas(agg: pd.DataFrame, df: pd.DataFrame, groups: tuple[pd.DataFrame, list[np.ndarray]] | None = None,
               test: str = "welch", suite_baseline: str | None = None) -> pd.DataFrame:
    """Each method's change against its baseline, per metric: delta = mean - baseline mean, delta_se =
    sqrt(s1^2/n1 + s0^2/n0) (the standard error of a difference of two independent means), the two-sided p-value
    of `test` on the two sets of seeds, and p_holm: Holm's correction over each (data set, metric)'s comparisons;
    significant = p_holm < stats.ALPHA."""
    ref = baselines(df, suite_baseline)
    agg = agg.copy()
    agg["baseline"] = [ref.get((d, m)) for d, m in zip(agg.dataset, agg.method)]
    b = agg[["dataset", "method", "metric", "mean", "std", "n"]].rename(
        columns={"method": "baseline", "mean": "b_mean", "std": "b_std", "n": "b_n"})
    agg = agg.merge(b, on=["dataset", "baseline", "metric"], how="left")
    agg["delta"] = agg["mean"] - agg["b_mean"]
    agg["delta_se"] = ((agg["std"] ** 2 / agg["n"]) + (agg["b_std"] ** 2 / agg["b_n"])) ** 0.5
    keys, values = groups if groups is not None else seed_groups(df)
    index = {k: i for i, k in enumerate(keys.itertuples(index=False, name=None))}
    pairs = [(index.get((d, m, c)), index.get((d, bm, c)))
             for d, m, bm, c in zip(agg.dataset, agg.method, agg.baseline, agg.metric)]
    todo = [i for i, (a, z) in enumerate(pairs) if a is not None and z is not None]
    p = np.full(len(agg), np.nan)
    p[todo] = stats.TESTS.get(test)([values[pairs[i][0]] for i in todo], [values[pairs[i][1]] for i in todo])
    agg["p"] = p
    agg["p_holm"] = np.nan
    for _, idx in agg[agg.baseline.notna()].groupby(["dataset", "metric"]).groups.items():
        agg.loc[idx, "p_holm"] = stats.holm(agg.loc[idx, "p"].to_numpy())
    agg["significant"] = agg["p_holm"] < stats.ALPHA
    agg["test"] = np.where(agg.baseline.notna(), test, None)
    return agg.drop(columns=["b_mean", "b_std", "b_n"])


def fmt_delta(delta: float, se: float, higher: bool, p_holm: float = math.nan) -> str:
    """'+1.23 ± 0.40' with a mark: ▲ better / ▼ worse when the difference is significant after Holm's correction
    (p_holm < stats.ALPHA); △ / ▽ when it only exceeds two standard errors (uncorrected, descriptive)."""
    if delta is None or math.isnan(delta):
        return ""
    scale = max(abs(delta), 1e-12)
    digits = 2 if scale >= 1 else 3
    mark = ""
    better = (delta > 0) == higher
    if not math.isnan(p_holm) and p_holm < stats.ALPHA and delta != 0:
        mark = " ▲" if better else " ▼"
    elif not math.isnan(se) and abs(delta) > 2 * se and delta != 0:
        mark = " △" if better else " ▽"
    return f"{delta:+.{digits}f} ± {se:.{digits}f}{mark}"


def fmt_p(p: float) -> str:
    """A p-value for a table: two significant digits, '<0.001' below that."""
    if p is None or math.isnan(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.2g}"


def delta_summary(agg: pd.DataFrame, main: dict[str, str], higher: dict[str, bool]) -> pd.DataFrame | None:
    """Tricks x data sets: the change of each data set's main metric against the baseline."""
    rows = agg[agg.baseline.notna() & (agg.metric == agg.dataset.map(main))]
    if rows.empty:
        return None
    table = rows.pivot_table(index="method", columns="dataset", values="delta", aggfunc="first")
    out = pd.DataFrame(index=table.index)
    for dataset in table.columns:
        sub = {r["method"]: r for r in rows[rows.dataset == dataset].to_dict("records")}
        empty = {"delta": math.nan, "delta_se": math.nan, "p_holm": math.nan}
        out[f"{dataset} ({main[dataset].split(' [')[0]})"] = [
            fmt_delta(*(sub.get(m, empty)[k] for k in ("delta", "delta_se")), higher[main[dataset]],
                      sub.get(m, empty)["p_holm"]) for m in out.index]
    return out.reset_index()


def fmt_num(x: float) -> str:
    """A number for a table cell: three significant digits, without an exponent up to 10^6."""
    return f"{x:.0f}" if 100 <= abs(x) < 1e6 else f"{x:.3g}"


def fmt(mean: float, std: float) -> str:
    scale = max(abs(mean), 1e-12)
    digits = 2 if scale >= 1 else 3
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def dataset_table(agg: pd.DataFrame, dataset: str, main_col: str, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Wide table for one data set, best first: rank, method, n, the main metric (mean ± std over training seeds,
    median, best seed, bootstrap 95% interval of the mean, spread over sampling seeds where measured, change
    against the baseline with its test's Holm-adjusted p), the other metrics; with `runs`, each method's health
    verdicts over its seeds and failure rate, and methods whose every seed diverged at the bottom."""
    a = agg[agg.dataset == dataset]
    cols = [main_col] + sorted(c for c in a.metric.unique() if c not in (main_col, FAILED))
    table = []
    has_draws, has_deltas = "sampling_sd" in a.columns, "delta" in a.columns
    per_method: dict[str, dict[str, dict]] = {}
    for r in a.to_dict("records"):
        per_method.setdefault(r["method"], {})[r["metric"]] = r
    for method, by in sorted(per_method.items()):
        if main_col not in by:  # every seed diverged: listed at the bottom below
            continue
        main_row = by[main_col]
        row = {"rank": int(main_row["rank"]), "method": method, "seeds": int(main_row["n"])}
        for c in cols:
            if c not in by:
                continue
            row[c] = fmt(by[c]["mean"], by[c]["std"])
            if c != main_col:
                continue
            row["median"] = fmt_num(main_row["median"])
            row["best"] = fmt_num(main_row["best"])
            row["95% CI"] = f"[{fmt_num(main_row['ci_lo'])}, {fmt_num(main_row['ci_hi'])}]"
            if has_draws and not math.isnan(main_row["sampling_sd"]):
                row["± sampling"] = f"{main_row['sampling_sd']:.2g} ({int(main_row['draws'])} draws)"
            if has_deltas:
                has_base = isinstance(main_row["baseline"], str)
                row["Δ"] = fmt_delta(main_row["delta"], main_row["delta_se"], bool(main_row["higher_is_better"]),
                                     main_row["p_holm"]) if has_base else ""
                row["p (Holm)"] = fmt_p(main_row["p_holm"]) if has_base else ""
        table.append(row)
    if runs is not None and "health" in runs:
        r = runs[runs.dataset == dataset]
        verdicts = {m: health_counts(g) for m, g in r.groupby("method")["health"]}
        rates = r.groupby("method")["health"].apply(lambda v: (v != "ok").mean()).to_dict()
        rank_after = len(table) + 1
        for method in sorted(set(r.method) - {row["method"] for row in table}):  # every seed diverged
            table.append({"rank": rank_after, "method": method, "seeds": 0})
        steps = r.groupby("method")["best_step"].median().to_dict() if "best_step" in r else {}
        train = r.groupby("method")["train_s"].median().to_dict() if "train_s" in r else {}
        failing = r[r.health != "ok"]
        failed_at = {m: ", ".join(str(int(x)) for x in sorted(g.dropna()))
                     for m, g in failing.groupby("method")["health_step"]}
        for row in table:
            row["health"] = verdicts.get(row["method"], "")
            row["failure rate"] = f"{rates.get(row['method'], 0.0):.0%}"
            row["failure step"] = failed_at.get(row["method"], "")
            if not math.isnan(steps.get(row["method"], math.nan)):
                row["best step"] = f"{steps[row['method']]:.0f}"
            if not math.isnan(train.get(row["method"], math.nan)):
                row["train s"] = f"{train[row['method']]:.3g}"
    out = pd.DataFrame(table).fillna("").sort_values(["rank", "method"]).reset_index(drop=True)
    empty = [c for c in out.columns if c in ("Δ", "p (Holm)", "± sampling") and (out[c] == "").all()]
    return out.drop(columns=empty)


COLLAPSE_COLUMNS = ("modes", "recall")  # the compact table's view of collapse: modes covered, else recall
SEED_COLUMNS = ("seed", "health", "train_s")


def compact_table(full: pd.DataFrame, main_col: str) -> pd.DataFrame:
    """leaderboard.md's table of one data set, at most 10 columns, from its full table: rank, method, seeds, the
    main metric (mean ± std over seeds [bootstrap 95% CI]), its spread over sampling seeds (where measured), Δ
    against the baseline with Holm's p, the modes covered (else the recall), the main metric of the probe's chosen
    checkpoint (`@best`), the seeds' health and the median training time."""
    base = TAG.sub("", main_col)
    out = full[["rank", "method", "seeds"]].copy()
    if main_col in full:
        ci = full["95% CI"] if "95% CI" in full else ""
        out[f"{base} (95% CI)"] = [f"{v} {c}".strip() if v else "" for v, c in zip(full[main_col], ci)]
    if "± sampling" in full:
        out["± sampling"] = full["± sampling"]
    if "Δ" in full:
        ps = full["p (Holm)"] if "p (Holm)" in full else [""] * len(full)
        out["Δ (p Holm)"] = [f"{d} (p {p})" if d and p else d for d, p in zip(full["Δ"], ps)]
    collapse = next((c for name in COLLAPSE_COLUMNS for c in full.columns
                     if TAG.sub("", c) == name and TAG.sub("", c) != base), None)
    if collapse is not None:
        out[TAG.sub("", collapse)] = full[collapse]
    best = next((c for c in full.columns if TAG.sub("", c) == f"{base}@best"), None)
    if best is not None:
        out[f"{base}@best"] = full[best]
    for c in ("health", "train s"):
        if c in full:
            out[c] = full[c]
    return out


def seed_details(df: pd.DataFrame, dataset: str, runs_dir: Path, main_col: str) -> dict[str, render.Seeds]:
    """Each method's seeds on a data set, for the HTML page's expanded rows: one row per run (seed, main metric,
    every other metric, health, training seconds) and each run's sample grid (runs/<run_id>/samples.png)."""
    out = {}
    for method, g in df[df.dataset == dataset].groupby("method"):
        g = g.sort_values("seed")
        metrics = [main_col] + sorted(c for c in g.columns
                                      if c not in ID_COLUMNS and c not in (main_col, FAILED) and g[c].notna().any())
        table = pd.DataFrame({"seed": g["seed"].astype(int)})
        for c in metrics:
            if c in g:
                table[TAG.sub("", c)] = [f"{v:.4g}" if not pd.isna(v) else "" for v in g[c]]
        for c in ("health", "train_s"):
            if c in g:
                table[c.replace("_", " ")] = [v if isinstance(v, str) else ("" if pd.isna(v) else f"{v:.3g}")
                                              for v in g[c]]
        samples = tuple((f"seed {int(seed)}", runs_dir / run_id / store.SAMPLES)
                        for seed, run_id in zip(g["seed"], g["run_id"]))
        out[method] = render.Seeds(table.reset_index(drop=True), samples)
    return out


def health_counts(verdicts: pd.Series) -> str:
    """'3 ok' or '1 ok, 2 mode-collapse': the health verdicts of a method's seeds, in the order of VERDICTS."""
    counts = Counter(verdicts)
    return ", ".join(f"{counts[v]} {v}" for v in health.VERDICTS if v in counts)


@dataclass(frozen=True)
class Options:
    """How a leaderboard is aggregated: the significance test (a ganbench.stats.TESTS name) and the suite's
    baseline method (compared with every other method on the same data set, where no trick-free twin is)."""

    test: str = "welch"
    baseline: str | None = None
    variant: str = ""  # what the command line changed in the suite's cells (bench --set/--seeds), stated on top


DOCS = "../../docs/leaderboards.md"  # the columns' full definitions, from results/<suite>/ in the repository


def short_legend(options: Options) -> str:
    """leaderboard.md's two-line legend."""
    test = {"welch": "Welch's t-test", "mannwhitney": "Mann-Whitney U"}.get(options.test, options.test)
    return (f"Mean ± std over training seeds [bootstrap 95% CI of the mean]; Δ: change against the baseline ± its "
            f"standard error, ▲/▼ significant after Holm's correction ({test}, p shown), △/▽ beyond two standard "
            f"errors only; health: each seed's verdict.\nEvery column, each seed's values and sample grids: "
            f"leaderboard.html and leaderboard.csv; every definition: [docs/leaderboards.md]({DOCS}).")


def legend(options: Options, has_draws: bool) -> str:
    """The paragraph under the title: what every column means."""
    test = {"welch": "Welch's t-test", "mannwhitney": "the Mann-Whitney U test"}.get(options.test, options.test)
    return ("Mean ± std over training seeds (different runs); `median` and `best` over the same seeds; `95% CI` the "
            "percentile bootstrap interval of the mean over seeds (2,000 resamples; with 3 seeds it describes the "
            "seeds run and is narrower than a t-interval). " + (
                "`± sampling`: the standard deviation of the main metric over sample draws of the same final "
                "checkpoint (sampling seeds, `ganbench evaluate --draws`), pooled over the method's runs; the "
                "plain ± is always the training-seed spread. " if has_draws else "") +
            f"`Δ`: the change of the mean against the method's baseline ± the standard error of the difference; "
            f"`p (Holm)`: two-sided p of {test} on the two sets of seeds, Holm-corrected over the data set's "
            f"comparisons; ▲/▼ mark significant improvements/degradations (p (Holm) < {stats.ALPHA}), △/▽ differences "
            "beyond two standard errors that are not significant after the correction. "
            "Rank by the mean of the main metric (first metric column). Metrics in brackets were computed in that "
            "feature space (extractor@weights-hash) and are only comparable within a column. `health`: each "
            "seed's verdict (" + "; ".join(f"{v}: {health.EXPLAINED[v]}" for v in health.VERDICTS) +
            "); `failure rate`: the share of seeds whose verdict is not ok, `failure step` the step each failing "
            "seed's verdict names (a collapse: the first quality probe from which the mode coverage stayed "
            "collapsed, else the last logged step). Metrics are those of the last checkpoint, except the quality "
            "probe's (runs trained with one): `@best` is the checkpoint with the lowest probe FID (or FD) against "
            "half A of the training data, scored against half B; `@final` the last checkpoint on the same probe; "
            "`best step` the median step of the chosen checkpoint over seeds; `train s` the median training wall "
            "time of a seed. Each data set states its metrics' protocols and what its runs cost.")


def preamble(suite_path: Path, res: Results, options: Options, missing_baseline: bool) -> list[Block]:
    """The title, the legend (two lines in Markdown, in full on the HTML page) and what the tables leave out or add."""
    blocks = [Block.title(f"Leaderboard: {suite_path.name}"), Block.para(short_legend(options), only="markdown"),
              Block.para(legend(options, not res.draws.empty), only="html")]
    if options.variant:
        blocks.append(Block.para(f"The suite's cells as changed on the command line (`ganbench bench --set/--seeds`): "
                                 f"{options.variant}. `ganbench leaderboard` without them aggregates the suite's own "
                                 "cells again."))
    if res.left_out:
        blocks.append(Block.para(f"{res.left_out} finished runs under runs/ are from an earlier version of the suite "
                                 "or from other `--set`/`--seeds` and are not included."))
    if res.added:
        blocks.append(Block.para(f"Also shown: {', '.join(f'`{m}`' for m in res.added)}: tricks added to the suite's "
                                 "axis (`--add-trick`), whose runs share every other setting with the suite's cells."))
    if missing_baseline:
        blocks.append(Block.para(f"The baseline method `{options.baseline}` has no finished runs yet: methods are "
                                 "compared with it once it has."))
    return blocks


def build_report(suite_path: Path, run_ids: Collection[str] | None = None, options: Options = Options(),
                 res: Results | None = None) -> tuple[pd.DataFrame, list[Block]]:
    """The aggregated long table and the leaderboard as blocks (rendered to Markdown, HTML or LaTeX), from the
    suite's runs (`res`: as results.load_results(suite_path, run_ids) gives them, when the caller has them)."""
    res = res or load_results(suite_path, run_ids)
    higher, main = res.higher, res.main
    missing_baseline = options.baseline is not None and options.baseline not in set(res.df.method)
    groups = seed_groups(res.df)
    agg = aggregate(res.df, higher, main, groups)
    agg = add_sampling(agg, res.draws)
    has_deltas = bool(baselines(res.df, options.baseline))
    if has_deltas:
        agg = add_deltas(agg, res.df, groups, options.test, options.baseline)
    blocks = preamble(suite_path, res, options, missing_baseline)
    if (suite_path / "budget.md").exists():
        blocks.append(Block.para("The suite searches hyper-parameters: each row is its cells' own settings (sample "
                                 "0, all seeds); `budget.md` gives the best score as a function of the number of "
                                 "samples tried (Lucic et al. 2018)."))
    summary = delta_summary(agg, main, higher) if has_deltas else None
    if summary is not None:
        blocks += [Block.section("Change against the baseline"),
                   Block.para(only="html", text="Each method's main metric minus that of its baseline (the same settings without its "
                              "tricks, or the suite's baseline method): Δ of the means ± the standard error of the "
                              f"difference. ▲: significantly better, ▼: significantly worse (p (Holm) < "
                              f"{stats.ALPHA}, {options.test} test); △/▽: better/worse by more than two standard "
                              "errors, not significant after Holm's correction."),
                   Block.data(summary, "Change of each data set's main metric against the baseline", "change")]
    plots = suite_path / "plots"
    for dataset in sorted(main):
        arrow = "higher is better" if higher[main[dataset]] else "lower is better"
        table = dataset_table(agg, dataset, main[dataset], res.df)
        tags = {m.group(1) for c in table.columns if (m := TAG.search(c))}
        space = ""
        if len(tags) == 1:  # one feature space on this data set: say it once, keep the headers short
            space = f" Bracketed metrics (shown without brackets) are in feature space `{tags.pop()}`."
            table.columns = [TAG.sub("", c) for c in table.columns]
        note = flattery_note(res.df, dataset)
        proto = protocol_note(res.protocols, dataset)
        cost = cost_note(res.df, dataset)
        main_col = TAG.sub("", main[dataset]) if space else main[dataset]
        blocks += [Block.section(dataset),
                   Block.para(f"Main metric: `{main[dataset]}` ({arrow}).{space}{proto}{cost}", only="markdown"),
                   Block.para(f"Main metric: `{main[dataset]}` ({arrow}).{space}{note}{proto}{cost}", only="html"),
                   Block.data(compact_table(table, main_col), f"{suite_path.name} on {dataset}: `{main[dataset]}` "
                              f"({arrow}), mean ± std over training seeds", slug(dataset), full=table,
                              seeds=seed_details(res.df, dataset, suite_path / "runs", main[dataset]))]
        blocks += [Block.figure(f, f.stem.replace("_", " on ", 1))
                   for f in sorted(plots.glob(f"*_{dataset}.png")) if f.stem.split("_", 1)[1] == dataset]
    return agg, blocks


def build_leaderboard(suite_path: Path, run_ids: Collection[str] | None = None,
                      options: Options = Options()) -> tuple[pd.DataFrame, str]:
    """The aggregated long table and the Markdown leaderboard of a suite's results."""
    agg, blocks = build_report(suite_path, run_ids, options)
    return agg, render.markdown([b for b in blocks if b.kind != "figure"])


def protocol_note(protocols: dict[tuple[str, str], dict], dataset: str) -> str:
    """The evaluation protocols of a data set's columns, one clause per group of columns that share one."""
    groups: dict[str, list[str]] = {}
    for (d, col), p in sorted(protocols.items()):
        if d == dataset:
            text = ", ".join(f"{k} {v}" for k, v in p.items() if k != "features")
            groups.setdefault(f"{p.get('features', 'none')}: {text}", []).append(TAG.sub("", col))
    if not groups:
        return ""
    return " Protocol: " + "; ".join(f"{', '.join(cols)} ({text})" for text, cols in groups.items()) + "."


def flattery_note(df: pd.DataFrame, dataset: str) -> str:
    """One sentence: how much lower the probe would have reported had the checkpoint been chosen on the reporting
    half itself, over the data set's probed runs."""
    if "flattery" not in df:
        return ""
    f = df.loc[df.dataset == dataset, "flattery"].dropna()
    if f.empty:
        return ""
    return (f" Choosing each run's checkpoint on half B itself would have reported `@best` lower by {f.mean():.3g} "
            f"on average ({(f > 0).mean():.0%} of {len(f)} runs flattered).")


FORMATS = ("csv", "markdown", "html", "latex")
DEFAULT_FORMATS = ("csv", "markdown", "html")


def write_leaderboard(suite_path: Path, run_ids: Collection[str] | None = None, reproduces=None,
                      options: Options = Options(), formats: Collection[str] = DEFAULT_FORMATS,
                      res: Results | None = None) -> list[Path]:
    """Write the leaderboard next to the suite's runs in each of `formats`: leaderboard.csv (the long table),
    leaderboard.md, leaderboard.html (one self-contained page with the tables and the suite's plots) and
    leaderboard.tex (booktabs tables); and reproduction.md when the suite reproduces a paper (`reproduces`: its
    ganbench.reproduction.Reproduction). `res`: the suite's runs, when the caller has loaded them."""
    res = res or load_results(suite_path, run_ids)
    agg, blocks = build_report(suite_path, run_ids, options, res)
    out = []
    if "csv" in formats:
        out.append(suite_path / "leaderboard.csv")
        store.write_text(out[-1], agg.to_csv(index=False))
    for fmt_name in ("markdown", "html", "latex"):
        if fmt_name in formats:
            filename, renderer = render.FORMATS[fmt_name]
            shown = blocks if fmt_name == "html" else [b for b in blocks if b.kind != "figure"]
            out.append(suite_path / filename)
            store.write_text(out[-1], renderer(shown, suite_path.name))
    if reproduces is not None:
        runs = res.df if reproduces.claims else None
        out.append(write_report(reproduces, suite_path, agg, runs))
    return out
