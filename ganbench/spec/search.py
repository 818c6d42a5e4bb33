"""Random hyper-parameter search in suites: a suite's `search:` section turns every grid cell into `samples` settings
drawn at random from a space of distributions (Lucic et al. 2018, "Are GANs created equal?": 100 random settings per
model and data set, the model's default settings among them).

    search:
      samples: 100        # settings per grid cell
      seed: 0             # the sampler's seed
      include_base: true  # sample 0 is the cell's own values
      seeds: 1            # training seeds of each drawn sample (default: the suite's seeds)
      space:
        lr_g: {log_uniform: [1.0e-5, 1.0e-2]}
        beta1: {uniform: [0.0, 1.0]}
        arch_options.d_bn: {choice: [true, false]}
        tricks.d-steps.k: {int_uniform: [1, 5]}
      tie: {lr_d: lr_g}   # lr_d takes the value drawn for lr_g

A parameter is a run-spec field (`lr_g`), an architecture option (`arch_options.NAME`) or a trick's parameter
(`tricks.TRICK.PARAM`); a cell whose architecture has no such option, or which does not use that trick, keeps its
own values for it. Sample i draws each parameter from numpy.random.default_rng([seed, i, hash of the parameter's
name]): the value depends on the search seed, the sample and the parameter only, so adding samples or parameters
never changes the values drawn before, and every cell that has a parameter gets the same value of it at sample i
(common random numbers: methods are compared at the same settings).
"""
from __future__ import annotations

import abc
import hashlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ganbench.errors import SpecError
from ganbench.registry import Registry, load_builtins
from ganbench.tricks.base import TRICKS, make_trick
from ganbench.models.base import arch_defaults

SEARCH_KEYS = {"samples", "seed", "include_base", "seeds", "space", "tie"}
# Run-spec fields a search may draw: the training hyper-parameters, not what is evaluated or logged, nor what names
# the cell (its data set, loss, method label, architecture) or its seed.
SEARCHABLE_FIELDS = ("lr_g", "lr_d", "beta1", "beta2", "optimizer", "batch_size", "z_dim", "steps")
SIGNIFICANT = 6  # log-uniform draws are rounded to this many significant digits (see LogUniform)


# ---------------------------------------------------------------- distributions


class Distribution(abc.ABC):
    """A distribution of one hyper-parameter; `parse` reads its YAML arguments, `draw` one value from a numpy
    Generator as a plain Python value (it becomes part of a run's spec JSON)."""

    @classmethod
    @abc.abstractmethod
    def parse(cls, args: Any, where: str) -> "Distribution":
        """The distribution its YAML arguments describe, or a one-line SpecError naming `where`."""

    @abc.abstractmethod
    def draw(self, rng: np.random.Generator) -> Any:
        """One value."""


DISTRIBUTIONS: Registry[type[Distribution]] = Registry("distribution")


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _pair(args: Any, where: str, name: str, check: Callable[[Any], bool] = _number, what: str = "numbers") -> tuple:
    """[lo, hi] with lo < hi (both passing `check`), or a one-line SpecError saying how to write it."""
    if not (isinstance(args, (list, tuple)) and len(args) == 2 and all(check(a) for a in args) and args[0] < args[1]):
        raise SpecError(f"{where}: {name} takes [low, high], two {what} with low < high, got {args!r}")
    return args[0], args[1]


@DISTRIBUTIONS.register("uniform")
@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform on [low, high) (numpy's uniform): e.g. Adam's beta1 in Lucic et al. 2018's wide search."""

    lo: float
    hi: float

    @classmethod
    def parse(cls, args: Any, where: str) -> "Uniform":
        lo, hi = _pair(args, where, "uniform")
        return cls(float(lo), float(hi))

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.lo, self.hi))


@DISTRIBUTIONS.register("log_uniform")
@dataclass(frozen=True)
class LogUniform(Distribution):
    """10 ** Uniform(log10 low, log10 high), on [low, high] with 0 < low (learning rates, penalty weights: Lucic et
    al. 2018 draw their exponents uniformly). Rounded to 6 significant digits, so that a run's identity does not
    depend on the last bit of the platform's pow."""

    lo: float
    hi: float

    @classmethod
    def parse(cls, args: Any, where: str) -> "LogUniform":
        lo, hi = _pair(args, where, "log_uniform", lambda a: _number(a) and a > 0, "positive numbers")
        return cls(float(lo), float(hi))

    def draw(self, rng: np.random.Generator) -> float:
        value = 10.0 ** float(rng.uniform(math.log10(self.lo), math.log10(self.hi)))
        return min(max(float(f"{value:.{SIGNIFICANT}g}"), self.lo), self.hi)


@DISTRIBUTIONS.register("int_uniform")
@dataclass(frozen=True)
class IntUniform(Distribution):
    """An integer uniform on {low, ..., high}, both ends included (D steps per G step: {1, ..., 5} in Lucic et al.
    2018)."""

    lo: int
    hi: int

    @classmethod
    def parse(cls, args: Any, where: str) -> "IntUniform":
        lo, hi = _pair(args, where, "int_uniform", lambda a: isinstance(a, int) and not isinstance(a, bool), "integers")
        return cls(lo, hi)

    def draw(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.lo, self.hi, endpoint=True))


@DISTRIBUTIONS.register("choice")
@dataclass(frozen=True)
class Choice(Distribution):
    """One of a list of values, each equally likely (batch norm in D: {True, False} in Lucic et al. 2018)."""

    values: tuple

    @classmethod
    def parse(cls, args: Any, where: str) -> "Choice":
        if not isinstance(args, (list, tuple)) or not args:
            raise SpecError(f"{where}: choice takes a non-empty list of values, got {args!r}")
        if any(isinstance(a, (list, dict)) for a in args):
            raise SpecError(f"{where}: choice takes plain values (numbers, strings, true/false), got {args!r}")
        return cls(tuple(args))

    def draw(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]


def parse_distribution(value: Any, where: str) -> Distribution:
    """{name: args} -> a Distribution, or a one-line SpecError naming the known distributions."""
    known = ", ".join(DISTRIBUTIONS.names())
    if not (isinstance(value, Mapping) and len(value) == 1):
        raise SpecError(f"{where}: write a distribution as {{name: arguments}}, e.g. {{log_uniform: [1.0e-5, 1.0e-2]}}"
                        f"; distributions: {known}")
    name, args = next(iter(value.items()))
    if name not in DISTRIBUTIONS:
        raise SpecError(f"{where}: {DISTRIBUTIONS.unknown_message(str(name)).split(' (see')[0]}")
    return DISTRIBUTIONS.get(name).parse(args, where)


# ---------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Param:
    """Where a drawn value goes: a run-spec field, an architecture option or a trick's parameter."""

    path: str  # as written in the suite: lr_g, arch_options.d_bn, tricks.d-steps.k
    kind: str  # "field", "arch_option" or "trick"
    key: str  # the field, option or trick-parameter name
    trick: str | None = None

    @staticmethod
    def parse(path: Any, where: str) -> "Param":
        """Read and check a parameter path; the names it uses must exist (options are checked per cell)."""
        if not isinstance(path, str) or not path:
            raise SpecError(f"{where}: a search parameter must be a name such as lr_g, got {path!r}")
        head, _, rest = path.partition(".")
        if head == "arch_options" and rest and "." not in rest:
            return Param(path, "arch_option", rest)
        if head == "tricks":
            return Param._trick(path, rest, where)
        if not rest and path in SEARCHABLE_FIELDS:
            return Param(path, "field", path)
        raise SpecError(f"{where}: cannot search {path!r}; search a field ({', '.join(SEARCHABLE_FIELDS)}), "
                        "arch_options.NAME or tricks.TRICK.PARAM")

    @staticmethod
    def _trick(path: str, rest: str, where: str) -> "Param":
        load_builtins()
        trick, _, key = rest.rpartition(".")
        if not trick or not key:
            raise SpecError(f"{where}: write a trick parameter as tricks.TRICK.PARAM (e.g. tricks.d-steps.k), "
                            f"got {path!r}")
        if trick not in TRICKS:
            raise SpecError(f"{where}: search parameter {path!r}: {TRICKS.unknown_message(trick)}")
        params = make_trick(trick, {}).params()
        if key not in params:
            raise SpecError(f"{where}: search parameter {path!r}: trick {trick!r} has no parameter {key!r}; its "
                            f"parameters: {', '.join(sorted(params)) or 'none'}")
        return Param(path, "trick", key, trick)

    def applies(self, spec) -> bool:
        """Whether a cell (its built RunSpec) has this parameter: every field; an option of its architecture; a
        parameter of a trick it uses."""
        if self.kind == "field":
            return True
        if self.kind == "arch_option":
            return self.key in arch_defaults(spec.arch)
        return any(t.name == self.trick for t in spec.tricks)

    def set(self, layer: dict[str, Any], value: Any) -> None:
        """Put `value` into a run-spec fields layer (ganbench.spec.merge's format)."""
        if self.kind == "field":
            layer[self.key] = value
        elif self.kind == "arch_option":
            layer.setdefault("arch_options", {})[self.key] = value
        else:  # one entry per trick, holding every drawn parameter of it
            tricks = layer.setdefault("tricks", [])
            entry = next((t for t in tricks if self.trick in t), None)
            if entry is None:
                tricks.append(entry := {self.trick: {}})
            entry[self.trick][self.key] = value


def stable_hash(text: str) -> int:
    """A 64-bit hash of `text` that is the same in every process and on every platform (unlike hash())."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


# ---------------------------------------------------------------- the search


@dataclass(frozen=True)
class Search:
    """A suite's random search: `samples` settings per cell, each drawn from `space` (parameter -> distribution),
    with the `tie`d parameters set equal to a drawn one; sample 0 is the cell itself when `include_base`. `seeds`:
    the training seeds of each drawn sample (None: the suite's); the base sample always has the suite's seeds."""

    samples: int
    space: tuple[tuple[Param, Distribution], ...]
    seed: int = 0
    include_base: bool = True
    tie: tuple[tuple[Param, str], ...] = ()  # (parameter set, the space parameter whose value it takes)
    seeds: tuple[int, ...] | None = None

    def is_base(self, i: int) -> bool:
        """Whether sample i is the cell's own values."""
        return self.include_base and i == 0

    def draw(self, i: int) -> dict[str, Any]:
        """Every space parameter's value at sample i: from default_rng([seed, i, stable hash of its name]), so
        independent of the cell, of the other parameters and of the number of samples."""
        return {p.path: dist.draw(np.random.default_rng([self.seed, i, stable_hash(p.path)]))
                for p, dist in self.space}

    def layer(self, i: int, base) -> dict[str, Any]:
        """The run-spec fields that sample i sets in a cell whose spec (without the search) is `base`: the drawn
        values of the parameters the cell has, the tied ones, and the cell's method label (a drawn trick parameter
        must not rename the method). Empty for the base sample."""
        if self.is_base(i):
            return {}
        values = self.draw(i)
        layer: dict[str, Any] = {"method": base.method}
        for p, _ in self.space:
            if p.applies(base):
                p.set(layer, values[p.path])
        by_path = {p.path: p for p, _ in self.space}
        for target, source in self.tie:
            if by_path[source].applies(base) and target.applies(base):
                target.set(layer, values[source])
        return layer

    def unused(self, bases: list) -> list[str]:
        """The space parameters that no cell (given by their specs without the search) has: a suite error."""
        return [p.path for p, _ in self.space if not any(p.applies(b) for b in bases)]


def _count_or_list(value: Any, where: str, what: str) -> tuple[int, ...]:
    seeds = list(range(value)) if isinstance(value, int) and not isinstance(value, bool) else value
    if not (isinstance(seeds, list) and seeds and all(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0
                                                      for seed in seeds)):
        raise SpecError(f"{where}: {what} must be a positive count or a non-empty list of non-negative integers, "
                        f"got {value!r}")
    return tuple(seeds)


def parse_search(doc: Any, where: str) -> Search:
    """A suite's `search:` mapping -> Search, each mistake a one-line SpecError that says what to write."""
    if not isinstance(doc, Mapping):
        raise SpecError(f"{where}: search must be a mapping with keys {', '.join(sorted(SEARCH_KEYS))}")
    unknown = sorted(set(doc) - SEARCH_KEYS)
    if unknown:
        raise SpecError(f"{where}: unknown search key {', '.join(map(str, unknown))}; valid keys: "
                        f"{', '.join(sorted(SEARCH_KEYS))}")
    samples = doc.get("samples")
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        raise SpecError(f"{where}: search samples must be a positive integer (settings per grid cell), got {samples!r}")
    seed = doc.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SpecError(f"{where}: search seed must be a non-negative integer, got {seed!r}")
    include_base = doc.get("include_base", True)
    if not isinstance(include_base, bool):
        raise SpecError(f"{where}: search include_base must be true or false, got {include_base!r}")
    space_doc = doc.get("space")
    if not isinstance(space_doc, Mapping) or not space_doc:
        raise SpecError(f"{where}: search space must map each parameter to a distribution, e.g. "
                        "{lr_g: {log_uniform: [1.0e-5, 1.0e-2]}}")
    space = tuple((Param.parse(k, f"{where} search space"), parse_distribution(v, f"{where} search space {k!r}"))
                  for k, v in space_doc.items())
    tie = parse_tie(doc.get("tie") or {}, {p.path for p, _ in space}, where)
    seeds = _count_or_list(doc["seeds"], f"{where} search", "seeds") if doc.get("seeds") is not None else None
    return Search(samples, space, seed, include_base, tie, seeds)


def parse_tie(doc: Any, drawn: set[str], where: str) -> tuple[tuple[Param, str], ...]:
    """`tie: {target: source}`: each target a parameter that is not drawn itself, each source a drawn one."""
    if not isinstance(doc, Mapping):
        raise SpecError(f"{where}: search tie must map a parameter to the drawn parameter it equals, e.g. "
                        "{lr_d: lr_g}")
    out = []
    for target, source in doc.items():
        if source not in drawn:
            raise SpecError(f"{where}: search tie {target}: {source!r} is not a parameter of the search space "
                            f"({', '.join(sorted(drawn))})")
        if target in drawn:
            raise SpecError(f"{where}: search tie {target}: {target!r} is drawn in the space itself; remove it from "
                            "one of the two")
        out.append((Param.parse(target, f"{where} search tie"), source))
    return tuple(out)
