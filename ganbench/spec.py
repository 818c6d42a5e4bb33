"""Run and suite specifications: YAML loading, validation, grid expansion and the run_id hash."""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from ganbench import yamlfile
from ganbench.errors import SpecError
from ganbench.registry import load_builtins


@dataclass(frozen=True)
class TrickSpec:
    """A trick name with its parameters (sorted), as stored in a run spec."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines a run's numbers; its canonical JSON hashes to the run_id."""

    dataset: str
    loss: str
    method: str  # leaderboard label: the loss or preset name, plus any added tricks
    arch: str
    arch_options: dict[str, Any]
    tricks: tuple[TrickSpec, ...]
    seed: int
    steps: int
    batch_size: int
    z_dim: int
    optimizer: str
    lr_g: float
    lr_d: float
    beta1: float
    beta2: float
    eval_samples: int
    log_every: int
    # Observation settings: what is measured along the way, never the trained numbers (tested), so they are not
    # part of the run's identity; a run directory keeps the settings it started with.
    quality_every: int = 0  # score a fixed-latent probe every this many steps (0: never); see ganbench.quality
    quality_samples: int = 2000  # generated samples per probe
    # Published evaluation protocols scored beside the data set's own metrics (ganbench.metrics.protocols); part of
    # the run's identity when given (its metrics.json holds their numbers), left out of it when empty.
    protocols: tuple[str, ...] = ()
    # Which of its cell's hyper-parameter samples the run is (a suite's `search:`, ganbench.search); None outside a
    # search. Part of the run's identity from sample 1 on; sample 0 is identified by its values alone, so a cell's
    # own settings (the base sample) keep the run_id they had before the suite had a search.
    hp_sample: int | None = None
    # The feature extractor every image metric of the run uses (e.g. ganbench-mnist for MNIST on a machine without
    # Inception weights); empty: the data set's own. Part of the run's identity when given.
    features: str = ""

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["tricks"] = [t.to_json() for t in self.tricks]
        d["arch_options"] = dict(sorted(self.arch_options.items()))
        d["protocols"] = list(self.protocols)
        return d

    def canonical(self) -> str:
        """The spec's identity as canonical JSON: every field except the observation settings and architecture
        options left at their default (so adding an option with a default that keeps the old behaviour never
        changes existing run_ids)."""
        return json.dumps(identity(self.to_json()), sort_keys=True, separators=(",", ":"))

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()

    @property
    def run_id(self) -> str:
        """Readable prefix + hash of the canonical spec: equal specs share a run directory."""
        sample = f"-h{self.hp_sample}" if self.hp_sample else ""
        label = re.sub(r"[^a-zA-Z0-9_.+-]", "_", f"{self.dataset}-{self.method}-s{self.seed}{sample}")
        return f"{label}-{self.digest[:10]}"

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> "RunSpec":
        d = dict(d)
        d["tricks"] = tuple(TrickSpec(t["name"], tuple(sorted(t["params"].items()))) for t in d["tricks"])
        d["protocols"] = tuple(d.get("protocols", ()))
        return RunSpec(**d)


OBSERVATION_FIELDS = ("quality_every", "quality_samples")


def identity(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec dictionary without its observation settings, with architecture options at their default value left
    out, and without empty protocols or a hyper-parameter sample of None or 0 (fields added later, absent from
    earlier runs)."""
    from ganbench.models.base import arch_defaults
    from ganbench.registry import load_builtins

    load_builtins()
    defaults = arch_defaults(spec["arch"])
    out = {k: v for k, v in spec.items()
           if k not in OBSERVATION_FIELDS and not (k in ("protocols", "hp_sample", "features") and not v)}
    out["arch_options"] = {k: v for k, v in sorted(spec["arch_options"].items())
                           if k not in defaults or defaults[k] != v}
    from ganbench.tricks.base import TRICKS

    missing = object()
    out["tricks"] = [{"name": t["name"], "params": {k: v for k, v in t["params"].items()
                                                    if TRICKS.get(t["name"]).late_params.get(k, missing) != v}}
                     for t in spec["tricks"]]
    return out


FIELDS = {f.name: f for f in dataclasses.fields(RunSpec)}
# Defaults that do not depend on the data set; arch, batch_size, z_dim, eval_samples come from the data set.
DEFAULTS: dict[str, Any] = {
    "arch_options": {}, "tricks": [], "seed": 0, "steps": 2000, "optimizer": "adam",
    "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "log_every": 50, "quality_samples": 2000,
    "protocols": [], "features": "",
}
QUALITY_PROBES = 10  # quality_every defaults to steps / QUALITY_PROBES
SCALARS = {"seed": int, "steps": int, "batch_size": int, "z_dim": int, "eval_samples": int, "log_every": int,
           "quality_every": int, "quality_samples": int,
           "lr_g": float, "lr_d": float, "beta1": float, "beta2": float,
           "dataset": str, "loss": str, "method": str, "arch": str, "optimizer": str, "features": str}
# The least value of each integer field (quality_every 0: no quality probe; two samples make the least covariance).
INT_MIN = {"seed": 0, "steps": 1, "batch_size": 1, "z_dim": 1, "eval_samples": 2, "log_every": 1, "quality_every": 0,
           "quality_samples": 2}
# Each float field's range: (low, high, whether low itself is allowed); high is never allowed. A learning rate of 0
# freezes that player (a legitimate ablation).
FLOAT_RANGE = {"lr_g": (0.0, math.inf, True), "lr_d": (0.0, math.inf, True), "beta1": (0.0, 1.0, True),
               "beta2": (0.0, 1.0, True)}
METHOD_MAX = 120  # characters of a method label


def check_scalar(key: str, value: Any, where: str) -> Any:
    """A scalar run-spec field's value, strictly typed: integers (an integral float such as 1e4 is read as one,
    never 10.7, never yes/no), finite floats in their range (YAML 1.1 reads 2e-4 as text: numeric text is read as
    a number), non-empty text for names. A SpecError line names the field, the value and what is allowed."""
    typ = SCALARS[key]
    if typ is str:
        if not isinstance(value, str) or (not value.strip() and key != "features"):
            raise SpecError(f"{where}: {key}={value!r} must be a name (text)")
        if key == "method" and (len(value) > METHOD_MAX or not value.isprintable() or value.startswith(".")):
            raise SpecError(f"{where}: method label {value!r} must be printable text of at most {METHOD_MAX} "
                            "characters, not starting with '.'")
        return value
    number = value
    if isinstance(value, str):
        try:
            number = int(value) if typ is int and re.fullmatch(r"[+-]?\d+", value.strip()) else float(value)
        except ValueError:
            number = value
    if typ is int:
        if isinstance(number, float) and math.isfinite(number) and number.is_integer():
            number = int(number)
        if isinstance(number, bool) or not isinstance(number, int):
            raise SpecError(f"{where}: {key}={value!r} is not an integer; allowed: integers >= {INT_MIN[key]}")
        if number < INT_MIN[key]:
            raise SpecError(f"{where}: {key}={value!r} is out of range; allowed: integers >= {INT_MIN[key]}")
        return number
    low, high, closed = FLOAT_RANGE[key]
    allowed = (f"{'[' if closed else '('}{low:g}, {high:g})" if math.isfinite(high)
               else f"{'>=' if closed else '>'} {low:g}")
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
        raise SpecError(f"{where}: {key}={value!r} is not a finite number; allowed: {allowed}")
    if not (low <= number if closed else low < number) or not number < high:
        raise SpecError(f"{where}: {key}={value!r} is out of range; allowed: {allowed}")
    return float(number)


def parse_tricks(value: Any) -> dict[str, dict[str, Any]]:
    """Tricks given as 'name', 'name:k=v,k=v', {name: {k: v}} or a list of these -> {name: params}."""
    if value is None:
        return {}
    items = value if isinstance(value, (list, tuple)) else [value]
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if isinstance(item, TrickSpec):
            name, params = item.name, dict(item.params)
        elif isinstance(item, str):
            name, _, rest = item.partition(":")
            params = {}
            for kv in filter(None, rest.split(",")):
                k, eq, v = kv.partition("=")
                if not eq:
                    raise SpecError(f"trick {item!r}: write parameters as name:key=value,key=value")
                params[k.strip()] = read_value(v)
        elif isinstance(item, Mapping) and len(item) == 1:
            name, params = next(iter(item.items()))
            params = dict(params or {})
            if not isinstance(params, dict):
                raise SpecError(f"trick {name!r}: parameters must be a mapping, got {params!r}")
        else:
            raise SpecError(f"cannot read trick {item!r}: use a name, 'name:key=value' or {{name: {{key: value}}}}")
        if name in out:
            raise SpecError(f"trick {name!r} is listed twice")
        out[str(name).strip()] = params
    return out


def merge(layers: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Later layers win field by field; tricks are united (later parameters win), arch_options merged."""
    out: dict[str, Any] = {}
    for layer in layers:
        for k, v in layer.items():
            if k == "tricks":
                tricks = parse_tricks(out.get("tricks"))
                for name, params in parse_tricks(v).items():
                    tricks[name] = {**tricks.get(name, {}), **params}
                out["tricks"] = [{n: p} for n, p in tricks.items()]
            elif k == "arch_options":
                if not isinstance(v, Mapping):
                    raise SpecError(f"arch_options must be a mapping, got {v!r}")
                out[k] = {**out.get(k, {}), **v}
            else:
                out[k] = v
    return out


def check_keys(fields: Mapping[str, Any], where: str, suite: bool = False) -> None:
    """Every key is a run-spec field a user may set (in a suite, not `seed`: its seeds are the suite's `seeds:`)."""
    for k in fields:
        if k == "hp_sample":
            raise SpecError(f"{where}: hp_sample is set by a suite's search section, not by hand")
        if suite and k == "seed":
            raise SpecError(f"{where}: a suite's seeds are its `seeds:` (a count or a list), not a `seed` field")
        if k not in FIELDS:
            keys = [f for f in FIELDS if f != "hp_sample"]
            close = difflib.get_close_matches(k, keys, n=2)
            hint = f"did you mean {' or '.join(close)}?" if close else f"valid keys: {', '.join(keys)}"
            raise SpecError(f"unknown run-spec key {k!r} in {where}; {hint}")


def build_spec(*layers: Mapping[str, Any], where: str = "the run spec") -> RunSpec:
    """Resolve layered fields (defaults < ... < last) into a validated RunSpec; a named preset in `loss` expands."""
    load_builtins()
    from ganbench.data import get_dataset
    from ganbench.losses import LOSSES
    from ganbench.models.base import resolve_options
    from ganbench.presets import PRESETS

    layers = list(layers)
    for layer in layers:
        check_keys(layer, where)
    raw = merge(layers)
    for required in ("dataset", "loss"):
        if required not in raw:
            raise SpecError(f"{where} has no {required!r}; give one (e.g. --{required} ...)")
    raw["dataset"] = check_scalar("dataset", raw["dataset"], where)
    name = raw["loss"] = check_scalar("loss", raw["loss"], where)
    preset_tricks: set[str] = set()
    if name in PRESETS:  # the preset sits just above the layer that named it; later layers still win
        preset = PRESETS.get(name)
        preset_tricks = set(parse_tricks(preset.get("tricks")))
        at = max(i for i, layer in enumerate(layers) if "loss" in layer)
        raw = merge(layers[: at + 1] + [preset] + layers[at + 1 :])
    elif name not in LOSSES:
        close = difflib.get_close_matches(str(name), LOSSES.names() + PRESETS.names(), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"losses: {', '.join(LOSSES.names())}; presets: {', '.join(PRESETS.names())}"
        raise SpecError(f"unknown loss {name!r}; {hint} (see `ganbench list losses`)")
    label_given = "method" in raw
    raw.setdefault("method", name)
    data = get_dataset(raw["dataset"])
    full = {**DEFAULTS, **data.defaults, **raw}
    for k in SCALARS:
        if k == "quality_every" and k not in full:  # after steps is an integer
            full[k] = max(1, full["steps"] // QUALITY_PROBES)
        full[k] = check_scalar(k, full[k], where)
    from ganbench.tricks.base import compose
    from ganbench.optim import OPTIMIZERS
    from ganbench.models import ARCHS

    ARCHS.get(full["arch"])
    OPTIMIZERS.get(full["optimizer"])
    full["arch_options"] = resolve_options(full["arch"], dict(full["arch_options"]))
    full["protocols"] = check_protocols(full["protocols"], data, where)
    check_features(full["features"], data, where)
    check_buildable(full["arch"], data.sample_shape, full["z_dim"], full["arch_options"], where)
    stack = compose(parse_tricks(full["tricks"]).items())
    full["tricks"] = tuple(TrickSpec(t.name, tuple(sorted(t.params().items()))) for t in stack.tricks)
    if not label_given:  # the loss or preset name, then each added trick in application order
        full["method"] = "+".join([name] + [trick_label(t) for t in full["tricks"] if t.name not in preset_tricks])
    spec = RunSpec(**full)
    if spec.batch_size > len(data):
        raise SpecError(f"{where}: batch_size {spec.batch_size} exceeds the {len(data)} samples of {spec.dataset}")
    stack.check(spec, LOSSES.get(spec.loss))
    stack.bind_data(data)
    options = stack.arch_options(spec.arch, dict(spec.arch_options))
    d_shape = stack.d_input_shape(data.sample_shape)
    if options != dict(spec.arch_options) or stack.code_dim() or d_shape != data.sample_shape:
        check_buildable(spec.arch, d_shape, spec.z_dim + stack.code_dim(), options,
                        f"{where} (with the architecture options of its tricks)")
    drawn = stack.batch_size(spec.batch_size)
    if drawn > len(data):
        raise SpecError(f"{where}: the tricks draw {drawn} samples per batch, more than the {len(data)} of "
                        f"{spec.dataset}; lower batch_size")
    return spec


def check_protocols(value: Any, data, where: str) -> tuple[str, ...]:
    """A run's evaluation protocols: known names that apply to its data set, sorted, each once."""
    from ganbench.metrics.protocols import PROTOCOLS, applicability

    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise SpecError(f"{where}: protocols must be a list of names (see `ganbench list protocols`)")
    for n in names:
        if n not in PROTOCOLS:
            raise SpecError(f"{where}: unknown evaluation protocol {n!r}; known: {', '.join(PROTOCOLS.names())}")
        why = applicability(n, data)
        if why:
            raise SpecError(f"{where}: {why}")
    return tuple(sorted(set(names)))


def check_features(name: str, data, where: str) -> None:
    """A run's `features`: empty, or a registered feature extractor for an image data set scored by one."""
    if not name:
        return
    if data.kind != "image" or not data.info.get("extractor"):
        raise SpecError(f"{where}: features={name!r} applies to image data sets with feature metrics; "
                        f"{data.name} has none")
    from ganbench.metrics.pinned import NETS

    if name in NETS or name in ("inception-v3-compat", "vgg16"):  # known without importing torch-fidelity (1.6 s)
        return
    if name == data.info.get("classifier"):  # the set's own (e.g. trained) classifier
        return
    from ganbench.metrics.images import extractor_names

    known = extractor_names()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=2)
        hint = f"did you mean {' or '.join(close)}?" if close else f"registered: {', '.join(known)}"
        raise SpecError(f"{where}: unknown feature extractor features={name!r}; {hint}")


def trick_label(t: TrickSpec) -> str:
    """A trick's part of a method label: its name, with the parameters that differ from its defaults, e.g. pac(m=3)."""
    from ganbench.tricks.base import make_trick

    defaults = make_trick(t.name, {}).params()
    changed = [f"{k}={v}" for k, v in t.params if defaults.get(k) != v]
    return f"{t.name}({','.join(changed)})" if changed else t.name


def check_buildable(arch: str, shape: tuple[int, ...], z_dim: int, options: dict[str, Any], where: str) -> None:
    """Build the models on the meta device (no memory, no compute) so that bad shapes or options fail now. Each
    combination is built once per process (a suite's search repeats them many times)."""
    from ganbench.models import ARCHS

    key = (arch, id(ARCHS.get(arch)), tuple(shape), int(z_dim), repr(sorted(options.items())))
    if key not in _BUILD_ERRORS:
        _BUILD_ERRORS[key] = _build_error(arch, tuple(shape), int(z_dim), options)
    if _BUILD_ERRORS[key] is not None:
        raise SpecError(f"{where}: arch {arch!r} cannot model data of shape {shape} with {options}: "
                        f"{_BUILD_ERRORS[key]}")


# (arch, its builder, shape, z_dim, options) -> why the models cannot be built, or None
_BUILD_ERRORS: dict[tuple, str | None] = {}


def _build_error(arch: str, shape: tuple[int, ...], z_dim: int, options: dict[str, Any]) -> str | None:
    import torch

    from ganbench.models import build_models

    try:
        with torch.device("meta"):
            build_models(arch, shape, z_dim, options)
    except (ValueError, TypeError, RuntimeError) as e:
        return str(e)
    return None


def read_value(text: str) -> Any:
    """A command-line value read as YAML, with numbers such as 4e-4 (a string to YAML 1.1) read as numbers."""
    try:
        value = yaml.load(text, Loader=yamlfile.StrictLoader)  # noqa: S506 (a SafeLoader)
    except yaml.constructor.ConstructorError as e:  # a key given twice
        raise SpecError(f"value {text!r}: {e.problem}") from None
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        for number in (int, float):
            try:
                return number(value)
            except ValueError:
                pass
    return value


def parse_set(items: Iterable[str]) -> dict[str, Any]:
    """`key=value` strings (values read as YAML; dotted keys set nested options) -> a fields layer."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise SpecError(f"--set {item!r}: write key=value, e.g. --set lr_d=4e-4")
        parsed = read_value(value)
        head, _, sub = key.partition(".")
        if sub:
            if head != "arch_options":
                raise SpecError(f"--set {item!r}: only arch_options.NAME takes a dotted key")
            out.setdefault(head, {})[sub] = parsed
        else:
            out[key] = parsed
    return out


# ---------------------------------------------------------------- suites

# A suite file's keys, and a scale's, with what each holds: the schema `load_suite` checks against, and the source
# of README's suite reference (render_reference; a test keeps the two equal).
SUITE_KEYS = {
    "name": "the suite's name (default: the file's stem); names its results directory: 1-64 letters, digits, '.', '_', '-'",
    "description": "free text; its first line is what `ganbench list suites` prints",
    "seeds": "a count N (seeds 0..N-1) or a list of distinct non-negative integers; every cell runs each seed",
    "base": "run-spec fields every cell starts from",
    "grid": "axes to cross ({field: [values]}), or a list of such blocks whose cells are united",
    "overrides": "a list of {when: {field: value(s)}, set: {field: value}}: fields set on the cells that match",
    "exclude": "a list of {field: value(s)} conditions: matching cells are left out",
    "scales": "named variants ({name: scale}), chosen with --scale; results go to <suite>-<scale>/",
    "reproduces": "the paper this suite sets its numbers against: citation, published numbers, claims, margin",
    "launch": "how to execute it: workers, devices, partition, time_min, gpus_per_task, cpus_per_task, "
              "runs_per_task, array_parallelism, extra (known submitit parameters, plain values)",
    "search": "a random hyper-parameter search: samples, space, tie, include_base, seeds, seed",
    "baseline": "the method label every other method on a data set is tested against",
}
SCALE_KEYS = {
    "description": "what the scale is for (reproduction reports quote it)",
    "seeds": "this scale's seeds (a count or a list), instead of the suite's",
    "set": "run-spec fields set on every cell last",
    "overrides": "per-cell {when, set} applied after `set`",
    "exclude": "more cells to leave out at this scale",
    "differences": "how this scale departs from the paper's protocol (listed in the reproduction report)",
    "search": "search keys replacing the suite's (e.g. {samples: 2})",
}
FIELD_HELP = {
    "dataset": "data set name (`ganbench list datasets`)", "loss": "loss or preset name (`ganbench list losses`)",
    "method": "the leaderboard row's label (default: the loss and its tricks)",
    "arch": "architecture (default: the data set's)", "arch_options": "the architecture's options, e.g. {width: 16}",
    "tricks": "tricks with parameters: [sn, {gp: {lam: 10}}] (`ganbench list tricks`)",
    "seed": "set by the suite's seeds, not in a suite", "steps": "G updates", "batch_size": "real samples per D step",
    "z_dim": "latent size", "optimizer": "adam (default), rmsprop or sgd", "lr_g": "G's learning rate", "lr_d": "D's learning rate",
    "beta1": "Adam's beta1", "beta2": "Adam's beta2", "eval_samples": "generated samples scored at the end",
    "log_every": "steps between history rows", "quality_every": "steps between quality probes (0: none)",
    "quality_samples": "samples per quality probe", "protocols": "extra evaluation protocols (`ganbench list protocols`)",
    "features": "the feature extractor of every image metric (default: the data set's)",
    "hp_sample": "set by a suite's search, not by hand",
}


def render_reference() -> str:
    """README's suite reference, from the schema: suite keys, scale keys, run-spec fields with their types and
    allowed ranges."""
    lines = ["| suite key | holds |", "|---|---|", *[f"| `{k}` | {v} |" for k, v in SUITE_KEYS.items()], "",
             "| scale key | holds |", "|---|---|", *[f"| `{k}` | {v} |" for k, v in SCALE_KEYS.items()], "",
             "| run-spec field | type and range | what |", "|---|---|---|"]
    for name in FIELDS:
        if name in INT_MIN:
            kind = f"integer >= {INT_MIN[name]}"
        elif name in FLOAT_RANGE:
            low, high, closed = FLOAT_RANGE[name]
            kind = (f"number in {'[' if closed else '('}{low:g}, {high:g})" if math.isfinite(high)
                    else f"number {'>=' if closed else '>'} {low:g}")
        elif SCALARS.get(name) is str:
            kind = "text"
        else:
            kind = {"tricks": "list", "arch_options": "mapping", "protocols": "list of names"}.get(name, "integer")
        lines.append(f"| `{name}` | {kind} | {FIELD_HELP.get(name, '')} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Suite:
    """Grids of runs: base fields, blocks of axes to cross (their union), per-cell overrides, excluded cells, the
    seeds, and an optional random hyper-parameter search that draws settings for every cell."""

    name: str
    description: str
    seeds: tuple[int, ...]
    base: dict[str, Any]
    grid: tuple[dict[str, list[Any]], ...]
    overrides: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    exclude: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    path: str = ""
    extra_tricks: tuple[str, ...] = ()  # added from the command line (--add-trick): one more value on a tricks axis
    scale_set: dict[str, Any] = field(default_factory=dict)  # a scale's fields (--scale), set on every cell last
    scale_overrides: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # and the scale's per-cell overrides
    reproduces: Any = None  # a ganbench.reproduction.Reproduction: the paper's numbers this suite is set against
    launch: dict[str, Any] = field(default_factory=dict)  # how to execute it (ganbench.launch.Launch fields)
    search: Any = None  # a ganbench.search.Search: hyper-parameter samples drawn for every cell
    baseline: str | None = None  # the method every other method on a data set is tested against (leaderboard)

    def cells(self) -> list[dict[str, Any]]:
        """Every cell of every grid block (before seeds), excluded ones left out."""
        out = []
        for block in self.grid:
            block = dict(block)
            if self.extra_tricks and "tricks" in block:
                block["tricks"] = list(block["tricks"]) + [[t] for t in self.extra_tricks]
            axes = list(block)
            for values in itertools.product(*(block[a] for a in axes)):
                cell = dict(zip(axes, values))
                if not any(_matches(e, {**self.base, **cell}) for e in self.exclude):
                    out.append(cell)
        return out

    def expand(self) -> list[RunSpec]:
        """Every cell x seed as a validated RunSpec, in a stable order, without duplicates. With a search: every
        hyper-parameter sample x cell x seed, sample by sample (so the expansion with fewer samples is a prefix of
        the one with more), each sample's drawn values layered after the cell's overrides and before the scale's
        fields (a smoke scale's tiny settings still win)."""
        cells = [(cell, self._layers(cell) + [None] + self._scale_layers(cell), f"suite {self.name!r}, cell {cell}")
                 for cell in self.cells()]  # None: where a search sample's drawn values go
        search = self.search
        bases = [build_spec(*[x for x in layers if x is not None], {"seed": self.seeds[0]}, where=where)
                 for _, layers, where in cells]
        if search is not None:
            unused = search.unused(bases)
            if unused:
                raise SpecError(f"suite {self.path or self.name}: search parameter {', '.join(unused)} applies to no "
                                "cell (no cell's architecture has that option or uses that trick); remove it or "
                                "fix its name")
        specs: dict[str, RunSpec] = {}
        for i in range(search.samples if search is not None else 1):
            for (cell, layers, where), base in zip(cells, bases):
                for spec in self._sample(i, layers, where, base):
                    specs.setdefault(spec.run_id, spec)
        check_labels(specs.values(), f"suite {self.path or self.name}")
        return list(specs.values())

    def check_baseline(self, specs: list[RunSpec], baseline: str | None = None) -> str | None:
        """`baseline` (else the suite's own) if it is one of the suite's method labels, else a SpecError."""
        baseline = baseline or self.baseline
        methods = sorted({s.method for s in specs})
        if baseline is not None and baseline not in methods:
            raise SpecError(f"suite {self.path or self.name}: baseline {baseline!r} is not a method of the suite; "
                            f"its methods: {', '.join(methods)}")
        return baseline

    def _scale_layers(self, cell: dict[str, Any]) -> list[dict[str, Any]]:
        """A cell's run-spec layers from its scale: the scale's fields, then the scale's overrides it matches."""
        return [self.scale_set, *[o["set"] for o in self.scale_overrides if _matches(o["when"], {**self.base, **cell})]]

    def _layers(self, cell: dict[str, Any]) -> list[dict[str, Any]]:
        """A cell's run-spec layers before the search and the scale: base, the cell, the overrides it matches."""
        return [self.base, cell, *[o["set"] for o in self.overrides if _matches(o["when"], {**self.base, **cell})]]

    def _sample(self, i: int, layers: list[dict[str, Any]], where: str, base: RunSpec) -> list[RunSpec]:
        """Hyper-parameter sample i of a cell (whose spec without the search is `base`), one RunSpec per seed:
        built and validated once, the seeds set on copies (nothing else depends on the seed). A cell that has none
        of the searched parameters has one sample, its own values: [] for the others."""
        search = self.search
        if search is None:
            return [dataclasses.replace(base, seed=s) for s in self.seeds]
        layer = search.layer(i, base)
        drawn = {k: v for k, v in layer.items() if k != "method"}
        if drawn:
            where = f"{where}, hyper-parameter sample {i} {drawn}"
            spec = build_spec(*[layer if x is None else x for x in layers], {"seed": self.seeds[0]}, where=where)
        elif i == 0:
            spec = base
        else:
            return []
        seeds = self.seeds if not drawn or search.seeds is None else search.seeds
        return [dataclasses.replace(spec, seed=s, hp_sample=i) for s in seeds]


def check_labels(specs: Iterable[RunSpec], where: str) -> None:
    """Runs that differ in anything but their seed and search sample must differ in their method label (or data
    set): a leaderboard row pools the runs of one label, and two settings pooled in one row would be one wrong
    number."""
    seen: dict[tuple, RunSpec] = {}
    for spec in specs:
        other = seen.setdefault((spec.dataset, spec.method, spec.seed, spec.hp_sample), spec)
        if other.run_id != spec.run_id:
            differ = [f for f in FIELDS if getattr(other, f) != getattr(spec, f)]
            raise SpecError(f"{where}: two cells share the method label {spec.method!r} on {spec.dataset} but differ "
                            f"in {', '.join(differ)}; give each its own `method:` label")


def _matches(when: Mapping[str, Any], cell: Mapping[str, Any]) -> bool:
    """Whether a cell has every listed field at one of the listed values. For `tricks` the values are trick names
    (the cell matches when it uses any of them) or `none` (a cell without tricks)."""
    for k, v in when.items():
        allowed = v if isinstance(v, list) else [v]
        if k == "tricks":
            names = set(parse_tricks(cell.get("tricks")))
            if not (names & set(allowed) or (not names and "none" in allowed)):
                return False
        elif cell.get(k) not in allowed:
            return False
    return True


def suites_dirs() -> list[Path]:
    """Where suites are looked up by name: ./suites, then the repository's suites/."""
    repo = Path(__file__).resolve().parent.parent / "suites"
    return [Path.cwd() / "suites", repo]


def find_suite(name: str) -> Path:
    p = Path(name)
    if p.suffix in (".yaml", ".yml"):
        if p.is_dir():
            raise SpecError(f"suite {name!r} is a directory; give a .yaml file")
        if not p.is_file():
            raise SpecError(f"suite file {name!r} does not exist")
        return p
    for d in suites_dirs():
        if (d / f"{name}.yaml").is_file():
            return d / f"{name}.yaml"
    known = sorted({f.stem for d in suites_dirs() if d.is_dir() for f in d.glob("*.yaml")})
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"known suites: {', '.join(known)}"
    raise SpecError(f"unknown suite {name!r}; {hint}")


def list_suites() -> dict[str, str]:
    """Suite name -> description, for `ganbench list suites`."""
    out: dict[str, str] = {}
    for d in reversed(suites_dirs()):
        for f in sorted(d.glob("*.yaml")) if d.is_dir() else []:
            try:
                out[f.stem] = load_suite(f).description.splitlines()[0]
            except Exception as e:  # a broken suite file is listed with its error, not fatal
                out[f.stem] = f"(unreadable: {e})"
    return dict(sorted(out.items()))


def load_suite(name_or_path: str | Path, add_tricks: Iterable[str] = (), scale: str | None = None) -> Suite:
    """Read and check a suite YAML (safe_load) by name or path; `add_tricks` extends its tricks axis; `scale` names
    one of its `scales` (e.g. smoke: a few steps and samples), whose fields are set on every cell and whose results
    live apart (suite name + '-' + scale)."""
    path = find_suite(str(name_or_path))
    doc = yamlfile.load(path, "suite")
    if not isinstance(doc, dict):
        raise SpecError(f"suite {path} must be a YAML mapping with keys {', '.join(sorted(SUITE_KEYS))}")
    check_known(doc, SUITE_KEYS, f"suite {path}")
    seeds = parse_seeds(doc.get("seeds", [0]), f"suite {path}")
    grid = doc.get("grid") or {}
    blocks = grid if isinstance(grid, list) else [grid]
    for block in blocks:
        if not isinstance(block, dict) or not all(isinstance(v, list) and v for v in block.values()):
            raise SpecError(f"suite {path}: grid must map each axis to a non-empty list of values "
                            "(or be a list of such mappings, whose cells are united)")
        check_keys(block, f"suite {path} grid", suite=True)
    base = doc.get("base") or {}
    if not isinstance(base, dict):
        raise SpecError(f"suite {path}: base must be a mapping of run-spec fields")
    check_keys(base, f"suite {path} base", suite=True)
    overrides = check_overrides(doc.get("overrides"), f"suite {path}")
    exclude = doc.get("exclude") or []
    if not isinstance(exclude, list) or not all(isinstance(e, dict) and e for e in exclude):
        raise SpecError(f"suite {path}: exclude must be a list of {{field: value(s)}} conditions")
    for e in exclude:
        check_keys(e, f"suite {path} exclude", suite=True)
    add_tricks = tuple(add_tricks)
    if add_tricks and not any("tricks" in block for block in blocks):
        raise SpecError(f"suite {path} has no tricks axis in its grid; --add-trick needs one (see suites/tricks.yaml)")
    scales = doc.get("scales") or {}
    if not isinstance(scales, dict) or not all(isinstance(v, dict) for v in scales.values()):
        raise SpecError(f"suite {path}: scales must map each name to {{set: {{field: value}}, seeds: ..., description: "
                        f"...}}; a scale's keys: {', '.join(sorted(SCALE_KEYS))}")
    for scale_name, scale_doc in scales.items():
        check_name(scale_name, f"suite {path}: scale name")
        check_known(scale_doc, SCALE_KEYS, f"suite {path} scale {scale_name!r}")
    search_doc = doc.get("search")
    name = check_name(doc.get("name", path.stem), f"suite {path}: name")
    scale_set: dict[str, Any] = {}
    scale_overrides: list[dict[str, Any]] = []
    if scale is not None:
        if scale not in scales:
            known = ", ".join(sorted(scales)) or "none"
            raise SpecError(f"suite {path} has no scale {scale!r}; its scales: {known}")
        scale_set = dict(scales[scale].get("set") or {})
        check_keys(scale_set, f"suite {path} scale {scale!r}", suite=True)
        scale_overrides = check_overrides(scales[scale].get("overrides"), f"suite {path} scale {scale!r}")
        seeds = parse_seeds(scales[scale].get("seeds", seeds), f"suite {path} scale {scale!r}")
        search_doc = scaled_search(search_doc, scales[scale].get("search"), f"suite {path} scale {scale!r}")
        name = f"{name}-{scale}"
        more = scales[scale].get("exclude") or []  # a pipeline check may leave out cells that repeat others' code
        if not isinstance(more, list) or not all(isinstance(e, dict) and e for e in more):
            raise SpecError(f"suite {path} scale {scale!r}: exclude must be a list of {{field: value(s)}} conditions")
        for e in more:
            check_keys(e, f"suite {path} scale {scale!r} exclude", suite=True)
        exclude = list(exclude) + more
    launch = doc.get("launch") or {}
    if not isinstance(launch, dict):
        raise SpecError(f"suite {path}: launch must be a mapping, e.g. {{partition: gpu, time_min: 120, gpus_per_task: 1}}")
    reproduces = None
    if doc.get("reproduces") is not None:
        from ganbench.reproduction import parse

        reproduces = parse(doc["reproduces"], f"suite {path}")
        if scale is not None:  # a cheaper variant is labelled as such, with what it changes
            extra = scales[scale].get("differences") or []
            reproduces = dataclasses.replace(
                reproduces, variant=f"{scale} ({str(scales[scale].get('description', '')).strip()})",
                differences=reproduces.differences + tuple(map(str, [extra] if isinstance(extra, str) else extra)))
    search = None
    if search_doc is not None:
        from ganbench.search import parse_search

        search = parse_search(search_doc, f"suite {path}")
    baseline = doc.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise SpecError(f"suite {path}: baseline must be one method name (a cell's method label), e.g. `baseline: ns`")
    suite = Suite(
        name=name, description=str(doc.get("description", "")).strip(),
        seeds=tuple(seeds), base=base, grid=tuple(blocks), overrides=tuple(overrides), exclude=tuple(exclude),
        path=str(path), extra_tricks=add_tricks, scale_set=scale_set, scale_overrides=tuple(scale_overrides), reproduces=reproduces, launch=launch,
        search=search, baseline=baseline,
    )
    return suite


# Suite and scale names become directory names under --results: a short, plain character set.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_name(value: Any, where: str) -> str:
    """A suite or scale name, checked: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (it
    becomes a directory name: never '..', never a path)."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise SpecError(f"{where} {value!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
                        "digit (it names a results directory)")
    return value


def check_known(doc: Mapping[str, Any], keys: set[str], where: str) -> None:
    """Every key of `doc` is one of `keys`; an unknown one is a SpecError with the closest known key."""
    for k in doc:
        if k not in keys:
            close = difflib.get_close_matches(str(k), sorted(keys), n=2)
            hint = f"did you mean {' or '.join(close)}?" if close else f"valid keys: {', '.join(sorted(keys))}"
            raise SpecError(f"{where}: unknown key {k!r}; {hint}")


def parse_seeds(value: Any, where: str) -> list[int]:
    """`seeds:` as a count (N: seeds 0..N-1) or a non-empty list of distinct non-negative integers."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise SpecError(f"{where}: seeds={value!r} is out of range; allowed: a count >= 1 or a list of seeds")
        return list(range(value))
    if (not isinstance(value, list) or not value
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in value)):
        raise SpecError(f"{where}: seeds={value!r} must be a count >= 1 or a non-empty list of non-negative integers")
    if len(set(value)) != len(value):
        raise SpecError(f"{where}: seeds={value!r} lists a seed twice")
    return value


def check_overrides(overrides: Any, where: str) -> list[dict[str, Any]]:
    """A list of {when: {field: value}, set: {field: value}} overrides, checked."""
    overrides = overrides or []
    if not isinstance(overrides, list):
        raise SpecError(f"{where}: overrides must be a list of {{when: {{field: value}}, set: {{field: value}}}}")
    for o in overrides:
        if isinstance(o, dict):
            check_known(o, {"when", "set"}, f"{where} override")
        if not (isinstance(o, dict) and set(o) == {"when", "set"} and isinstance(o["when"], dict) and isinstance(o["set"], dict)):
            raise SpecError(f"{where}: each override must be {{when: {{field: value}}, set: {{field: value}}}}")
        check_keys(o["when"], f"{where} override 'when'", suite=True)
        check_keys(o["set"], f"{where} override 'set'", suite=True)
    return overrides


def scaled_search(search: Any, scale_search: Any, where: str) -> Any:
    """A suite's `search:` with a scale's `search:` keys on top (e.g. {samples: 2} for a smoke scale); a scale may
    give a whole search to a suite that has none."""
    if scale_search is None:
        return search
    if not isinstance(scale_search, dict):
        raise SpecError(f"{where}: search must be a mapping of search keys to set, e.g. {{samples: 2}}")
    return {**(search if isinstance(search, dict) else {}), **scale_search}
