"""Weight normalisation tricks: spectral normalisation of D, and of G as well."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganbench.tricks.base import Trick, register_trick, require, weight_layers


@register_trick("sn")
@dataclass
class SpectralNorm(Trick):
    """Spectral normalisation of every D weight layer, one power iteration per step (Miyato et al. 2018)."""

    power_iterations: int = 1
    order: ClassVar[int] = 30

    def check(self, spec, loss) -> None:
        require(self.power_iterations >= 1, "sn: power_iterations must be at least 1")

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        for layer in weight_layers(D):
            spectral_norm(layer, n_power_iterations=self.power_iterations)
        return G, D


@register_trick("sn-g")
@dataclass
class SpectralNormG(SpectralNorm):
    """Spectral normalisation of G's weight layers as well as D's, as in SAGAN and BigGAN (Zhang et al. 2019)."""

    conflicts: ClassVar[dict[str, str]] = {"sn": "sn-g already normalises D; drop sn"}

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        for layer in weight_layers(G) + weight_layers(D):
            spectral_norm(layer, n_power_iterations=self.power_iterations)
        return G, D
