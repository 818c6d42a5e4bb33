"""Aggregate a suite's finished runs with pandas: per data set and method, mean/std/best over seeds, and rank."""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection

import pandas as pd

from ganbench import health, store
from ganbench.errors import ResultsError

ID_COLUMNS = ["run_id", "dataset", "method", "loss", "seed", "config", "n_tricks", "diverged", "health", "health_step",
              "best_step", "flattery", "train_s", "images_seen", "peak_mib", "device_model"]
FAILED = "failure_rate"  # per run 1 when its health verdict is not ok; its mean over seeds is the failure rate


def config_key(spec: dict) -> str:
    """What a run shares with its trick-free baseline: every spec field except tricks, method label and seed."""
    from ganbench.spec import identity

    rest = {k: v for k, v in identity(spec).items() if k not in ("tricks", "method", "seed")}
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


SAMPLING = ("generator", "g_mode", "latent")  # how a method draws its samples: part of the method, not the column


def evaluation_protocol(protocol: dict) -> dict:
    """A value's protocol without how its samples were drawn (EMA copy, truncation: what the method compares)."""
    return {k: v for k, v in protocol.items() if k not in SAMPLING}


def split_protocols(rows: list[dict], protocols: list[dict]) -> tuple[dict[tuple[str, str], dict],
                                                                      dict[tuple[str, str], str]]:
    """Give values of one metric column that were computed under different protocols on the same data set their own
    columns (the differing settings appended in the brackets), in place; returns each (data set, column)'s protocol
    and, for each new (data set, column), the column it was split from."""
    seen: dict[tuple[str, str], dict[str, dict]] = {}
    for row, prot in zip(rows, protocols):
        for col, p in prot.items():
            if col in row:
                seen.setdefault((row["dataset"], col), {})[json.dumps(p, sort_keys=True, default=str)] = p
    out: dict[tuple[str, str], dict] = {}
    renamed: dict[tuple[str, str], str] = {}
    for (dataset, col), variants in seen.items():
        if len(variants) == 1:
            out[(dataset, col)] = next(iter(variants.values()))
            continue
        differ = sorted({k for p in variants.values() for k in p if len({json.dumps(q.get(k), default=str)
                                                                          for q in variants.values()}) > 1})
        for row, prot in zip(rows, protocols):
            if row["dataset"] == dataset and col in prot and col in row:
                p = prot[col]
                label = ", ".join(f"{k}={p.get(k)}" for k in differ)
                new = f"{col[:-1]}, {label}]" if TAG.search(col) else f"{col} [{label}]"
                row[new] = row.pop(col)
                out[(dataset, new)] = p
                renamed[(dataset, new)] = col
    return out, renamed


def load_results(suite_path: Path, run_ids: Collection[str] | None = None) -> Results:
    """The finished runs under suite_path/runs; with `run_ids` (the suite's current cells), only those.

    A run directory whose spec is no longer in the suite (the YAML changed since) is kept on disk but never
    mixed into the current tables: its numbers come from another protocol."""
    rows, higher, main, left_out, protocols = [], {}, {}, 0, []
    wanted = None if run_ids is None else set(run_ids)
    for path, spec, rec in store.iter_runs(suite_path):
        if wanted is not None and path.name not in wanted:
            left_out += 1
            continue
        verdict = health.run_verdict(path, rec)  # recomputed: detectors may have changed
        probed = checkpoint_columns(rec)
        rows.append({"run_id": path.name, "dataset": spec["dataset"], "method": spec["method"], "loss": spec["loss"],
                     "seed": spec["seed"], "config": config_key(spec), "n_tricks": len(spec.get("tricks", [])),
                     "diverged": rec.get("diverged_at") is not None, "health": verdict["verdict"],
                     "health_step": verdict["step"], FAILED: float(verdict["verdict"] != "ok"), **rec["metrics"],
                     **probed, **cost_columns(rec)})
        protocols.append({c: evaluation_protocol(p) for c, p in (rec.get("protocol") or {}).items()})
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
    df = pd.DataFrame(rows)
    for dataset, col in list(main.items()):  # a split main metric: rank by the variant most of the runs have
        variants = [new for (d, new), old in renamed.items() if d == dataset and old == col]
        if variants:
            main[dataset] = max(variants, key=lambda c: df.loc[df.dataset == dataset, c].notna().sum())
    for c in ID_COLUMNS:  # e.g. no run of the suite was probed
        if c not in df:
            df[c] = math.nan
    return Results(df, higher, main, left_out, column_protocols)


def cost_columns(rec: dict) -> dict:
    """A run's cost: training wall time, real images seen, peak memory and the device it ran on (absent fields of
    runs recorded before they existed stay empty)."""
    cost = rec.get("cost") or {}
    return {"train_s": cost.get("train_wall_s", math.nan), "images_seen": cost.get("images_seen", math.nan),
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


def baselines(df: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(dataset, method) -> the trick-free method run with the same settings, where the suite has exactly one."""
    base = df[df.n_tricks == 0].groupby("config")["method"].unique()
    out = {}
    for (dataset, method), runs in df[df.n_tricks > 0].groupby(["dataset", "method"]):
        found = {m for c in runs.config.unique() if c in base.index for m in base[c]}
        if len(found) == 1:
            out[(dataset, method)] = found.pop()
    return out


def add_deltas(agg: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """Each trick's change against its baseline: delta = mean - baseline mean, delta_se = sqrt(s1^2/n1 + s0^2/n0)
    (the standard error of a difference of two independent means), per metric."""
    ref = baselines(df)
    agg = agg.copy()
    agg["baseline"] = [ref.get((d, m)) for d, m in zip(agg.dataset, agg.method)]
    b = agg[["dataset", "method", "metric", "mean", "std", "n"]].rename(
        columns={"method": "baseline", "mean": "b_mean", "std": "b_std", "n": "b_n"})
    agg = agg.merge(b, on=["dataset", "baseline", "metric"], how="left")
    agg["delta"] = agg["mean"] - agg["b_mean"]
    agg["delta_se"] = ((agg["std"] ** 2 / agg["n"]) + (agg["b_std"] ** 2 / agg["b_n"])) ** 0.5
    return agg.drop(columns=["b_mean", "b_std", "b_n"])


def fmt_delta(delta: float, se: float, higher: bool) -> str:
    """'+1.23 ± 0.40' with a mark when the change exceeds two standard errors: ▲ better, ▼ worse."""
    if delta is None or math.isnan(delta):
        return ""
    scale = max(abs(delta), 1e-12)
    digits = 2 if scale >= 1 else 3
    mark = ""
    if not math.isnan(se) and abs(delta) > 2 * se and delta != 0:
        mark = " ▲" if (delta > 0) == higher else " ▼"
    return f"{delta:+.{digits}f} ± {se:.{digits}f}{mark}"


def delta_summary(agg: pd.DataFrame, main: dict[str, str], higher: dict[str, bool]) -> pd.DataFrame | None:
    """Tricks x data sets: the change of each data set's main metric against the baseline."""
    rows = agg[agg.baseline.notna() & agg.apply(lambda r: main.get(r.dataset) == r.metric, axis=1)]
    if rows.empty:
        return None
    table = rows.pivot_table(index="method", columns="dataset", values="delta", aggfunc="first")
    out = pd.DataFrame(index=table.index)
    for dataset in table.columns:
        sub = rows[rows.dataset == dataset].set_index("method")
        out[f"{dataset} ({main[dataset].split(' [')[0]})"] = [
            fmt_delta(sub.delta.get(m, float("nan")), sub.delta_se.get(m, float("nan")), higher[main[dataset]])
            for m in out.index]
    return out.reset_index()


def fmt(mean: float, std: float) -> str:
    scale = max(abs(mean), 1e-12)
    digits = 2 if scale >= 1 else 3
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def dataset_table(agg: pd.DataFrame, dataset: str, main_col: str, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Wide Markdown-ready table for one data set, best first: rank, method, n, main metric (best), other metrics;
    with `runs`, each method's health verdicts over its seeds and failure rate, and methods whose every seed
    diverged at the bottom."""
    a = agg[agg.dataset == dataset]
    cols = [main_col] + sorted(c for c in a.metric.unique() if c not in (main_col, FAILED))
    table = []
    for method, m in a.groupby("method"):
        by = m.set_index("metric")
        if main_col not in by.index:  # every seed diverged: listed at the bottom below
            continue
        row = {"rank": int(m["rank"].iloc[0]), "method": method, "seeds": int(by.loc[main_col, "n"])}
        for c in cols:
            if c in by.index:
                row[c] = fmt(by.loc[c, "mean"], by.loc[c, "std"])
                if c == main_col:
                    row[f"best {c}"] = f"{by.loc[c, 'best']:.3g}"
                    if "delta" in by.columns:
                        has_base = isinstance(by.loc[c, "baseline"], str)
                        row[f"Δ {c}"] = fmt_delta(by.loc[c, "delta"], by.loc[c, "delta_se"],
                                                  bool(by.loc[c, "higher_is_better"])) if has_base else ""
        table.append(row)
    if runs is not None and "health" in runs:
        r = runs[runs.dataset == dataset]
        verdicts = {m: health_counts(g.health) for m, g in r.groupby("method")}
        rates = r.groupby("method")["health"].apply(lambda v: (v != "ok").mean())
        rank_after = len(table) + 1
        for method in sorted(set(r.method) - {row["method"] for row in table}):  # every seed diverged
            table.append({"rank": rank_after, "method": method, "seeds": 0})
        steps = r.groupby("method")["best_step"].median() if "best_step" in r else pd.Series(dtype=float)
        train = r.groupby("method")["train_s"].median() if "train_s" in r else pd.Series(dtype=float)
        failed_at = {m: ", ".join(str(int(x)) for x in sorted(g.loc[g.health != "ok", "health_step"].dropna()))
                     for m, g in r.groupby("method")}
        for row in table:
            row["health"] = verdicts.get(row["method"], "")
            row["failure rate"] = f"{rates.get(row['method'], 0.0):.0%}"
            row["failure step"] = failed_at.get(row["method"], "")
            if not math.isnan(steps.get(row["method"], math.nan)):
                row["best step"] = f"{steps[row['method']]:.0f}"
            if not math.isnan(train.get(row["method"], math.nan)):
                row["train s"] = f"{train[row['method']]:.3g}"
    out = pd.DataFrame(table).fillna("").sort_values(["rank", "method"]).reset_index(drop=True)
    empty = [c for c in out.columns if c.startswith("Δ ") and (out[c] == "").all()]
    return out.drop(columns=empty)


def health_counts(verdicts: pd.Series) -> str:
    """'3 ok' or '1 ok, 2 mode-collapse': the health verdicts of a method's seeds, in the order of VERDICTS."""
    counts = verdicts.value_counts()
    return ", ".join(f"{counts[v]} {v}" for v in health.VERDICTS if v in counts)


def build_leaderboard(suite_path: Path, run_ids: Collection[str] | None = None) -> tuple[pd.DataFrame, str]:
    """The aggregated long table and the Markdown leaderboard of a suite's results."""
    res = load_results(suite_path, run_ids)
    higher, main = res.higher, res.main
    agg = aggregate(res.df, higher, main)
    has_deltas = bool(baselines(res.df))
    if has_deltas:
        agg = add_deltas(agg, res.df)
    parts = [f"# Leaderboard: {suite_path.name}\n",
             "Mean ± std over training seeds; `best` is the best seed; rank by the main metric (first column). "
             "Metrics in brackets were computed in that feature space (extractor@weights-hash) and are only "
             "comparable within a column. `health`: each seed's verdict (" + "; ".join(
                 f"{v}: {health.EXPLAINED[v]}" for v in health.VERDICTS) + "); `failure rate`: the share of seeds "
             "whose verdict is not ok, `failure step` the step each failing seed's verdict names (a collapse: the "
             "first quality probe from which the mode coverage stayed collapsed, else the last logged step). "
             "Metrics are those of the last checkpoint, except the quality probe's (runs trained with one): `@best` is the checkpoint with the lowest probe FID (or FD) against half A "
             "of the training data, scored against half B; `@final` the last checkpoint on the same probe; "
             "`best step` the median step of the chosen checkpoint over seeds; `train s` the median training wall "
             "time of a seed. Each data set states its metrics' protocols and what its runs cost.\n"]
    if res.left_out:
        parts.append(f"{res.left_out} finished runs under runs/ are from an earlier version of the suite and are "
                     "not included.\n")
    summary = delta_summary(agg, main, higher) if has_deltas else None
    if summary is not None:
        parts.append("\n## Change against the baseline\n\nEach method's main metric minus that of the same settings "
                     "without its tricks (Δ of the means ± the standard error of the difference). ▲: better by more "
                     "than two standard errors, ▼: worse by more than two.\n")
        parts.append(summary.to_markdown(index=False) + "\n")
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
        parts.append(f"\n## {dataset}\n\nMain metric: `{main[dataset]}` ({arrow}).{space}{note}{proto}{cost}\n")
        parts.append(table.to_markdown(index=False) + "\n")
    return agg, "\n".join(parts)


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


def write_leaderboard(suite_path: Path, run_ids: Collection[str] | None = None, reproduces=None) -> list[Path]:
    """Write leaderboard.csv (long form) and leaderboard.md next to the suite's runs, and reproduction.md when the
    suite reproduces a paper (`reproduces`: its ganbench.reproduction.Reproduction)."""
    agg, md = build_leaderboard(suite_path, run_ids)
    csv_path, md_path = suite_path / "leaderboard.csv", suite_path / "leaderboard.md"
    store.write_text(csv_path, agg.to_csv(index=False))
    store.write_text(md_path, md)
    out = [csv_path, md_path]
    if reproduces is not None:
        from ganbench.reproduction import write_report

        runs = load_results(suite_path, run_ids).df if reproduces.claims else None
        out.append(write_report(reproduces, suite_path, agg, runs))
    return out
