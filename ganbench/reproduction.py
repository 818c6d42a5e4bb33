"""Reproduction reports: a suite's `reproduces` section (the paper, its protocol, the published numbers with their
source, its claims) set beside the suite's measured results. Each published cell gets an equivalence verdict against a
stated margin (reproduced, differs (higher), differs (lower), inconclusive, or not run); each comparative claim a
difference, its interval, Hedges' g and supported / contradicted / inconclusive (docs/statistics.md). Published
numbers are data from the paper and never enter our tables."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ganbench import stats, store
from ganbench.spec.claims import Comparison, MarginRule, Published, Reproduction

VERDICTS = {"equivalent": "reproduced", "higher": "differs (higher)", "lower": "differs (lower)",
            "inconclusive": "inconclusive"}
ORDER = ("reproduced", "differs (higher)", "differs (lower)", "inconclusive", "no published number", "not run")


def base_name(column: str) -> str:
    """'modes [coords]' -> 'modes': a published metric matches our column of that name in any feature space."""
    return column.split(" [")[0]


# Tests ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CellTest:
    """Ours against one published number, in the paper's unit: the difference, its 90% interval, the margin, the
    verdict, and whether the paper's spread entered the standard error."""

    diff: float
    lo: float
    hi: float
    margin: float
    verdict: str
    paper_spread: bool


def cell_test(ours_mean: float, ours_std: float, ours_n: int, paper: Published, margin: float) -> CellTest:
    """TOST of ours - paper against ±margin and the two-sided t test of ours = paper, with the standard error
    sqrt(std^2/n + se_paper^2) and Welch-Satterthwaite df where the paper gives se (or std) and n, else n - 1. One
    seed has no spread: inconclusive."""
    f = paper.factor
    diff = ours_mean / f - paper.value
    if ours_n < 2:
        return CellTest(diff, math.nan, math.nan, margin, "inconclusive", paper.se is not None)
    se_ours, se_paper = ours_std / f / math.sqrt(ours_n), paper.se
    se = math.hypot(se_ours, se_paper or 0.0)
    df = stats.welch_df(se_ours, ours_n, se_paper, paper.n) if se_paper is not None and paper.n else math.nan
    df = df if df > 0 else ours_n - 1
    lo, hi = stats.t_interval(diff, se, df, 1 - 2 * stats.ALPHA)
    return CellTest(diff, lo, hi, margin, VERDICTS[stats.equivalence(diff, se, df, margin)], se_paper is not None)


def verdict(ours_mean: float, ours_std: float, ours_n: int, paper: Published, margin: float | None = None) -> str:
    """The verdict of one cell (margin: the paper entry's, else the default rule's)."""
    return cell_test(ours_mean, ours_std, ours_n, paper, MarginRule().of(paper) if margin is None else margin).verdict


def papers_test(a: Published, b: Published, rule: MarginRule) -> CellTest:
    """Two published numbers for one cell, a - b in a's unit: 'agree' (equivalent within the larger of their
    margins), 'disagree' (significantly different) or 'not shown to agree'. Standard errors where printed; df by
    Welch-Satterthwaite where both give se and n, a side's n - 1 where one does, else the normal limit."""
    k = b.factor / a.factor
    diff = a.value - b.value * k
    margin = max(rule.of(a), rule.of(b) * k)
    se_b = None if b.se is None else b.se * k
    se = math.hypot(a.se or 0.0, se_b or 0.0)
    sides = [(err, p.n) for err, p in ((a.se, a), (se_b, b)) if err is not None and p.n and p.n > 1]
    df = stats.welch_df(sides[0][0], sides[0][1], sides[1][0], sides[1][1]) if len(sides) == 2 else math.nan
    df = df if df > 0 else sides[0][1] - 1 if len(sides) == 1 else math.inf
    lo, hi = stats.t_interval(diff, se, df, 1 - 2 * stats.ALPHA)
    words = {"equivalent": "agree", "higher": "disagree", "lower": "disagree", "inconclusive": "not shown to agree"}
    word = words[stats.equivalence(diff, se, df, margin)]
    if se == 0 and word == "disagree":  # no spread printed on either side: beyond the margin, but with no test
        word = "differ beyond margin (no spread)"
    return CellTest(diff, lo, hi, margin, word, se > 0)


@dataclass(frozen=True)
class ComparisonTest:
    """A comparative claim on our runs: a - b, its 95% Welch interval, Hedges' g, and for `same` the margin and the
    90% interval."""

    diff: float
    lo: float
    hi: float
    g: float
    verdict: str
    margin: float = math.nan
    lo90: float = math.nan
    hi90: float = math.nan


def comparison_test(c: Comparison, a: tuple[float, float, int], b: tuple[float, float, int],
                    rule: MarginRule) -> ComparisonTest:
    """higher/lower: supported when the 95% interval of a - b lies beyond 0 in the claimed direction, contradicted
    when it holds no difference in that direction (beyond 0 the other way, or [0, 0] from seeds that all agree), else
    inconclusive. same: supported when equivalent within the margin (TOST),
    contradicted when significantly different, else inconclusive. `a`, `b`: (mean, std, n) over seeds."""
    diff, lo, hi = stats.welch_ci(*a, *b)
    g = stats.hedges_g(*a, *b)
    if math.isnan(lo):
        return ComparisonTest(diff, lo, hi, g, "inconclusive")
    if c.relation != "same":
        sign = 1 if c.relation == "higher" else -1
        v = ("supported" if min(sign * lo, sign * hi) > 0 else "contradicted" if max(sign * lo, sign * hi) <= 0
             else "inconclusive")
        return ComparisonTest(diff, lo, hi, g, v)
    se_a, se_b = a[1] / math.sqrt(a[2]), b[1] / math.sqrt(b[2])
    se, df = math.hypot(se_a, se_b), stats.welch_df(se_a, a[2], se_b, b[2])
    margin = rule.of_value(c.metric, b[0]) if c.margin is None else c.margin
    lo90, hi90 = stats.t_interval(diff, se, df, 1 - 2 * stats.ALPHA)
    v = {"equivalent": "supported", "higher": "contradicted", "lower": "contradicted",
         "inconclusive": "inconclusive"}[stats.equivalence(diff, se, df, margin)]
    return ComparisonTest(diff, lo, hi, g, v, margin, lo90, hi90)


# Tables ---------------------------------------------------------------------------------------------------------------

def num(x: float) -> str:
    """A number in a table cell: 3 significant digits, '' for NaN."""
    return "" if x is None or math.isnan(x) else "∞" if x == math.inf else "-∞" if x == -math.inf else f"{x:.3g}"


def interval(lo: float, hi: float) -> str:
    """'[-0.12, 0.34]', or 'n/a' without one."""
    return "n/a" if math.isnan(lo) else f"[{num(lo)}, {num(hi)}]"


def find_cell(agg: pd.DataFrame | None, dataset: str, method: str, metric: str) -> tuple[pd.Series | None, str]:
    """Our aggregated row of (dataset, method, metric base name) and a note naming the variant picked: a paper's
    best over settings ("SN-GANs") meets our rows "SN-GANs [A]", ..., "SN-GANs [F]", and the best of their means is
    compared."""
    if agg is None or agg.empty:
        return None, ""
    m = agg[(agg.dataset == dataset) & (agg.metric.map(base_name) == metric)]
    exact = m[m.method == method]
    variants = m[m.method.str.startswith(f"{method} [")]
    if len(exact):
        return exact.iloc[0], ""
    if len(variants):
        best = variants.sort_values("mean", ascending=not bool(variants.iloc[0]["higher_is_better"])).iloc[0]
        return best, f" (best: {best['method']})"
    return None, ""


def paper_groups(rep: Reproduction) -> dict[tuple[str, str, str], list[Published]]:
    """The cells that more than one published number (with a value) speaks for."""
    groups: dict[tuple[str, str, str], list[Published]] = {}
    for p in rep.published:
        if p.value is not None:
            groups.setdefault((p.dataset, p.method, p.metric), []).append(p)
    return {k: v for k, v in groups.items() if len(v) > 1}


def papers_rows(rep: Reproduction) -> pd.DataFrame:
    """One row per pair of published numbers for the same cell: a - b, its 90% interval, the margin, agree or not."""
    rows = []
    for (dataset, method, metric), ps in paper_groups(rep).items():
        for a, b in itertools.combinations(ps, 2):
            t = papers_test(a, b, rep.margin)
            unit = f" {a.unit}" if a.unit else ""
            rows.append({"data set": dataset, "method": method, "metric": metric, "paper A": a.printed(),
                         "source A": a.source, "paper B": b.printed(), "source B": b.source,
                         "A − B": num(t.diff) + unit, "90% CI": interval(t.lo, t.hi), "margin": num(t.margin) + unit,
                         "papers": t.verdict})
    return pd.DataFrame(rows)


def papers_status(rep: Reproduction) -> dict[tuple[str, str, str], str]:
    """Each multi-paper cell's worst pairwise status: disagree, not shown to agree, or agree."""
    table = papers_rows(rep)
    rank = ["disagree", "differ beyond margin (no spread)", "not shown to agree", "agree"]
    return {} if table.empty else {
        k: min(g.papers, key=rank.index) for k, g in table.groupby(["data set", "method", "metric"])}


def report_rows(rep: Reproduction, agg: pd.DataFrame | None) -> pd.DataFrame:
    """One row per published number: the paper's value and source, ours (mean ± std, seeds), ours - paper, its 90%
    interval, the margin and the verdict; `papers` where other published numbers speak for the same cell."""
    status = papers_status(rep)
    rows = []
    for p in rep.published:
        match, picked = find_cell(agg, p.dataset, p.method, p.metric)
        row = {"data set": p.dataset, "method": p.method, "metric": p.metric, "paper": p.printed(), "source": p.source,
               "ours": "", "seeds": 0, "ours − paper": "", "90% CI": "", "margin": "", "verdict": "not run"}
        unit = f" {p.unit}" if p.unit else ""
        if match is not None and p.value is None:
            row.update(ours=f"{match['mean']:.4g} ± {match['std']:.2g}{picked}", seeds=int(match["n"]),
                       verdict="no published number")
        elif match is not None:
            t = cell_test(float(match["mean"]), float(match["std"]), int(match["n"]), p, rep.margin.of(p))
            mean, std = match["mean"] / p.factor, match["std"] / p.factor
            row.update(ours=f"{mean:.4g} ± {std:.2g}{unit}{picked}", seeds=int(match["n"]),
                       **{"ours − paper": num(t.diff) + unit,
                          "90% CI": interval(t.lo, t.hi) + ("" if t.paper_spread or math.isnan(t.lo)
                                                            else " (ours only)"),
                          "margin": num(t.margin) + unit, "verdict": t.verdict})
        elif p.value is not None:
            row["margin"] = num(rep.margin.of(p)) + unit
        if status:
            row["papers"] = status.get((p.dataset, p.method, p.metric), "")
        rows.append(row)
    return pd.DataFrame(rows)


def summary(agg: pd.DataFrame | None, dataset: str, method: str,
            metric: str) -> tuple[tuple[float, float, int] | None, str]:
    """(mean, std, n) of our cell and its label 'PacGAN2: 8 ± 0 (5)'; None when not run."""
    row, picked = find_cell(agg, dataset, method, metric)
    if row is None:
        return None, ""
    ours = (float(row["mean"]), float(row["std"]), int(row["n"]))
    return ours, f"{ours[0]:.4g} ± {ours[1]:.2g} ({ours[2]}){picked}"


def comparison_rows(rep: Reproduction, agg: pd.DataFrame | None) -> pd.DataFrame:
    """One row per comparative claim: the two methods' mean ± std (seeds), a - b with its 95% interval, Hedges' g,
    and supported / contradicted / inconclusive (not run when a method is missing)."""
    rows = []
    for c in rep.comparisons:
        (a, a_text), (b, b_text) = summary(agg, c.dataset, c.a, c.metric), summary(agg, c.dataset, c.b, c.metric)
        row = {"claim": c.claim, "data set": c.dataset, "metric": c.metric, "tested": c.tested(), "A": a_text,
               "B": b_text, "A − B": "", "95% CI": "", "Hedges' g": "", "verdict": "not run", "source": c.source}
        if a is not None and b is not None:
            t = comparison_test(c, a, b, rep.margin)
            if c.relation == "same":
                row["tested"] += f" (±{num(t.margin)}; 90% CI {interval(t.lo90, t.hi90)})"
            row.update({"A − B": num(t.diff), "95% CI": interval(t.lo, t.hi), "Hedges' g": num(t.g) or "n/a",
                        "verdict": t.verdict})
        rows.append(row)
    return pd.DataFrame(rows)


def claim_rows(rep: Reproduction, runs: pd.DataFrame | None, missing: str = "not run") -> pd.DataFrame:
    """One row per per-run criterion: the criterion, our per-seed values, and in how many seeds it holds (`missing`:
    the verdict without per-seed values)."""
    rows = []
    for c in rep.claims:
        values = []
        if runs is not None and not runs.empty:
            cols = [col for col in runs.columns if base_name(col) == c.metric]
            m = runs[(runs.dataset == c.dataset) & (runs.method == c.method)]
            if cols and len(m):
                values = [float(v) for v in m.sort_values("seed")[cols[0]].dropna()]
        met = sum(c.holds(v) for v in values)
        verdict = (missing if not values else "holds" if met == len(values) else "fails" if met == 0 else "mixed")
        rows.append({"data set": c.dataset, "method": c.method, "claim": f"{c.metric} {c.op} {c.value:g}",
                     "source": c.source, "ours (per seed)": ", ".join(f"{v:.4g}" for v in values),
                     "verdict": f"{verdict} ({met}/{len(values)} seeds)" if values else verdict})
    return pd.DataFrame(rows)


# The report ----------------------------------------------------------------------------------------------------------

def claims_section(rep: Reproduction, agg: pd.DataFrame | None, runs: pd.DataFrame | None, missing: str,
                   seeds_note: str) -> list[str]:
    """## Claims: the comparative claims (difference, interval, effect size) and the per-run criteria."""
    if not rep.comparisons and not rep.claims:
        return []
    parts = ["## Claims\n"]
    if rep.comparisons:
        parts.append("The paper's claims about methods, tested on our runs. `A`, `B`: mean ± std (seeds); `A − B`: "
                     "the difference of means with its 95% Welch t interval; Hedges' g: the bias-corrected "
                     "standardized difference. Supported: the interval lies beyond 0 in the claimed direction; "
                     "contradicted: it holds no difference in that direction; inconclusive: it contains 0 (or a "
                     "side has one seed). "
                     "A claim of equality (≈) is supported when the 90% interval lies inside ±margin (TOST) and "
                     "contradicted when the 95% interval excludes 0. See docs/statistics.md.\n")
        parts.append(comparison_rows(rep, agg).to_markdown(index=False) + "\n")
    if rep.claims:
        parts.append("Claims the paper shows rather than tabulates, as criteria each run meets or not (holds: every "
                     f"seed; fails: none; mixed: some){seeds_note}:\n")
        parts.append(claim_rows(rep, runs, missing).to_markdown(index=False) + "\n")
    return parts


def cells_section(rep: Reproduction, agg: pd.DataFrame | None) -> list[str]:
    """## Published numbers: the papers' disagreements, then one row per published number with its verdict."""
    table = report_rows(rep, agg)
    if table.empty:
        return []
    parts = ["## Published numbers\n"]
    pairs = papers_rows(rep)
    if not pairs.empty:
        bad = pairs[pairs.papers != "agree"]
        parts.append(f"{len(bad)} of {len(pairs)} pairs of published numbers for the same cell do not agree with each "
                     "other: a cell's papers agree when the 90% interval of their difference lies inside ±margin (the "
                     "larger of the two rows' margins; standard errors where printed); disagree: the 95% interval "
                     "excludes 0; else not shown to agree. Our verdict against each row follows; where the papers "
                     "disagree, at most one of them can be reproduced in a meaningful sense.\n")
        parts.append(pairs.to_markdown(index=False) + "\n")
    counts = table.verdict.value_counts()
    tally = ", ".join(f"{counts[v]} {v}" for v in ORDER if v in counts)
    parts.append(f"Verdicts: {tally}. `paper`: the published value (± the spread over the paper's runs where given: a "
                 "standard deviation, or a standard error where marked se); `ours`: mean ± std over our training "
                 "seeds, in the paper's unit; `ours − paper` with its 90% t interval, from the standard error "
                 "sqrt(std²/seeds + se_paper²) and Welch–Satterthwaite degrees of freedom (seeds − 1 where the paper "
                 "gives no run count; 'ours only' where the paper gives no spread, so only our seeds' uncertainty "
                 "counts). `margin`: the difference that still counts as the same result (the entry's own, else "
                 f"{rep.margin.describe([p.metric for p in rep.published])}). Reproduced: the 90% interval lies "
                 "inside ±margin (two one-sided tests at α = 0.05); differs (higher/lower): not reproduced and the "
                 "95% interval excludes 0, our value higher/lower than the paper's (a statement about the metric's "
                 "value, not about quality); inconclusive: neither (one seed is always inconclusive). See "
                 "docs/statistics.md.\n")
    parts.append(table.to_markdown(index=False) + "\n")
    return parts


def report(rep: Reproduction, agg: pd.DataFrame | None, suite: str, runs: pd.DataFrame | None = None,
           missing: str = "not run", seeds_note: str = "") -> str:
    """The Markdown reproduction report of a suite, claims first (`runs`: one row per finished run, for the per-run
    criteria; `missing`: their verdict without per-seed values)."""
    parts = [f"# Reproduction: {suite}\n", f"Target: {rep.citation}.\n"]
    parts.append(f"Variant: {rep.variant}\n" if rep.variant
                 else "Variant: the paper's protocol (the suite's full scale).\n")
    parts += claims_section(rep, agg, runs, missing, seeds_note)
    parts += cells_section(rep, agg)
    if rep.protocol or rep.differences:
        parts.append("## Protocol\n")
    if rep.protocol:
        parts.append(f"Paper's protocol: {rep.protocol}\n")
    if rep.differences:
        parts.append("Differences that remain between the paper's protocol and ours:\n")
        parts += [f"- {d}" for d in rep.differences]
        parts.append("")
    return "\n".join(parts)


def write_report(rep: Reproduction, suite_path: Path, agg: pd.DataFrame | None,
                 runs: pd.DataFrame | None = None) -> Path:
    path = suite_path / "reproduction.md"
    store.write_text(path, report(rep, agg, suite_path.name, runs))
    return path


# Re-rendering a committed report --------------------------------------------------------------------------------------

def table_rows(md: str, first: str) -> list[dict[str, str]]:
    """The rows of every Markdown table in `md` whose first header cell is `first`, as {header: cell}."""
    out, header = [], None
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if cells is None:
            header = None
        elif header is None:
            header = cells if cells[0] == first else []
        elif header and not set(line) <= set("|:- "):
            out.append(dict(zip(header, cells)))
    return out


def committed_runs(rep: Reproduction, md: str) -> pd.DataFrame | None:
    """Per-seed values of the per-run criteria as a committed report printed them (4 significant digits), as a runs
    table (dataset, method, seed, metric columns); None when the report shows none."""
    wanted = {(c.dataset, c.method, f"{c.metric} {c.op} {c.value:g}"): c.metric for c in rep.claims}
    seeds: dict[tuple[str, str, int], dict[str, float]] = {}
    for r in table_rows(md, "data set"):
        metric = wanted.get((r.get("data set"), r.get("method"), r.get("claim")))
        if metric and r.get("ours (per seed)"):
            for i, v in enumerate(r["ours (per seed)"].split(",")):
                seeds.setdefault((r["data set"], r["method"], i), {})[metric] = float(v)
    if not seeds:
        return None
    return pd.DataFrame([{"dataset": d, "method": m, "seed": seed, **v} for (d, m, seed), v in seeds.items()])


PREVIOUS_NOTE = " (per-seed values as the previous report printed them; the runs are not committed)"


def render_committed(rep: Reproduction, suite_path: Path) -> str:
    """The report re-rendered from a committed results/<suite>/leaderboard.csv (mean, std, n per cell: all that the
    cell verdicts and comparative claims need); the per-run criteria keep the per-seed values the committed
    reproduction.md shows, if any."""
    agg = pd.read_csv(suite_path / "leaderboard.csv")
    old = suite_path / "reproduction.md"
    text = old.read_text() if old.is_file() else ""
    runs = committed_runs(rep, text) if text else None
    # Values printed from the runs themselves stay unmarked (re-rendering such a report gives it back byte for byte);
    # a report that already carried them over from an earlier one keeps saying so.
    note = PREVIOUS_NOTE if runs is not None and PREVIOUS_NOTE in text else ""
    return report(rep, agg, suite_path.name, runs, missing="per-seed values not committed", seeds_note=note)


def rerender(rep: Reproduction, suite_path: Path) -> Path:
    """Rewrite suite_path/reproduction.md from its committed leaderboard.csv (see render_committed)."""

    text = render_committed(rep, suite_path)
    path = suite_path / "reproduction.md"
    store.write_text(path, text)
    return path
