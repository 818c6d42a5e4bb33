"""A suite's finished runs loaded into DataFrames: one row per run (its identity, health, metric columns, cost and
checkpoint-selection columns), each column's direction and evaluation protocol (a column computed under two
protocols is split in two), each data set's main column, and the spread over sample draws. The one place runs are
read back for tables and figures (leaderboard, plots, budget, reproduction); a command loads them once."""
from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection

import numpy as np
import pandas as pd

from ganbench import health, store
from ganbench.errors import ResultsError
from ganbench.spec import identity

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
    added: list[str] = field(default_factory=list)  # methods of tricks added to the suite's axis, kept as rows


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
    mixed into the current tables: its numbers come from another protocol. The rows of tricks added to the suite
    (`--add-trick`, e.g. from a plugin) stay: a method none of the suite's cells has, whose runs share every other
    setting with a cell (Results.added names them)."""
    rows, higher, main, left_out, protocols, paths = [], {}, {}, 0, [], []
    wanted = None if run_ids is None else set(run_ids)
    runs = list(store.iter_runs(suite_path))
    ours = [spec for path, spec, _ in runs if wanted is None or path.name in wanted]
    configs, methods, added = {config_key(s) for s in ours}, {s["method"] for s in ours}, set()
    for path, spec, rec in runs:
        if wanted is not None and path.name not in wanted:
            if spec["method"] in methods or config_key(spec) not in configs:
                left_out += 1
                continue
            added.add(spec["method"])
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
        extra = (f" ({left_out} finished runs belong to an earlier version of the suite or to other "
                 "--set/--seeds)") if left_out else ""
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
    return Results(df, higher, main, left_out, column_protocols, draws, sorted(added))


def cost_columns(rec: dict) -> dict:
    """A run's cost: training wall time, real images seen, peak memory and the device it ran on (absent fields of
    runs recorded before they existed stay empty)."""
    cost = rec.get("cost") or {}
    return {"train_s": store.train_seconds(cost) or math.nan, "images_seen": cost.get("images_seen", math.nan),
            "peak_mib": cost.get("peak_memory_mib", math.nan),
            "device_model": cost.get("device_model") or cost.get("device") or ""}


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
