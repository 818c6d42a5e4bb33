"""Label tricks: what D is trained towards. They need a loss with real/fake targets (ns, mm, ls)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ganbench.tricks.base import Trick, register_trick, require


class LabelTrick(Trick):
    order: ClassVar[int] = 47

    def check(self, spec, loss) -> None:
        require(loss.labelled, f"{self.name} changes D's real/fake targets, and loss {spec.loss!r} has none; "
                               "use ns, mm or ls")


@register_trick("label-smoothing")
@dataclass
class LabelSmoothing(LabelTrick):
    """One-sided label smoothing: D's real target 0.9, fake target stays 0 (Salimans et al. 2016)."""

    real: float = 0.9

    def check(self, spec, loss) -> None:
        super().check(spec, loss)
        require(0.5 < self.real < 1, "label-smoothing: real must lie in (0.5, 1)")

    def d_targets(self, t_real: Tensor, t_fake: Tensor) -> tuple[Tensor, Tensor]:
        return t_real * self.real, t_fake


@register_trick("label-noise")
@dataclass
class LabelNoise(LabelTrick):
    """Soft noisy labels: real targets uniform in [1-eps, 1], fake in [0, eps], redrawn each step (ganhacks 2016)."""

    eps: float = 0.1

    def check(self, spec, loss) -> None:
        super().check(spec, loss)
        require(0 < self.eps < 0.5, "label-noise: eps must lie in (0, 0.5)")

    def d_targets(self, t_real: Tensor, t_fake: Tensor) -> tuple[Tensor, Tensor]:
        return (t_real - self.eps * torch.rand_like(t_real), t_fake + self.eps * torch.rand_like(t_fake))


@register_trick("label-flip")
@dataclass
class LabelFlip(LabelTrick):
    """Flip a share p of D's labels each step, real to fake and fake to real (ganhacks 2016; Salimans et al. 2016)."""

    p: float = 0.1

    def check(self, spec, loss) -> None:
        super().check(spec, loss)
        require(0 < self.p < 0.5, "label-flip: p must lie in (0, 0.5)")

    def d_targets(self, t_real: Tensor, t_fake: Tensor) -> tuple[Tensor, Tensor]:
        flip_r = torch.rand_like(t_real) < self.p
        flip_f = torch.rand_like(t_fake) < self.p
        return torch.where(flip_r, 1 - t_real, t_real), torch.where(flip_f, 1 - t_fake, t_fake)
