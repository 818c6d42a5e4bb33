"""What a suite says it reproduces (its `reproduces` section), read and checked: the paper's published numbers with
their source and margin, its comparative claims, and the margin rule. Part of the spec layer: the suite loader parses
it; ganbench.reproduction sets it beside measured results."""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any, Mapping

from ganbench.errors import SpecError

ENTRY_KEYS = {"dataset", "method", "metric", "value", "std", "se", "n", "unit", "source", "margin"}
UNITS = {"%": 0.01}  # a published value in this unit is (value * factor) in ours: papers print shares as percentages
RELATIVE = 0.10  # default margin: 10% of the paper's value ...
FLOORS = {"modes": 1.0, "kl_modes": 0.05, "hq": 0.02}  # ... but at least this much, in ganbench's unit of the metric


@dataclass(frozen=True)
class Published:
    """One published number: where it applies (data set, method, metric base name), its value, its spread over the
    paper's runs when given, where in the paper it was read, and the equivalence margin stated for it."""

    dataset: str
    method: str
    metric: str
    value: float | None  # None: the paper's number could not be found (the cell stays empty, never guessed)
    source: str
    std: float | None = None
    n: int | None = None
    se_printed: float | None = None  # the paper printed a standard error rather than a standard deviation
    unit: str | None = None  # "%": the paper prints our share as a percentage
    margin: float | None = None  # the equivalence margin, in the paper's unit (None: the suite's margin rule)

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


@dataclass(frozen=True)
class MarginRule:
    """How wide a difference still counts as reproduced where an entry states no margin: max(relative x |the paper's
    value|, the metric's floor), the floor in ganbench's unit of the metric (0 for a metric without one)."""

    relative: float = RELATIVE
    floors: tuple[tuple[str, float], ...] = tuple(FLOORS.items())

    def floor(self, metric: str) -> float:
        return dict(self.floors).get(metric, 0.0)

    def of(self, p: Published) -> float:
        """The margin of a published number, in the paper's unit."""
        if p.margin is not None:
            return p.margin
        return max(self.relative * abs(p.value), self.floor(p.metric) / p.factor)

    def of_value(self, metric: str, value: float) -> float:
        """The margin around one of our values of `metric` (ganbench's unit)."""
        return max(self.relative * abs(value), self.floor(metric))

    def describe(self, metrics: list[str]) -> str:
        """'max(10% of the paper's value, a floor: modes 1, hq 0.02)' for the metrics shown."""
        floors = [f"{m} {self.floor(m):g}" for m in dict.fromkeys(metrics) if self.floor(m)]
        return (f"max({self.relative:.0%} of the paper's value, the metric's floor in ganbench's unit: "
                f"{', '.join(floors)})" if floors else f"{self.relative:.0%} of the paper's value")


OPS = {"==": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
CLAIM_KEYS = {"dataset", "method", "metric", "op", "value", "source"}
RELATIONS = {"higher": ">", "lower": "<", "same": "≈"}
COMPARISON_KEYS = {"claim", "dataset", "metric", "source", "than", "as", "margin"} | set(RELATIONS)


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
class Comparison:
    """A paper's claim about two methods, tested on our runs: `a` has a higher / lower value of `metric` than `b`,
    or the same value within a margin."""

    claim: str
    dataset: str
    metric: str
    relation: str  # higher, lower or same
    a: str
    b: str
    source: str
    margin: float | None = None  # same: the margin in ganbench's unit (None: the suite's rule around b's mean)

    def tested(self) -> str:
        """'PacGAN2 > GAN': the claim as an inequality between the two methods."""
        return f"{self.a} {RELATIONS[self.relation]} {self.b}"


@dataclass(frozen=True)
class Reproduction:
    citation: str
    protocol: str
    differences: tuple[str, ...]
    published: tuple[Published, ...]
    variant: str = ""  # the scale the suite ran at, when not the paper's protocol (e.g. "cpu: 3,000 updates, ...")
    claims: tuple[Claim, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    margin: MarginRule = MarginRule()


def parse(doc: Any, where: str) -> Reproduction:
    """A suite's `reproduces` mapping -> Reproduction; every entry checked (a number without its source is refused)."""
    if not isinstance(doc, Mapping) or not {"citation", "published"} <= set(doc):
        raise SpecError(f"{where}: reproduces needs citation, published (and protocol, differences, claims, margin)")
    unknown = sorted(set(doc) - {"citation", "protocol", "differences", "published", "claims", "margin"})
    if unknown:
        raise SpecError(f"{where}: reproduces has unknown key {', '.join(unknown)}")
    entries = tuple(parse_entry(e, where) for e in doc["published"] or [])
    items = doc.get("claims") or []
    claims = tuple(parse_claim(c, where) for c in items if not (isinstance(c, Mapping) and "claim" in c))
    comparisons = tuple(parse_comparison(c, where) for c in items if isinstance(c, Mapping) and "claim" in c)
    diffs = doc.get("differences") or []
    if isinstance(diffs, str):
        diffs = [diffs]
    return Reproduction(str(doc["citation"]), str(doc.get("protocol", "")).strip(), tuple(map(str, diffs)),
                        entries, claims=claims, comparisons=comparisons, margin=parse_margin(doc.get("margin"), where))


def number(x: Any, what: str, where: str, low: float | None = None) -> float:
    """x as a float (at least `low`), or a SpecError naming `what`."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise SpecError(f"{where}: {what} {x!r} is not a number") from None
    if math.isnan(v) or (low is not None and v < low):
        raise SpecError(f"{where}: {what} {x!r} must be a number >= {low:g}")
    return v


def parse_margin(doc: Any, where: str) -> MarginRule:
    """`margin: {relative: 0.1, floor: {modes: 1, kl_modes: 0.05}}` -> MarginRule (floors added to the defaults)."""
    if doc is None:
        return MarginRule()
    floor = doc.get("floor", {}) if isinstance(doc, Mapping) else None
    if not isinstance(doc, Mapping) or set(doc) - {"relative", "floor"} or not isinstance(floor, Mapping):
        raise SpecError(f"{where}: reproduces margin must be {{relative: 0.1, floor: {{metric: value}}}}; got {doc!r}")
    floors = dict(FLOORS)
    floors.update({str(k): number(v, f"margin floor of {k}", where, 0.0) for k, v in (doc.get("floor") or {}).items()})
    return MarginRule(number(doc.get("relative", RELATIVE), "margin relative", where, 0.0), tuple(floors.items()))


def parse_entry(e: Any, where: str) -> Published:
    """One `published` entry -> Published."""
    needed = {"dataset", "method", "metric", "value", "source"}
    if not isinstance(e, Mapping) or not needed <= set(e) or set(e) - ENTRY_KEYS:
        raise SpecError(f"{where}: each published entry needs dataset, method, metric, value, source "
                        f"(optionally std or se, n, unit, margin); got {e!r}")
    if e.get("std") is not None and e.get("se") is not None:
        raise SpecError(f"{where}: published entry {e!r} gives both std and se; give the one the paper prints")
    if e.get("unit") is not None and e["unit"] not in UNITS:
        raise SpecError(f"{where}: published entry {e!r} has unit {e['unit']!r}; known units: {', '.join(UNITS)}")
    try:
        num = lambda k, f=float: None if e.get(k) is None else f(e[k])  # noqa: E731
        p = Published(str(e["dataset"]), str(e["method"]), str(e["metric"]), num("value"), str(e["source"]),
                      num("std"), num("n", int), num("se"), e.get("unit"), num("margin"))
    except (TypeError, ValueError):
        raise SpecError(f"{where}: published entry {e!r} has a value, std, se, n or margin that is not a "
                        "number") from None
    if p.margin is not None and not p.margin >= 0:
        raise SpecError(f"{where}: published entry {e!r} has a negative margin")
    return p


def parse_claim(c: Any, where: str) -> Claim:
    """A per-run criterion `{dataset, method, metric, op, value, source}` -> Claim."""
    if not isinstance(c, Mapping) or set(c) != CLAIM_KEYS or c["op"] not in OPS:
        raise SpecError(f"{where}: each claim needs dataset, method, metric, op ({' '.join(OPS)}), value, source "
                        f"(or claim, dataset, metric, higher/lower: A, than: B, source); got {c!r}")
    return Claim(str(c["dataset"]), str(c["method"]), str(c["metric"]), c["op"],
                 number(c["value"], "claim value", where), str(c["source"]))


def parse_comparison(c: Mapping, where: str) -> Comparison:
    """{claim, dataset, metric, higher|lower: A, than: B, source} or {..., same: A, as: B, margin?} -> Comparison."""
    relation = [r for r in RELATIONS if r in c]
    other = "as" if relation == ["same"] else "than"
    need = {"claim", "dataset", "metric", "source", *relation, other}
    if len(relation) != 1 or not need <= set(c) or set(c) - need - ({"margin"} if other == "as" else set()):
        raise SpecError(f"{where}: a comparative claim needs claim, dataset, metric, source and one of higher: A, "
                        f"than: B / lower: A, than: B / same: A, as: B (optionally margin); got {dict(c)!r}")
    margin = None if c.get("margin") is None else number(c["margin"], "claim margin", where, 0.0)
    return Comparison(str(c["claim"]), str(c["dataset"]), str(c["metric"]), relation[0], str(c[relation[0]]),
                      str(c[other]), str(c["source"]), margin)
