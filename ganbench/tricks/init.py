"""Initialisation tricks: re-initialise G's and D's weight layers after the architecture is built."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ganbench.tricks.base import Trick, register_trick, require, weight_layers


class Reinit(Trick):
    order: ClassVar[int] = 27  # after structural changes, before spectral norm reparametrises the weights

    def init(self, w: torch.Tensor) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        for layer in weight_layers(G) + weight_layers(D):
            self.init(layer.weight)
            if layer.bias is not None:
                layer.bias.zero_()
        return G, D


@register_trick("ortho-init")
@dataclass
class OrthoInit(Reinit):
    """Orthogonal initialisation of every weight layer, biases zero (Saxe et al. 2014; used by BigGAN, Brock et al. 2019)."""

    gain: float = 1.0
    conflicts: ClassVar[dict[str, str]] = {"xavier-init": "two initialisations of the same weights"}

    def check(self, spec, loss) -> None:
        require(self.gain > 0, "ortho-init: gain must be positive")

    def init(self, w: torch.Tensor) -> None:
        nn.init.orthogonal_(w, gain=self.gain)


@register_trick("xavier-init")
@dataclass
class XavierInit(Reinit):
    """Xavier/Glorot uniform initialisation of every weight layer, biases zero (Glorot & Bengio 2010)."""

    gain: float = 1.0
    conflicts: ClassVar[dict[str, str]] = {"ortho-init": "two initialisations of the same weights"}

    def check(self, spec, loss) -> None:
        require(self.gain > 0, "xavier-init: gain must be positive")

    def init(self, w: torch.Tensor) -> None:
        nn.init.xavier_uniform_(w, gain=self.gain)
