"""Aggregate a suite's finished runs with pandas: per data set and method, mean/std/best over seeds, and rank."""
from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection

import numpy as np
import pandas as pd

from ganbench import health, render, stats, store
from ganbench.errors import ResultsError
from ganbench.render import Block, slug
from ganbench.spec import identity
from ganbench.reproduction import write_report

ID_COLUMNS = ["run_id", "dataset", "method", "loss", "seed", "hp_sample", "config", "n_tricks", "diverged", "health", "health_step",
              "best_step", "flattery", "train_s", "images_seen", "peak_mib", "device_model"]
FAILED = "failure_rate"  # per run 1 when its health verdict is not ok; its mean over seeds is the failure rate


def config_key(spec: dict) -> str:
    """What a run shares with its trick-free baseline: every spec field except tricks, method label and seed."""
    return _config_key(json.dumps({k: v for k, v in spec.items() if k != "seed"}, sort_keys=True, default=str))


@functools.lru_cache(maxsize=65536)
def _config_key(spec_json: str) -> str:  # the seeds of a cell share one computation

    rest = {k: v for k, v in identity(json.loads(spec_json)).items() if k not in ("tricks", "method", "seed")}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:12]
TAG = re.compile(r" \[([^\]]+)\]$")


@dataclass
class Results:
    """A suite's finished runs: one row per run (ids + metric columns), each column's direction, each data set's
    main column, and how many finished runs were left out because the suite no longer contains them."""

    df: pd.DataFrame
    higher: dict[str, bool]
    main: dict[str, str]
    left_out: int = 0
    protocols: dict[tuple[str, str], dict] = field(default_factory=dict)  # (dataset, column) -> evaluation protocol
    draws: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DRAW_COLUMNS))  # sampling-seed spread


DRAW_COLUMNS = ["dataset", "method", "metric", "var", "draws"]


def draw_rows(path: Path, row: dict, renamed: dict[tuple[str, str], str]) -> list[dict]:
    """A run's spread over sample draws (its draws.json): per metric column of its row, the variance of the values
    over the draws. Columns split by protocol are found under their new names."""
    f = path / store.DRAWS
    if not f.exists():
        return []
    values = store.read_json(f).get("values", {})
    new_name = {old: new for (d, new), old in renamed.items() if d == row["dataset"] and new in row}
    out = []
    for col, vals in values.items():
        col = col if col in row else new_name.get(col)
        if col is None or len(vals) < 2:
            continue
        out.append({"dataset": row["dataset"], "method": row["method"], "metric": col,
                    "var": float(np.var(vals, ddof=1)), "draws": len(vals)})
    return out


def add_sampling(agg: pd.DataFrame, draws: pd.DataFrame) -> pd.DataFrame:
    """The spread over sampling seeds beside the spread over training seeds: sampling_sd = the square root of the
    mean over a method's runs of each run's variance over its sample draws (pooled), and the fewest draws a run
    had. Absent when no run was scored on several draws."""
    if draws.empty:
        return agg
    pooled = draws.groupby(["dataset", "method", "metric"]).agg(var=("var", "mean"), draws=("draws", "min"))
    pooled["sampling_sd"] = pooled["var"] ** 0.5
    return agg.merge(pooled[["sampling_sd", "draws"]].reset_index(), on=["dataset", "method", "metric"], how="left")


SAMPLING = ("generator", "g_mode", "latent")  # how a method draws its samples: part of the method, not the column


def evaluation_protocol(protocol: dict) -> dict:
    """A value's protocol without how its samples were drawn (EMA copy, truncation: what the method compares)."""
    return {k: v for k, v in protocol.items() if k not in SAMPLING}


def fold_protocols(variants: dict[str, dict]) -> tuple[list[dict], dict[str, int]]:
    """Group a column's protocol variants that do not contradict each other: a record that does not state a setting
    (written before ganbench recorded it) agrees with one that does. Returns each group's protocol (the union of its
    members' settings) and each variant's group."""
    same = lambda a, b: json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)
    groups: list[dict] = []
    member: dict[str, int] = {}
    for key, p in sorted(variants.items(), key=lambda kv: (-len(kv[1]), kv[0])):  # the fullest records first
        for i, g in enumerate(groups):
            if all(same(g[k], p[k]) for k in g.keys() & p.keys()):
                groups[i] = {**p, **g}
                member[key] = i
                break
        else:
            member[key] = len(groups)
            groups.append(dict(p))
    return groups, member


def split_protocols(rows: list[dict], protocols: list[dict]) -> tuple[dict[tuple[str, str], dict],
                                                                      dict[tuple[str, str], str]]:
    """Give values of one metric column that were computed under different protocols on the same data set their own
    columns (the differing settings appended in the brackets), in place; returns each (data set, column)'s protocol
    and, for each new (data set, column), the column it was split from. Protocols that differ only in settings one
    of them does not state share a column (fold_protocols)."""
    key = lambda p: json.dumps(p, sort_keys=True, default=str)
    seen: dict[tuple[str, str], dict[str, dict]] = {}
    for row, prot in zip(rows, protocols):
        for col, p in prot.items():
            if col in row:
                seen.setdefault((row["dataset"], col), {})[key(p)] = p
    out: dict[tuple[str, str], dict] = {}
    renamed: dict[tuple[str, str], str] = {}
    for (dataset, col), variants in seen.items():
        groups, member = fold_protocols(variants)
        if len(groups) == 1:
            out[(dataset, col)] = groups[0]
            continue
        differ = sorted({k for g in groups for k in g if len({key(q.get(k)) for q in groups}) > 1})
        for row, prot in zip(rows, protocols):
            if row["dataset"] == dataset and col in prot and col in row:
                p = groups[member[key(prot[col])]]
                label = ", ".join(f"{k}={p.get(k)}" for k in differ)
                new = f"{col[:-1]}, {label}]" if TAG.search(col) else f"{col} [{label}]"
                row[new] = row.pop(col)
                out[(dataset, new)] = p
                renamed[(dataset, new)] = col
    return out, renamed


def load_results(suite_path: Path, run_ids: Collection[str] | None = None, searched: bool = False) -> Results:
    """The finished runs under suite_path/runs; with `run_ids` (the suite's current cells), only those; with
    `searched`, also the hyper-parameter samples of a suite's search beyond the base one (sample 0: the cells' own
    settings with all their seeds), which a leaderboard row must not average as if they were seeds.

    A run directory whose spec is no longer in the suite (the YAML changed since) is kept on disk but never
    mixed into the current tables: its numbers come from another protocol."""
    rows, higher, main, left_out, protocols, paths = [], {}, {}, 0, [], []
    wanted = None if run_ids is None else set(run_ids)
    for path, spec, rec in store.iter_runs(suite_path):
        if wanted is not None and path.name not in wanted:
            left_out += 1
            continue
        if (spec.get("hp_sample") or 0) and not searched:
            continue
        verdict = health.current_verdict(path, rec)  # recomputed when the detectors changed since
        probed = checkpoint_columns(rec)
        rows.append({"run_id": path.name, "dataset": spec["dataset"], "method": spec["method"], "loss": spec["loss"],
                     "seed": spec["seed"], "hp_sample": spec.get("hp_sample") or 0, "config": config_key(spec), "n_tricks": len(spec.get("tricks", [])),
                     "diverged": rec.get("diverged_at") is not None, "health": verdict["verdict"],
                     "health_step": verdict["step"], FAILED: float(verdict["verdict"] != "ok"), **rec["metrics"],
                     **probed, **cost_columns(rec)})
        protocols.append({c: evaluation_protocol(p) for c, p in (rec.get("protocol") or {}).items()})
        paths.append(path)
        higher.update(rec["higher_is_better"])
        higher.update({c: False for c in probed if c not in ID_COLUMNS})
        higher[FAILED] = False
        if rec.get("main_metric"):
            main[spec["dataset"]] = rec["main_metric"]
    if not rows:
        extra = f" ({left_out} finished runs belong to an earlier version of the suite)" if left_out else ""
        raise ResultsError(f"no finished runs of the suite under {suite_path}/runs{extra}; "
                           f"run `ganbench bench {suite_path.name}` first")
    column_protocols, renamed = split_protocols(rows, protocols)
    for (_, new), old in renamed.items():  # a split column keeps its direction
        higher[new] = higher[old]
    draws = pd.DataFrame([r for path, row in zip(paths, rows) for r in draw_rows(path, row, renamed)],
                         columns=DRAW_COLUMNS)
    df = pd.DataFrame(rows)
    for dataset, col in list(main.items()):  # a split main metric: rank by the variant most of the runs have
        variants = [new for (d, new), old in renamed.items() if d == dataset and old == col]
        if variants:
            main[dataset] = max(variants, key=lambda c: df.loc[df.dataset == dataset, c].notna().sum())
    for c in ID_COLUMNS:  # e.g. no run of the suite was probed
        if c not in df:
            df[c] = math.nan
    return Results(df, higher, main, left_out, column_protocols, draws)


def cost_columns(rec: dict) -> dict:
    """A run's cost: training wall time, real images seen, peak memory and the device it ran on (absent fields of
    runs recorded before they existed stay empty)."""
    cost = rec.get("cost") or {}
    return {"train_s": store.train_seconds(cost) or math.nan, "images_seen": cost.get("images_seen", math.nan),
            "peak_mib": cost.get("peak_memory_mib", math.nan),
            "device_model": cost.get("device_model") or cost.get("device") or ""}


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


def checkpoint_columns(rec: dict) -> dict:
    """A run's quality probe in leaderboard columns: METRIC@best (the checkpoint chosen on half A, scored on half
    B), METRIC@final (the last checkpoint on half B), best_step, and flattery (how much lower choosing on half B
    itself would have reported). Empty for runs trained without probes."""
    sel = (rec.get("checkpoints") or {}).get("selection")
    if not sel:
        return {}
    metric, tag = sel["protocol"]["metric"], sel["protocol"]["features"]
    return {f"{metric}@best [{tag}]": sel["best"]["report"], f"{metric}@final [{tag}]": sel["final"]["report"],
            "best_step": sel["best"]["step"], "flattery": sel["flattery"]}


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
            row["median"] = f"{main_row['median']:.3g}"
            row["best"] = f"{main_row['best']:.3g}"
            row["95% CI"] = f"[{main_row['ci_lo']:.3g}, {main_row['ci_hi']:.3g}]"
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


def build_report(suite_path: Path, run_ids: Collection[str] | None = None,
                 options: Options = Options()) -> tuple[pd.DataFrame, list[Block]]:
    """The aggregated long table and the leaderboard as blocks (rendered to Markdown, HTML or LaTeX)."""
    res = load_results(suite_path, run_ids)
    higher, main = res.higher, res.main
    missing_baseline = options.baseline is not None and options.baseline not in set(res.df.method)
    groups = seed_groups(res.df)
    agg = aggregate(res.df, higher, main, groups)
    agg = add_sampling(agg, res.draws)
    has_deltas = bool(baselines(res.df, options.baseline))
    if has_deltas:
        agg = add_deltas(agg, res.df, groups, options.test, options.baseline)
    blocks = [Block.title(f"Leaderboard: {suite_path.name}"), Block.para(legend(options, not res.draws.empty))]
    if res.left_out:
        blocks.append(Block.para(f"{res.left_out} finished runs under runs/ are from an earlier version of the suite "
                                 "and are not included."))
    if missing_baseline:
        blocks.append(Block.para(f"The baseline method `{options.baseline}` has no finished runs yet: methods are "
                                 "compared with it once it has."))
    if (suite_path / "budget.md").exists():
        blocks.append(Block.para("The suite searches hyper-parameters: each row is its cells' own settings (sample "
                                 "0, all seeds); `budget.md` gives the best score as a function of the number of "
                                 "samples tried (Lucic et al. 2018)."))
    summary = delta_summary(agg, main, higher) if has_deltas else None
    if summary is not None:
        blocks += [Block.section("Change against the baseline"),
                   Block.para("Each method's main metric minus that of its baseline (the same settings without its "
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
        blocks += [Block.section(dataset),
                   Block.para(f"Main metric: `{main[dataset]}` ({arrow}).{space}{note}{proto}{cost}"),
                   Block.data(table, f"{suite_path.name} on {dataset}: `{main[dataset]}` ({arrow}), mean ± std over "
                                     "training seeds", slug(dataset))]
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
                      options: Options = Options(), formats: Collection[str] = DEFAULT_FORMATS) -> list[Path]:
    """Write the leaderboard next to the suite's runs in each of `formats`: leaderboard.csv (the long table),
    leaderboard.md, leaderboard.html (one self-contained page with the tables and the suite's plots) and
    leaderboard.tex (booktabs tables); and reproduction.md when the suite reproduces a paper (`reproduces`: its
    ganbench.reproduction.Reproduction)."""
    agg, blocks = build_report(suite_path, run_ids, options)
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
        runs = load_results(suite_path, run_ids).df if reproduces.claims else None
        out.append(write_report(reproduces, suite_path, agg, runs))
    return out
