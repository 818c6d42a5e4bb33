"""Tricks on what D sees: instance noise, and PacGAN's packing of several samples into one D input."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ganbench.tricks.base import Trick, register_trick, require


@register_trick("instance-noise")
@dataclass
class InstanceNoise(Trick):
    """Gaussian noise N(0, sigma^2) on D's real and fake inputs, sigma annealed linearly to 0 over training
    (Sønderby et al. 2017; Arjovsky & Bottou 2017)."""

    sigma: float = 0.1
    order: ClassVar[int] = 40

    def check(self, spec, loss) -> None:
        require(self.sigma > 0, "instance-noise: sigma must be positive")

    def d_inputs(self, real: Tensor, fake: Tensor, progress: float) -> tuple[Tensor, Tensor]:
        sigma = self.sigma * (1.0 - progress)
        return real + sigma * torch.randn_like(real), fake + sigma * torch.randn_like(fake)


@register_trick("pac")
@dataclass
class Pack(Trick):
    """PacGAN: D judges packs of m samples, all real or all fake, stacked along the channels (Lin et al. 2018).

    Like the paper, m times as many samples are drawn so that D still sees batch_size packs per update."""

    m: int = 2
    order: ClassVar[int] = 45

    def check(self, spec, loss) -> None:
        require(self.m >= 2, "pac: m (the pack size) must be at least 2")

    def batch_size(self, n: int) -> int:
        return n * self.m

    def d_input_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (shape[0] * self.m, *shape[1:])

    def pack(self, x: Tensor) -> Tensor:
        """(B*m, C, ...) -> (B, m*C, ...): consecutive samples form one pack."""
        return x.reshape(x.shape[0] // self.m, self.m * x.shape[1], *x.shape[2:])

    def d_inputs(self, real: Tensor, fake: Tensor, progress: float) -> tuple[Tensor, Tensor]:
        return self.pack(real), self.pack(fake)
