"""Latent tricks: the prior G is trained on, and BigGAN's truncation at evaluation."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar, Iterator

import torch
from torch import Tensor

from ganbench.tricks.base import Trick, register_trick, require


@register_trick("latent")
@dataclass
class UniformLatent(Trick):
    """Uniform latent codes U[-r, r]^d instead of the standard normal, in training and evaluation
    (the prior of Lucic et al. 2018 and the original GAN code, Goodfellow et al. 2014)."""

    dist: str = "uniform"
    r: float = 1.0
    order: ClassVar[int] = 90

    def check(self, spec, loss) -> None:
        require(self.dist == "uniform", f"latent: dist {self.dist!r} is not offered; the default is normal, use uniform")
        require(self.r > 0, "latent: r must be positive")

    def latent(self, n, z_dim, device, generator, train) -> Tensor:
        return self.r * (2 * torch.rand(n, z_dim, device=device, generator=generator) - 1)


def truncated_normal(n: int, z_dim: int, psi: float, device, generator) -> Tensor:
    """Standard normal codes with every entry whose magnitude exceeds psi redrawn until none does (Brock et al. 2019)."""
    z = torch.randn(n, z_dim, device=device, generator=generator)
    while True:
        bad = z.abs() > psi
        k = int(bad.sum())
        if k == 0:
            return z
        z[bad] = torch.randn(k, device=device, generator=generator)


@register_trick("truncation")
@dataclass
class Truncation(Trick):
    """The truncation trick: evaluate on normal codes truncated to |z_i| <= psi, trading variety for fidelity
    (Brock et al. 2019). Training is unchanged. The run also records every metric along the curve of psi values
    in `curve` (truncation.csv), the fidelity/variety trade-off."""

    psi: float = 1.0
    curve: ClassVar[tuple[float, ...]] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
    order: ClassVar[int] = 90
    conflicts: ClassVar[dict[str, str]] = {"latent": "truncation truncates the normal prior; uniform codes have none"}

    def check(self, spec, loss) -> None:
        require(self.psi > 0, "truncation: psi must be positive")

    def latent(self, n, z_dim, device, generator, train) -> Tensor | None:
        if train:
            return None
        return truncated_normal(n, z_dim, self.psi, device, generator)

    def sampling_curve(self) -> list[dict[str, float]]:
        return [{"psi": p} for p in self.curve]

    @contextmanager
    def sampling_setting(self, setting: dict[str, float]) -> Iterator[None]:
        psi, self.psi = self.psi, setting["psi"]
        try:
            yield
        finally:
            self.psi = psi
