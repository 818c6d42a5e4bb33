"""Penalties and constraints on D: WGAN-GP's gradient penalty and WGAN's weight clipping."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ganbench.tricks.base import Trick, register_trick, require


@register_trick("gp")
@dataclass
class GradientPenalty(Trick):
    """WGAN-GP gradient penalty lam*(||grad D(x_hat)||-1)^2 at real/fake interpolates (Gulrajani et al. 2017)."""

    lam: float = 10.0
    order: ClassVar[int] = 50
    conflicts: ClassVar[dict[str, str]] = {"clip": "the gradient penalty replaces weight clipping (Gulrajani et al. 2017)"}

    def check(self, spec, loss) -> None:
        require(spec.arch_options.get("d_norm") != "bn",
                "gp penalises per-sample gradients, which batch norm in D couples; use --set arch_options.d_norm=ln or none")
        require(self.lam > 0, "gp: lam must be positive")

    def d_penalty(self, D: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
        x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
        norms = grad.flatten(1).norm(2, dim=1)
        return self.lam * ((norms - 1) ** 2).mean()


@register_trick("clip")
@dataclass
class WeightClipping(Trick):
    """WGAN weight clipping: every D parameter clamped to [-c, c] after each D step (Arjovsky et al. 2017)."""

    c: float = 0.01
    order: ClassVar[int] = 60
    conflicts: ClassVar[dict[str, str]] = {"gp": "the gradient penalty replaces weight clipping (Gulrajani et al. 2017)"}

    def check(self, spec, loss) -> None:
        require(self.c > 0, "clip: c must be positive")

    @torch.no_grad()
    def after_d_step(self, G: nn.Module, D: nn.Module) -> None:
        for p in D.parameters():
            p.clamp_(-self.c, self.c)
