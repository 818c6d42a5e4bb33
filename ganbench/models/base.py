"""The architecture registry: a builder `(sample_shape, z_dim, **options) -> (G, D)` per name."""
from __future__ import annotations

import inspect
from typing import Any, Callable

from torch import nn

from ganbench.errors import SpecError
from ganbench.registry import Registry

Builder = Callable[..., tuple[nn.Module, nn.Module]]
ARCHS: Registry[Builder] = Registry("arch")


def arch_defaults(name: str) -> dict[str, Any]:
    """The options an architecture accepts, with their default values."""
    params = inspect.signature(ARCHS.get(name)).parameters
    return {k: p.default for k, p in params.items() if p.kind is p.KEYWORD_ONLY}


def resolve_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Fill an architecture's defaults into `options`; unknown option names are refused."""
    defaults = arch_defaults(name)
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise SpecError(f"arch {name!r} has no option {', '.join(unknown)}; its options are {', '.join(sorted(defaults))}")
    return {**defaults, **options}


def build_models(name: str, sample_shape: tuple[int, ...], z_dim: int, options: dict[str, Any]) -> tuple[nn.Module, nn.Module]:
    """Build the generator and discriminator of architecture `name` for data of `sample_shape`."""
    return ARCHS.get(name)(sample_shape, z_dim, **resolve_options(name, options))


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialisation: weights N(0, std), biases 0, normalisation scales N(1, std)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


INITS = ("normal", "torch")


def init_weights(module: nn.Module, kind: str) -> None:
    """`normal`: the DCGAN/PacGAN N(0, 0.02) initialisation; `torch`: keep PyTorch's fan-in scaled default."""
    if kind == "normal":
        init_normal(module)
    elif kind != "torch":
        raise ValueError(f"unknown init {kind!r}; use {' or '.join(INITS)}")
