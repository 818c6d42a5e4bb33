"""Weight normalisation tricks: spectral normalisation of D."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganbench.tricks.base import Trick, discriminator_layers, register_trick, require


@register_trick("sn")
@dataclass
class SpectralNorm(Trick):
    """Spectral normalisation of every D weight layer, one power iteration per step (Miyato et al. 2018)."""

    power_iterations: int = 1
    order: ClassVar[int] = 30

    def check(self, spec, loss) -> None:
        require(self.power_iterations >= 1, "sn: power_iterations must be at least 1")

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        for layer in discriminator_layers(D):
            spectral_norm(layer, n_power_iterations=self.power_iterations)
        return G, D
