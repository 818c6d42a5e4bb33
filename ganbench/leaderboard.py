"""Aggregate a suite's finished runs with pandas: per data set and method, mean/std/best over seeds, and rank."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Collection

import pandas as pd

from ganbench import store
from ganbench.errors import ResultsError

ID_COLUMNS = ["run_id", "dataset", "method", "loss", "seed"]
TAG = re.compile(r" \[([^\]]+)\]$")


@dataclass
class Results:
    """A suite's finished runs: one row per run (ids + metric columns), each column's direction, each data set's
    main column, and how many finished runs were left out because the suite no longer contains them."""

    df: pd.DataFrame
    higher: dict[str, bool]
    main: dict[str, str]
    left_out: int = 0


def load_results(suite_path: Path, run_ids: Collection[str] | None = None) -> Results:
    """The finished runs under suite_path/runs; with `run_ids` (the suite's current cells), only those.

    A run directory whose spec is no longer in the suite (the YAML changed since) is kept on disk but never
    mixed into the current tables: its numbers come from another protocol."""
    rows, higher, main, left_out = [], {}, {}, 0
    wanted = None if run_ids is None else set(run_ids)
    for path, spec, rec in store.iter_runs(suite_path):
        if wanted is not None and path.name not in wanted:
            left_out += 1
            continue
        rows.append({"run_id": path.name, "dataset": spec["dataset"], "method": spec["method"], "loss": spec["loss"],
                     "seed": spec["seed"], **rec["metrics"]})
        higher.update(rec["higher_is_better"])
        main[spec["dataset"]] = rec["main_metric"]
    if not rows:
        extra = f" ({left_out} finished runs belong to an earlier version of the suite)" if left_out else ""
        raise ResultsError(f"no finished runs of the suite under {suite_path}/runs{extra}; "
                           f"run `ganbench bench {suite_path.name}` first")
    return Results(pd.DataFrame(rows), higher, main, left_out)


def aggregate(df: pd.DataFrame, higher: dict[str, bool], main: dict[str, str]) -> pd.DataFrame:
    """Long table: dataset, method, metric, mean, std, best, n, and the method's rank on the data set's main metric."""
    metric_cols = [c for c in df.columns if c not in ID_COLUMNS]
    long = df.melt(id_vars=ID_COLUMNS, value_vars=metric_cols, var_name="metric").dropna(subset=["value"])
    g = long.groupby(["dataset", "method", "metric"])["value"]
    out = g.agg(mean="mean", std="std", n="count", max="max", min="min").reset_index()
    out["std"] = out["std"].fillna(0.0)
    out["higher_is_better"] = out["metric"].map(higher)
    out["best"] = out["max"].where(out["higher_is_better"], out["min"])
    out = out.drop(columns=["max", "min"])
    ranks = []
    for dataset, col in main.items():
        m = out[(out.dataset == dataset) & (out.metric == col)].copy()
        m["rank"] = m["mean"].rank(ascending=not higher[col], method="min").astype(int)
        ranks.append(m[["dataset", "method", "rank"]])
    return out.merge(pd.concat(ranks), on=["dataset", "method"], how="left")


def fmt(mean: float, std: float) -> str:
    scale = max(abs(mean), 1e-12)
    digits = 2 if scale >= 1 else 3
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def dataset_table(agg: pd.DataFrame, dataset: str, main_col: str) -> pd.DataFrame:
    """Wide Markdown-ready table for one data set, best first: rank, method, n, main metric (best), other metrics."""
    a = agg[agg.dataset == dataset]
    cols = [main_col] + sorted(c for c in a.metric.unique() if c != main_col)
    table = []
    for method, m in a.groupby("method"):
        by = m.set_index("metric")
        row = {"rank": int(m["rank"].iloc[0]), "method": method, "seeds": int(by.loc[main_col, "n"])}
        for c in cols:
            if c in by.index:
                row[c] = fmt(by.loc[c, "mean"], by.loc[c, "std"])
                if c == main_col:
                    row[f"best {c}"] = f"{by.loc[c, 'best']:.3g}"
        table.append(row)
    return pd.DataFrame(table).sort_values(["rank", "method"]).reset_index(drop=True)


def build_leaderboard(suite_path: Path, run_ids: Collection[str] | None = None) -> tuple[pd.DataFrame, str]:
    """The aggregated long table and the Markdown leaderboard of a suite's results."""
    res = load_results(suite_path, run_ids)
    higher, main = res.higher, res.main
    agg = aggregate(res.df, higher, main)
    parts = [f"# Leaderboard: {suite_path.name}\n",
             "Mean ± std over training seeds; `best` is the best seed; rank by the main metric (first column). "
             "Metrics in brackets were computed in that feature space (extractor@weights-hash) and are only "
             "comparable within a column.\n"]
    if res.left_out:
        parts.append(f"{res.left_out} finished runs under runs/ are from an earlier version of the suite and are "
                     "not included.\n")
    for dataset in sorted(main):
        arrow = "higher is better" if higher[main[dataset]] else "lower is better"
        table = dataset_table(agg, dataset, main[dataset])
        tags = {m.group(1) for c in table.columns if (m := TAG.search(c))}
        space = ""
        if len(tags) == 1:  # one feature space on this data set: say it once, keep the headers short
            space = f" Bracketed metrics (shown without brackets) are in feature space `{tags.pop()}`."
            table.columns = [TAG.sub("", c) for c in table.columns]
        parts.append(f"\n## {dataset}\n\nMain metric: `{main[dataset]}` ({arrow}).{space}\n")
        parts.append(table.to_markdown(index=False) + "\n")
    return agg, "\n".join(parts)


def write_leaderboard(suite_path: Path, run_ids: Collection[str] | None = None) -> list[Path]:
    """Write leaderboard.csv (long form) and leaderboard.md next to the suite's runs."""
    agg, md = build_leaderboard(suite_path, run_ids)
    csv_path, md_path = suite_path / "leaderboard.csv", suite_path / "leaderboard.md"
    store.write_text(csv_path, agg.to_csv(index=False))
    store.write_text(md_path, md)
    return [csv_path, md_path]
