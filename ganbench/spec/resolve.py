"""Building a run's spec: a data set's defaults, then the given field layers, checked as a whole (keys, values,
presets, tricks composed once, protocols, features, buildable architectures) into a RunSpec."""
from __future__ import annotations

import torch
import difflib
from typing import Any, Mapping

from ganbench.errors import SpecError
from ganbench.registry import load_builtins
from ganbench.spec.fields import (DEFAULTS, QUALITY_PROBES, SCALARS, check_keys, check_scalar, merge,
                                  parse_tricks)
from ganbench.spec.run import RunSpec, TrickSpec
from ganbench.data import get_dataset
from ganbench.losses import LOSSES
from ganbench.models.base import resolve_options
from ganbench.presets import PRESETS
from ganbench.tricks.base import compose, make_trick
from ganbench.optim import OPTIMIZERS
from ganbench.models import ARCHS, build_models
from ganbench.metrics.protocols import PROTOCOLS, applicability
from ganbench.metrics.pinned import NETS
from ganbench.metrics.features import extractor_names


def build_spec(*layers: Mapping[str, Any], where: str = "the run spec") -> RunSpec:
    """Resolve layered fields (defaults < ... < last) into a validated RunSpec; a named preset in `loss` expands."""
    load_builtins()

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

    if name in NETS or name in ("inception-v3-compat", "vgg16"):  # known without importing torch-fidelity (1.6 s)
        return
    if name == data.info.get("classifier"):  # the set's own (e.g. trained) classifier
        return

    known = extractor_names()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=2)
        hint = f"did you mean {' or '.join(close)}?" if close else f"registered: {', '.join(known)}"
        raise SpecError(f"{where}: unknown feature extractor features={name!r}; {hint}")


def trick_label(t: TrickSpec) -> str:
    """A trick's part of a method label: its name, with the parameters that differ from its defaults, e.g. pac(m=3)."""

    defaults = make_trick(t.name, {}).params()
    changed = [f"{k}={v}" for k, v in t.params if defaults.get(k) != v]
    return f"{t.name}({','.join(changed)})" if changed else t.name


def check_buildable(arch: str, shape: tuple[int, ...], z_dim: int, options: dict[str, Any], where: str) -> None:
    """Build the models on the meta device (no memory, no compute) so that bad shapes or options fail now. Each
    combination is built once per process (a suite's search repeats them many times)."""

    key = (arch, id(ARCHS.get(arch)), tuple(shape), int(z_dim), repr(sorted(options.items())))
    if key not in _BUILD_ERRORS:
        _BUILD_ERRORS[key] = _build_error(arch, tuple(shape), int(z_dim), options)
    if _BUILD_ERRORS[key] is not None:
        raise SpecError(f"{where}: arch {arch!r} cannot model data of shape {shape} with {options}: "
                        f"{_BUILD_ERRORS[key]}")


# (arch, its builder, shape, z_dim, options) -> why the models cannot be built, or None
_BUILD_ERRORS: dict[tuple, str | None] = {}


def _build_error(arch: str, shape: tuple[int, ...], z_dim: int, options: dict[str, Any]) -> str | None:
    try:
        with torch.device("meta"):
            build_models(arch, shape, z_dim, options)
    except (ValueError, TypeError, RuntimeError) as e:
        return str(e)
    return None
