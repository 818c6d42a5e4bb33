"""Penalties and constraints: gradient penalties on D (WGAN-GP, DRAGAN, R1, R2), weight clipping, LeCam, and
BigGAN's orthogonal regularisation of G."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

import torch
from torch import Tensor, nn

from ganbench.tricks.base import DBatch, Trick, register_trick, require, weight_layers


def require_per_sample_d(name: str, spec) -> None:
    """Gradient penalties are per sample; batch norm in D couples the samples of a batch."""
    require(spec.arch_options.get("d_norm") != "bn", f"{name} penalises per-sample gradients, which batch norm in D "
            "couples; use --set arch_options.d_norm=ln or none")


def grad_norms(D: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Per-sample ||grad_x D(x)||_2, differentiable (for penalties on D's input gradients)."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return grad.flatten(1).norm(2, dim=1)


@register_trick("gp")
@dataclass
class GradientPenalty(Trick):
    """WGAN-GP gradient penalty lam*(||grad D(x_hat)||-1)^2 at real/fake interpolates (Gulrajani et al. 2017)."""

    bf16_safe: ClassVar[bool] = False  # a penalty on a gradient norm: computed in float32

    lam: float = 10.0
    order: ClassVar[int] = 50
    conflicts: ClassVar[dict[str, str]] = {"clip": "the gradient penalty replaces weight clipping (Gulrajani et al. 2017)"}

    def check(self, spec, loss) -> None:
        require_per_sample_d(self.name, spec)
        require(self.lam > 0, "gp: lam must be positive")

    def d_penalty(self, batch: DBatch) -> Tensor:
        real, fake = batch.real, batch.fake
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
        x_hat = eps * real.detach() + (1 - eps) * fake.detach()
        return self.lam * ((grad_norms(batch.on_real, x_hat) - 1) ** 2).mean()


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


@register_trick("dragan")
@dataclass
class DRAGAN(Trick):
    """DRAGAN: lam * (||grad D(x_hat)|| - 1)^2 at points x_hat = x + alpha * delta near the real data, with
    delta = c * std(x) * U[0, 1] per entry and alpha ~ U[0, 1] per sample (Kodali et al. 2017)."""

    bf16_safe: ClassVar[bool] = False  # a penalty on a gradient norm: computed in float32

    lam: float = 10.0
    c: float = 0.5
    order: ClassVar[int] = 50
    conflicts: ClassVar[dict[str, str]] = {"gp": "both penalise D's gradient norm towards 1, at different points"}

    def check(self, spec, loss) -> None:
        require_per_sample_d(self.name, spec)
        require(self.lam > 0 and self.c > 0, "dragan: lam and c must be positive")

    def d_penalty(self, batch: DBatch) -> Tensor:
        real = batch.real.detach()
        delta = self.c * real.std() * torch.rand_like(real)
        alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
        return self.lam * ((grad_norms(batch.on_real, real + alpha * delta) - 1) ** 2).mean()


@register_trick("r1")
@dataclass
class R1(Trick):
    """R1: zero-centred gradient penalty on real data, gamma/2 * E||grad D(x)||^2 (Mescheder et al. 2018)."""

    bf16_safe: ClassVar[bool] = False  # a penalty on a gradient norm: computed in float32

    gamma: float = 10.0
    order: ClassVar[int] = 50

    def check(self, spec, loss) -> None:
        require(self.gamma > 0, f"{self.name}: gamma must be positive")
        require_per_sample_d(self.name, spec)

    def d_penalty(self, batch: DBatch) -> Tensor:
        return 0.5 * self.gamma * (grad_norms(batch.on_real, batch.real) ** 2).mean()


@register_trick("r2")
@dataclass
class R2(R1):
    """R2: zero-centred gradient penalty on generated data, gamma/2 * E||grad D(G(z))||^2 (Mescheder et al. 2018)."""

    def d_penalty(self, batch: DBatch) -> Tensor:
        return 0.5 * self.gamma * (grad_norms(batch.on_fake, batch.fake) ** 2).mean()


@register_trick("ortho-reg")
@dataclass
class OrthoReg(Trick):
    """BigGAN's modified orthogonal regularisation on G: beta * ||W^T W * (1 - I)||_F^2 per weight layer, W the
    weight reshaped to (outputs, inputs); it pushes filters apart without fixing their norms (Brock et al. 2019)."""

    beta: float = 1e-4
    order: ClassVar[int] = 50

    def check(self, spec, loss) -> None:
        require(self.beta > 0, "ortho-reg: beta must be positive")

    def g_penalty(self, G: nn.Module, D: nn.Module, fake: Tensor, z: Tensor) -> Tensor:
        total = fake.new_zeros(())
        for layer in weight_layers(G):
            w = layer.weight.flatten(1) if not isinstance(layer, nn.ConvTranspose2d) else layer.weight.transpose(0, 1).flatten(1)
            gram = w @ w.T
            total = total + (gram * (1 - torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype))).pow(2).sum()
        return self.beta * total


@register_trick("lecam")
@dataclass
class LeCam(Trick):
    """LeCam regularisation: lam * (E||D(x) - a_F||^2 + E||D(G(z)) - a_R||^2), with a_R and a_F exponential moving
    averages (decay 0.99) of D's mean output on real and fake data (Tseng et al. 2021)."""

    lam: float = 0.3
    decay: float = 0.99
    order: ClassVar[int] = 50
    anchors: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def check(self, spec, loss) -> None:
        require(self.lam > 0 and 0 < self.decay < 1, "lecam: lam must be positive and decay in (0, 1)")

    def d_penalty(self, batch: DBatch) -> Tensor:
        with torch.no_grad():
            for key, out in (("real", batch.d_real), ("fake", batch.d_fake)):
                m = out.float().mean()
                prev = self.anchors.get(key)
                self.anchors[key] = m if prev is None else self.decay * prev + (1 - self.decay) * m
        return self.lam * (((batch.d_real - self.anchors["fake"]) ** 2).mean()
                           + ((batch.d_fake - self.anchors["real"]) ** 2).mean())

    def state_dict(self) -> dict:
        return dict(self.anchors)

    def load_state_dict(self, state: dict) -> None:
        self.anchors = dict(state)
