"""The expected best score as a function of the hyper-parameter search budget (Lucic et al. 2018, "Are GANs created
equal?", Sec. 5: comparisons of GANs depend on the computational budget, because a method that is worse at its
default settings may be better after a search of k settings).

For each data set and method, the suite's random search (ganbench.spec.search) gave K hyper-parameter samples; a sample's
value is the mean of the metric over its training seeds (its runs with a value; a sample whose every run diverged has
none and is left out, and counted as failed). Lucic et al. estimate the best score reached with budget k by drawing
k of the K samples with replacement and taking the best, many times over. Here that expectation is computed exactly
from the order statistics of the K values: with the values sorted from best to worst, the best of k draws is the
j-th (0-based) with probability ((K - j) / K)^k - ((K - j - 1) / K)^k, so

    mean(k) = sum_j x_(j) [((K - j) / K)^k - ((K - j - 1) / K)^k],

which is the limit of their resampling; for k = 1 it is the plain mean of the samples, and it never gets worse as k
grows. `lo`, `hi`: the percentile bootstrap 95% interval of mean(k), from resampling the K samples themselves (how
much the curve could move had the search drawn other settings); `q_lo`, `q_hi`: the 2.5% and 97.5% quantiles of the
best of k draws itself (the spread of what one search of k samples gives).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ganbench import stats, store
from ganbench.plots import budget_plot
from ganbench.spec.search import stable_hash
from ganbench.results import load_results

HP = "hp_sample"  # the run column naming a run's hyper-parameter sample (absent or empty: sample 0)
SHOWN_BUDGETS = (1, 2, 5, 10, 20, 50, 100)  # the budgets budget.md tabulates (up to the largest K)


def sample_values(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per (dataset, method, hp_sample): `value`, the mean of `metric` over the sample's runs that have one
    (NaN when none has: every seed diverged)."""
    runs = df.assign(**{HP: df[HP].fillna(0).astype(int) if HP in df else 0})
    return (runs.groupby(["dataset", "method", HP], sort=True)[metric].mean()
            .rename("value").reset_index())


def best_of_k_weights(n: int, budgets: np.ndarray) -> np.ndarray:
    """W[b, j]: the probability that the best of budgets[b] draws with replacement from n values sorted best first
    is the j-th (0-based); each row sums to 1."""
    j = np.arange(n)
    k = budgets[:, None].astype(float)
    return ((n - j) / n) ** k - ((n - j - 1) / n) ** k


def best_of_k_quantiles(losses: np.ndarray, budgets: np.ndarray, q: float) -> np.ndarray:
    """The q-quantile of the best (smallest) of k draws from `losses`, for every k in budgets (inverse CDF)."""
    x = np.sort(losses)
    n = len(x)
    cdf = 1.0 - ((n - np.arange(n) - 1) / n) ** budgets[:, None].astype(float)  # P(best <= x_(j))
    return x[np.argmax(cdf >= q - 1e-12, axis=1)]


def curve(values: np.ndarray, higher_is_better: bool, replicates: int, rng: np.random.Generator,
          level: float = stats.LEVEL) -> dict[str, np.ndarray]:
    """The budget curve of one method's sample values: k = 1..K, the exact expected best of k, its bootstrap
    interval (resampling the K values `replicates` times, all at once), and the quantiles of the best of k."""
    sign = -1.0 if higher_is_better else 1.0
    losses = sign * np.asarray(values, dtype=float)  # smaller is better from here on
    n = len(losses)
    budgets = np.arange(1, n + 1)
    weights = best_of_k_weights(n, budgets)  # K x n
    mean = weights @ np.sort(losses)
    boot = np.sort(losses[rng.integers(0, n, size=(replicates, n))], axis=1) @ weights.T  # replicates x K
    a, b = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2], axis=0)
    qa = best_of_k_quantiles(losses, budgets, (1 - level) / 2)
    qb = best_of_k_quantiles(losses, budgets, (1 + level) / 2)
    if higher_is_better:  # back to the metric's sign: the bounds swap
        a, b, qa, qb = -b, -a, -qb, -qa
    return {"k": budgets, "mean": sign * mean, "lo": a, "hi": b, "q_lo": qa, "q_hi": qb}


CURVE_COLUMNS = ["dataset", "method", "k", "mean", "lo", "hi", "q_lo", "q_hi", "samples", "failed"]


def budget_curve(df: pd.DataFrame, metric: str, higher_is_better: bool, replicates: int = 1000,
                 seed: int = 0) -> pd.DataFrame:
    """For each (dataset, method) of a runs table (columns dataset, method, `metric`, and hp_sample, whose absence
    means one sample per method): the expected best `metric` over k of its hyper-parameter samples for k = 1..K
    (mean), with the bootstrap 95% interval of that expectation (lo, hi), the 2.5%/97.5% quantiles of the best of k
    (q_lo, q_hi), K (samples) and the samples without a value (failed). Deterministic in `seed`: each method's
    resampling has its own stream (seed, data set, method), so adding a method leaves the others' intervals alone."""
    rows = []
    for (dataset, method), g in sample_values(df, metric).groupby(["dataset", "method"], sort=True):
        values = g["value"].dropna().to_numpy()
        if len(values) == 0:
            continue
        rng = np.random.default_rng([seed, stable_hash(str(dataset)), stable_hash(str(method))])
        c = pd.DataFrame(curve(values, higher_is_better, replicates, rng))
        rows.append(c.assign(dataset=dataset, method=method, samples=len(values),
                             failed=int(g["value"].isna().sum())))
    if not rows:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    return pd.concat(rows, ignore_index=True)[CURVE_COLUMNS]


def best_samples(df: pd.DataFrame, metric: str, higher_is_better: bool) -> pd.DataFrame:
    """Each (dataset, method)'s best hyper-parameter sample on `metric` (Lucic et al.'s best score per model and
    data set): its hp_sample, its value (the mean over its seeds) and its number of seeds with a value."""
    values = sample_values(df, metric).dropna(subset=["value"])
    best = values.sort_values(["dataset", "method", "value", HP], ascending=[True, True, not higher_is_better, True])
    best = best.groupby(["dataset", "method"], sort=True).head(1)
    runs = df.assign(**{HP: df[HP].fillna(0).astype(int) if HP in df else 0}).dropna(subset=[metric])
    seeds = runs.groupby(["dataset", "method", HP]).size().rename("seeds").reset_index()
    return best.merge(seeds, on=["dataset", "method", HP]).reset_index(drop=True)


def anchor_values(df: pd.DataFrame, metric: str, higher_is_better: bool) -> pd.DataFrame:
    """Per method (one data set's runs): `sample0`, the value of hyper-parameter sample 0 (NaN when its every run
    failed), `best` and `best_sample`, the best sample's value and number."""
    values = sample_values(df, metric).set_index(["method", HP])["value"]
    best = best_samples(df, metric, higher_is_better).set_index("method")
    rows = {m: {"sample0": values.get((m, 0), float("nan")), "best": best.at[m, "value"],
                "best_sample": best.at[m, HP]} for m in best.index}
    return pd.DataFrame.from_dict(rows, orient="index")


def has_search(df: pd.DataFrame) -> bool:
    """Whether some method of some data set has more than one hyper-parameter sample."""
    if HP not in df or df.empty:
        return False
    return bool((df.assign(**{HP: df[HP].fillna(0)}).groupby(["dataset", "method"])[HP].nunique() > 1).any())


def fmt(x: float) -> str:
    """A value for budget.md, with the leaderboard's precision: 2 decimals from 1 on, else 3."""
    return f"{x:.{2 if abs(x) >= 1 else 3}f}"


def budget_table(c: pd.DataFrame, anchors: pd.DataFrame | None = None) -> pd.DataFrame:
    """Methods x the SHOWN_BUDGETS up to the largest K: 'mean [lo, hi]' (blank where a method has fewer samples),
    best method at the largest budget first. `anchors` (indexed by method, from `anchor_values`) adds the value at
    sample 0 (the cell's own settings when the search includes them) and which sample was best."""
    top = int(c["k"].max())
    shown = [k for k in SHOWN_BUDGETS if k <= top] + ([top] if top not in SHOWN_BUDGETS else [])
    out = []
    for method, m in c.groupby("method"):
        by_k = m.set_index("k")
        row = {"method": method, "samples": int(m["samples"].iloc[0]), "failed": int(m["failed"].iloc[0])}
        if anchors is not None and method in anchors.index:
            a = anchors.loc[method]
            row["sample 0"] = fmt(a["sample0"]) if pd.notna(a["sample0"]) else "failed"
            row["best sample"] = f"{fmt(a['best'])} (#{int(a['best_sample'])})"
        for k in shown:
            row[f"k={k}"] = (f"{fmt(by_k.at[k, 'mean'])} [{fmt(by_k.at[k, 'lo'])}, {fmt(by_k.at[k, 'hi'])}]"
                             if k in by_k.index else "")
        row["_best"] = m.loc[m["k"].idxmax(), "mean"]
        out.append(row)
    return pd.DataFrame(out)


def budget_markdown(suite_name: str, curves: dict[str, tuple[str, bool, pd.DataFrame, pd.DataFrame]],
                    replicates: int) -> str:
    """budget.md: what the curve is, then per data set the methods x budgets table."""
    parts = [f"# Budget: {suite_name}\n",
             "The expected best value of each data set's main metric over k hyper-parameter samples drawn at random "
             "(with replacement) from a method's search, as a function of the budget k (Lucic et al. 2018, Sec. 5). "
             "A sample's value is the mean over its training seeds; samples whose every run diverged are left out "
             "(`failed`). Each cell: the expected best of k, computed exactly from the samples' order statistics "
             "(k = 1 is the mean over samples), and in brackets the percentile bootstrap 95% interval of that "
             f"expectation ({replicates:,} resamples of the method's samples). Methods are ordered by the expected "
             "best of all their samples; a method with fewer samples than k has no value at k. `sample 0`: the "
             "value of the first sample (the method's own settings when the search includes them); `best sample`: "
             "the best sample's value and number (its settings are in the run directory `...-h<number>-...`; "
             "sample 0's run has no `-h`). budget.csv adds every k and the 2.5%/97.5% quantiles of the best of k "
             "itself.\n"]
    for dataset, (metric, higher, c, anchors) in sorted(curves.items()):
        table = budget_table(c, anchors).sort_values("_best", ascending=not higher, kind="stable").drop(columns="_best")
        arrow = "higher is better" if higher else "lower is better"
        parts += [f"\n## {dataset}\n", f"Metric: `{metric}` ({arrow}).\n", table.to_markdown(index=False) + "\n",
                  f"![budget on {dataset}](plots/{plot_name(dataset)})\n"]
    return "\n".join(parts)


def plot_name(dataset: str) -> str:
    """The budget figure's file name (the data set's name made safe as plots.py does)."""
    return f"budget_{re.sub(r'[^a-zA-Z0-9_.-]+', '_', dataset)}.png"


def write_budget(suite_path: Path, df: pd.DataFrame, higher: dict[str, bool], main: dict[str, str],
                 replicates: int = 1000, seed: int = 0) -> list[Path]:
    """Write budget.csv (every data set, method and k), budget.md and plots/budget_<dataset>.png for the data sets
    (each on its main metric) where some method has more than one hyper-parameter sample; nothing, [], when no
    method has. `df`, `higher`, `main`: a ganbench.results.Results's runs table (with an hp_sample column),
    directions and main metrics."""
    suite_path = Path(suite_path)
    curves: dict[str, tuple[str, bool, pd.DataFrame, pd.DataFrame]] = {}
    for dataset, metric in sorted(main.items()):
        runs = df[df.dataset == dataset]
        if metric not in runs or not has_search(runs):
            continue
        c = budget_curve(runs, metric, bool(higher[metric]), replicates, seed)
        if not c.empty and c["samples"].max() > 1:
            curves[dataset] = (metric, bool(higher[metric]), c, anchor_values(runs, metric, bool(higher[metric])))
    if not curves:
        return []
    csv = pd.concat([c.assign(metric=m) for m, _, c, _ in curves.values()], ignore_index=True)
    out = [suite_path / "budget.csv", suite_path / "budget.md"]
    store.write_text(out[0], csv[["dataset", "metric", *CURVE_COLUMNS[1:]]].to_csv(index=False))
    store.write_text(out[1], budget_markdown(suite_path.name, curves, replicates))
    for dataset, (metric, higher_better, c, _) in sorted(curves.items()):
        out.append(budget_plot(c, dataset, metric, higher_better, suite_path / "plots" / plot_name(dataset)))
    return out


def write_suite_budget(suite_path: Path, run_ids: list[str]) -> list[Path]:
    """write_budget for a suite's current cells, every hyper-parameter sample included (what `ganbench bench` and
    `ganbench leaderboard` write beside the leaderboard); nothing without a search."""

    res = load_results(suite_path, run_ids, searched=True)
    return write_budget(suite_path, res.df, res.higher, res.main)
