"""Reproduction reports: a suite's `reproduces` section (the paper, its protocol, the published numbers with their
source) set beside the suite's measured results, with a verdict per cell: reproduced (within the combined
uncertainty), better, worse, or not run. Published numbers are data from the paper and never enter our tables."""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ganbench.errors import SpecError

Z = 2.0  # a difference within Z combined standard errors counts as reproduced (about 95%)
ENTRY_KEYS = {"dataset", "method", "metric", "value", "std", "se", "n", "unit", "source"}
UNITS = {"%": 0.01}  # a published value in this unit is (value * factor) in ours: papers print shares as percentages


@dataclass(frozen=True)
class Published:
    """One published number: where it applies (data set, method, metric base name), its value, its spread over the
    paper's runs when given, and where in the paper it was read."""

    dataset: str
    method: str
    metric: str
    value: float | None  # None: the paper's number could not be found (the cell stays empty, never guessed)
    source: str
    std: float | None = None
    n: int | None = None
    se_printed: float | None = None  # the paper printed a standard error rather than a standard deviation
    unit: str | None = None  # "%": the paper prints our share as a percentage

    @property
    def se(self) -> float | None:
        """Standard error of the published mean, in the paper's unit (None when the paper gives no spread or no run
        count)."""
        if self.se_printed is not None:
            return self.se_printed
        return self.std / math.sqrt(self.n) if self.std is not None and self.n else None

    @property
    def factor(self) -> float:
        """Our value times 1/factor is in the paper's unit."""
        return UNITS[self.unit] if self.unit else 1.0

    def printed(self) -> str:
        """The published number as the paper prints it: '98.2 % ± 0.2 (se, n=10)', '7.6 (n=5)', '0.5'."""
        if self.value is None:
            return "not found"
        unit = f" {self.unit}" if self.unit else ""
        spread = self.se_printed if self.se_printed is not None else self.std
        notes = ", ".join((["se"] if self.se_printed is not None else []) + ([f"n={self.n}"] if self.n else []))
        return (f"{self.value:g}{unit}" + (f" ± {spread:g}" if spread is not None else "")
                + (f" ({notes})" if notes else ""))


OPS = {"==": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
CLAIM_KEYS = {"dataset", "method", "metric", "op", "value", "source"}


@dataclass(frozen=True)
class Claim:
    """A paper's result that is shown rather than tabulated (a figure: "the unrolled GAN covers all 8 modes"), as a
    criterion on one metric that each of our runs either meets or not."""

    dataset: str
    method: str
    metric: str
    op: str
    value: float
    source: str

    def holds(self, x: float) -> bool:
        return bool(OPS[self.op](x, self.value))


@dataclass(frozen=True)
class Reproduction:
    citation: str
    protocol: str
    differences: tuple[str, ...]
    published: tuple[Published, ...]
    variant: str = ""  # the scale the suite ran at, when not the paper's protocol (e.g. "cpu: 3,000 updates, ...")
    claims: tuple[Claim, ...] = ()


def parse(doc: Any, where: str) -> Reproduction:
    """A suite's `reproduces` mapping -> Reproduction; every entry checked (a number without its source is refused)."""
    if not isinstance(doc, Mapping) or not {"citation", "published"} <= set(doc):
        raise SpecError(f"{where}: reproduces needs citation, published (and protocol, differences, claims)")
    unknown = sorted(set(doc) - {"citation", "protocol", "differences", "published", "claims"})
    if unknown:
        raise SpecError(f"{where}: reproduces has unknown key {', '.join(unknown)}")
    entries = []
    for e in doc["published"] or []:
        if not isinstance(e, Mapping) or not {"dataset", "method", "metric", "value", "source"} <= set(e) or set(e) - ENTRY_KEYS:
            raise SpecError(f"{where}: each published entry needs dataset, method, metric, value, source "
                            f"(optionally std or se, n, unit); got {e!r}")
        if e.get("std") is not None and e.get("se") is not None:
            raise SpecError(f"{where}: published entry {e!r} gives both std and se; give the one the paper prints")
        if e.get("unit") is not None and e["unit"] not in UNITS:
            raise SpecError(f"{where}: published entry {e!r} has unit {e['unit']!r}; known units: {', '.join(UNITS)}")
        try:
            num = lambda k, f=float: None if e.get(k) is None else f(e[k])  # noqa: E731
            entries.append(Published(str(e["dataset"]), str(e["method"]), str(e["metric"]), num("value"),
                                     str(e["source"]), num("std"), num("n", int), num("se"), e.get("unit")))
        except (TypeError, ValueError):
            raise SpecError(f"{where}: published entry {e!r} has a value, std, se or n that is not a number") from None
    claims = []
    for c in doc.get("claims") or []:
        if not isinstance(c, Mapping) or set(c) != CLAIM_KEYS or c["op"] not in OPS:
            raise SpecError(f"{where}: each claim needs dataset, method, metric, op ({' '.join(OPS)}), value, source; "
                            f"got {c!r}")
        try:
            claims.append(Claim(str(c["dataset"]), str(c["method"]), str(c["metric"]), c["op"], float(c["value"]),
                                str(c["source"])))
        except (TypeError, ValueError):
            raise SpecError(f"{where}: claim {c!r} has a value that is not a number") from None
    diffs = doc.get("differences") or []
    if isinstance(diffs, str):
        diffs = [diffs]
    return Reproduction(str(doc["citation"]), str(doc.get("protocol", "")).strip(), tuple(map(str, diffs)),
                        tuple(entries), claims=tuple(claims))


def base_name(column: str) -> str:
    """'modes [coords]' -> 'modes': a published metric matches our column of that name in any feature space."""
    return column.split(" [")[0]


def verdict(ours_mean: float, ours_std: float, ours_n: int, paper: Published, higher: bool) -> str:
    """reproduced when |ours - paper| <= Z * sqrt(se_ours^2 + se_paper^2); else better or worse (by the metric's
    direction). With one seed and no published spread there is no uncertainty: only equality reproduces."""
    se_ours = ours_std / math.sqrt(ours_n) if ours_n > 1 else 0.0
    combined = math.hypot(se_ours / paper.factor, paper.se or 0.0)
    diff = ours_mean / paper.factor - paper.value
    if abs(diff) <= Z * combined or diff == 0:
        return "reproduced"
    return "better" if (diff > 0) == higher else "worse"


def report_rows(rep: Reproduction, agg: pd.DataFrame | None) -> pd.DataFrame:
    """One row per published number: the paper's value and source, ours (mean ± std, seeds), the verdict."""
    rows = []
    for p in rep.published:
        match, picked = None, ""
        if agg is not None and not agg.empty:
            m = agg[(agg.dataset == p.dataset) & (agg.metric.map(base_name) == p.metric)]
            exact = m[m.method == p.method]
            # A paper's best over settings ("SN-GANs": the best of its settings A-F) meets our rows "SN-GANs [A]",
            # ..., "SN-GANs [F]": the best of their means is compared, and named.
            variants = m[m.method.str.startswith(f"{p.method} [")]
            if len(exact):
                match = exact.iloc[0]
            elif len(variants):
                match = variants.sort_values("mean", ascending=not bool(variants.iloc[0]["higher_is_better"])).iloc[0]
                picked = f" (best: {match['method']})"
        row = {"data set": p.dataset, "method": p.method, "metric": p.metric, "paper": p.printed(), "source": p.source}
        if match is None:
            row.update(ours="", seeds=0, verdict="not run")
        elif p.value is None:
            row.update(ours=f"{match['mean']:.4g} ± {match['std']:.2g}{picked}", seeds=int(match["n"]),
                       verdict="no published number")
        else:
            unit = f" {p.unit}" if p.unit else ""
            mean, std = match["mean"] / p.factor, match["std"] / p.factor
            row.update(ours=f"{mean:.4g} ± {std:.2g}{unit}{picked}", seeds=int(match["n"]),
                       verdict=verdict(float(match["mean"]), float(match["std"]), int(match["n"]), p,
                                       bool(match["higher_is_better"])))
        rows.append(row)
    return pd.DataFrame(rows)


def claim_rows(rep: Reproduction, runs: pd.DataFrame | None) -> pd.DataFrame:
    """One row per claim: the criterion, our per-seed values, and in how many seeds it holds."""
    rows = []
    for c in rep.claims:
        values = []
        if runs is not None and not runs.empty:
            cols = [col for col in runs.columns if base_name(col) == c.metric]
            m = runs[(runs.dataset == c.dataset) & (runs.method == c.method)]
            if cols and len(m):
                values = [float(v) for v in m.sort_values("seed")[cols[0]].dropna()]
        met = sum(c.holds(v) for v in values)
        verdict = ("not run" if not values else "holds" if met == len(values) else "fails" if met == 0 else "mixed")
        rows.append({"data set": c.dataset, "method": c.method, "claim": f"{c.metric} {c.op} {c.value:g}",
                     "source": c.source, "ours (per seed)": ", ".join(f"{v:.4g}" for v in values),
                     "verdict": f"{verdict} ({met}/{len(values)} seeds)" if values else verdict})
    return pd.DataFrame(rows)


def report(rep: Reproduction, agg: pd.DataFrame | None, suite: str, runs: pd.DataFrame | None = None) -> str:
    """The Markdown reproduction report of a suite (`runs`: one row per finished run, for the claims)."""
    table = report_rows(rep, agg)
    counts = table.verdict.value_counts() if not table.empty else pd.Series(dtype=int)
    summary = ", ".join(f"{counts[v]} {v}" for v in ("reproduced", "better", "worse", "no published number", "not run")
                        if v in counts)
    parts = [f"# Reproduction: {suite}\n", f"Target: {rep.citation}.\n"]
    if rep.protocol:
        parts.append(f"Paper's protocol: {rep.protocol}\n")
    parts.append(f"Variant: {rep.variant}\n" if rep.variant else "Variant: the paper's protocol (the suite's full scale).\n")
    if rep.differences:
        parts.append("Differences that remain between the paper's protocol and ours:\n")
        parts += [f"- {d}" for d in rep.differences]
        parts.append("")
    if not table.empty:
        parts.append(f"Verdicts: {summary}. `paper` is the published value (± its spread over "
                     "the paper's runs where given: a standard deviation, or a standard error where marked se); `ours` "
                     "is mean ± std over our training seeds, in the paper's unit. Reproduced: the difference is within "
                     f"{Z:g} combined standard errors (ours std/sqrt(seeds); the paper's se, or its std/sqrt(n)); "
                     "otherwise better or worse in the metric's direction. Without a published spread only ours "
                     "counts, so a verdict there says whether the paper's mean lies within our seeds' uncertainty.\n")
        parts.append(table.to_markdown(index=False) + "\n")
    if rep.claims:
        parts.append("Claims the paper shows rather than tabulates, as criteria each run meets or not (holds: every "
                     "seed; fails: none; mixed: some):\n")
        parts.append(claim_rows(rep, runs).to_markdown(index=False) + "\n")
    return "\n".join(parts)


def write_report(rep: Reproduction, suite_path: Path, agg: pd.DataFrame | None,
                 runs: pd.DataFrame | None = None) -> Path:
    from ganbench import store

    path = suite_path / "reproduction.md"
    store.write_text(path, report(rep, agg, suite_path.name, runs))
    return path
