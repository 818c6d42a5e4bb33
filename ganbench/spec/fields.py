"""The run-spec fields as data (types, ranges, defaults, help) and reading user-given values into field layers:
strict scalar checks, --set key=value, trick lists, layer merging."""
from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any, Iterable, Mapping

import yaml

from ganbench import yamlfile
from ganbench.errors import SpecError
from ganbench.spec.run import RunSpec, TrickSpec
from ganbench.values import read_number


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
    number = read_number(value, integer=typ is int)
    if typ is int:
        if number is None:
            raise SpecError(f"{where}: {key}={value!r} is not an integer; allowed: integers >= {INT_MIN[key]}")
        if number < INT_MIN[key]:
            raise SpecError(f"{where}: {key}={value!r} is out of range; allowed: integers >= {INT_MIN[key]}")
        return number
    low, high, closed = FLOAT_RANGE[key]
    allowed = (f"{'[' if closed else '('}{low:g}, {high:g})" if math.isfinite(high)
               else f"{'>=' if closed else '>'} {low:g}")
    if number is None:
        raise SpecError(f"{where}: {key}={value!r} is not a finite number; allowed: {allowed}")
    if not (low <= number if closed else low < number) or not number < high:
        raise SpecError(f"{where}: {key}={value!r} is out of range; allowed: {allowed}")
    return number


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
