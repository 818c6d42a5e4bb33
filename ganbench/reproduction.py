"""Reproduction reports: a suite's `reproduces` section (the paper, its protocol, the published numbers with their
source) set beside the suite's measured results, with a verdict per cell: reproduced (within the combined
uncertainty), better, worse, or not run. Published numbers are data from the paper and never enter our tables."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ganbench.errors import SpecError

Z = 2.0  # a difference within Z combined standard errors counts as reproduced (about 95%)
ENTRY_KEYS = {"dataset", "method", "metric", "value", "std", "n", "source"}


@dataclass(frozen=True)
class Published:
    """One published number: where it applies (data set, method, metric base name), its value, its spread over the
    paper's runs when given, and where in the paper it was read."""

    dataset: str
    method: str
    metric: str
    value: float
    source: str
    std: float | None = None
    n: int | None = None

    @property
    def se(self) -> float | None:
        """Standard error of the published mean (None when the paper gives no spread or run count)."""
        return self.std / math.sqrt(self.n) if self.std is not None and self.n else None


@dataclass(frozen=True)
class Reproduction:
    citation: str
    protocol: str
    differences: tuple[str, ...]
    published: tuple[Published, ...]


def parse(doc: Any, where: str) -> Reproduction:
    """A suite's `reproduces` mapping -> Reproduction; every entry checked (a number without its source is refused)."""
    if not isinstance(doc, Mapping) or not {"citation", "published"} <= set(doc):
        raise SpecError(f"{where}: reproduces needs citation, published (and protocol, differences)")
    unknown = sorted(set(doc) - {"citation", "protocol", "differences", "published"})
    if unknown:
        raise SpecError(f"{where}: reproduces has unknown key {', '.join(unknown)}")
    entries = []
    for e in doc["published"] or []:
        if not isinstance(e, Mapping) or not {"dataset", "method", "metric", "value", "source"} <= set(e) or set(e) - ENTRY_KEYS:
            raise SpecError(f"{where}: each published entry needs dataset, method, metric, value, source "
                            f"(optionally std, n); got {e!r}")
        try:
            entries.append(Published(str(e["dataset"]), str(e["method"]), str(e["metric"]), float(e["value"]),
                                     str(e["source"]), None if e.get("std") is None else float(e["std"]),
                                     None if e.get("n") is None else int(e["n"])))
        except (TypeError, ValueError):
            raise SpecError(f"{where}: published entry {e!r} has a value, std or n that is not a number") from None
    diffs = doc.get("differences") or []
    if isinstance(diffs, str):
        diffs = [diffs]
    return Reproduction(str(doc["citation"]), str(doc.get("protocol", "")).strip(), tuple(map(str, diffs)),
                        tuple(entries))


def base_name(column: str) -> str:
    """'modes [coords]' -> 'modes': a published metric matches our column of that name in any feature space."""
    return column.split(" [")[0]


def verdict(ours_mean: float, ours_std: float, ours_n: int, paper: Published, higher: bool) -> str:
    """reproduced when |ours - paper| <= Z * sqrt(se_ours^2 + se_paper^2); else better or worse (by the metric's
    direction). With one seed and no published spread there is no uncertainty: only equality reproduces."""
    se_ours = ours_std / math.sqrt(ours_n) if ours_n > 1 else 0.0
    combined = math.hypot(se_ours, paper.se or 0.0)
    diff = ours_mean - paper.value
    if abs(diff) <= Z * combined or diff == 0:
        return "reproduced"
    return "better" if (diff > 0) == higher else "worse"


def report_rows(rep: Reproduction, agg: pd.DataFrame | None) -> pd.DataFrame:
    """One row per published number: the paper's value and source, ours (mean ± std, seeds), the verdict."""
    rows = []
    for p in rep.published:
        match = None
        if agg is not None and not agg.empty:
            m = agg[(agg.dataset == p.dataset) & (agg.method == p.method) & (agg.metric.map(base_name) == p.metric)]
            match = m.iloc[0] if len(m) else None
        paper = f"{p.value:g}" + (f" ± {p.std:g}" if p.std is not None else "") + (f" (n={p.n})" if p.n else "")
        row = {"data set": p.dataset, "method": p.method, "metric": p.metric, "paper": paper, "source": p.source}
        if match is None:
            row.update(ours="", seeds=0, verdict="not run")
        else:
            row.update(ours=f"{match['mean']:.4g} ± {match['std']:.2g}", seeds=int(match["n"]),
                       verdict=verdict(float(match["mean"]), float(match["std"]), int(match["n"]), p,
                                       bool(match["higher_is_better"])))
        rows.append(row)
    return pd.DataFrame(rows)


def report(rep: Reproduction, agg: pd.DataFrame | None, suite: str) -> str:
    """The Markdown reproduction report of a suite."""
    table = report_rows(rep, agg)
    counts = table.verdict.value_counts() if not table.empty else pd.Series(dtype=int)
    summary = ", ".join(f"{counts[v]} {v}" for v in ("reproduced", "better", "worse", "not run") if v in counts)
    parts = [f"# Reproduction: {suite}\n", f"Target: {rep.citation}.\n"]
    if rep.protocol:
        parts.append(f"Paper's protocol: {rep.protocol}\n")
    if rep.differences:
        parts.append("Differences that remain between the paper's protocol and ours:\n")
        parts += [f"- {d}" for d in rep.differences]
        parts.append("")
    parts.append(f"Verdicts: {summary or 'no published numbers'}. `paper` is the published value (± its spread over "
                 "the paper's runs where given); `ours` is mean ± std over our training seeds. Reproduced: the "
                 f"difference is within {Z:g} combined standard errors (ours std/sqrt(seeds), the paper's likewise "
                 "when it gives a spread and a run count); otherwise better or worse in the metric's direction.\n")
    if not table.empty:
        parts.append(table.to_markdown(index=False) + "\n")
    return "\n".join(parts)


def write_report(rep: Reproduction, suite_path: Path, agg: pd.DataFrame | None) -> Path:
    from ganbench import store

    path = suite_path / "reproduction.md"
    store.write_text(path, report(rep, agg, suite_path.name))
    return path
