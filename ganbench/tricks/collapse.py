"""Tricks against mode collapse: feature matching, minibatch discrimination, minibatch standard deviation, and
unrolled D (PacGAN's packing lives with the other input tricks in inputs.py)."""
from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ganbench.models.base import Discriminator
from ganbench.tricks.base import Trick, register_trick, require


def needs_feature_d(name: str, D: nn.Module) -> Discriminator:
    if not isinstance(D, Discriminator):
        raise TypeError(f"{name} needs a ganbench Discriminator (body, features, head); got {type(D).__name__}")
    return D


@register_trick("feature-matching")
@dataclass
class FeatureMatching(Trick):
    """Feature matching: G minimises ||E f(x) - E f(G(z))||^2 over D's last hidden features f instead of the loss's
    G objective; D keeps its loss (Salimans et al. 2016)."""

    order: ClassVar[int] = 55

    def g_objective(self, D: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        D = needs_feature_d(self.name, D)
        with torch.no_grad():
            target = D.features(real).flatten(1).mean(0)
        return ((D.features(fake).flatten(1).mean(0) - target) ** 2).sum()


class MinibatchDiscriminationLayer(nn.Module):
    """Salimans et al.'s layer: M = f T (B x C per sample), o_b(x_i) = sum_j exp(-||M_ib - M_jb||_L1), concatenated."""

    def __init__(self, in_features: int, kernels: int, kernel_dim: int):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Linear(in_features, kernels * kernel_dim, bias=False)
        nn.init.normal_(self.T.weight, 0.0, 0.02)

    def forward(self, f: Tensor) -> Tensor:
        flat = f.flatten(1)
        m = self.T(flat).view(-1, self.kernels, self.kernel_dim).transpose(0, 1)  # B x N x C
        l1 = torch.cdist(m, m, p=1)  # B x N x N, without the N x N x B x C difference tensor (2.6x faster)
        o = torch.exp(-l1).sum(2).T - 1.0  # N x B; minus each sample's own term exp(0) = 1
        return torch.cat([flat, o], 1)


@register_trick("minibatch-discrimination")
@dataclass
class MinibatchDiscrimination(Trick):
    """Minibatch discrimination: D's last features gain, per kernel b, the closeness sum_j exp(-||M_ib - M_jb||_1)
    of each sample to the rest of its batch, so D can spot a batch without variety (Salimans et al. 2016)."""

    kernels: int = 50
    kernel_dim: int = 5
    order: ClassVar[int] = 25

    def check(self, spec, loss) -> None:
        require(self.kernels >= 1 and self.kernel_dim >= 1, "minibatch-discrimination: kernels and kernel_dim must be >= 1")

    def d_joint(self, joint: bool) -> bool:
        return False  # batch statistics must come from all-real or all-fake batches, as in the paper

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        D = needs_feature_d(self.name, D)
        n = math.prod(D.feature_shape)
        device = D.head.weight.device
        D.append_features(MinibatchDiscriminationLayer(n, self.kernels, self.kernel_dim).to(device), (n + self.kernels,))
        return G, D


class MinibatchStdDevLayer(nn.Module):
    """ProGAN's layer: the standard deviation of each feature over a group of samples, averaged to one number per
    group, appended as one more channel (or unit)."""

    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def forward(self, f: Tensor) -> Tensor:
        n = f.shape[0]
        g = self.group if n % self.group == 0 else n  # a batch the group does not divide uses one group
        y = f.reshape(g, n // g, *f.shape[1:])  # group members are n//g apart, as in ProGAN
        std = (y.var(0, unbiased=False) + 1e-8).sqrt()  # (n/g) x features
        s = std.flatten(1).mean(1)  # one number per group
        s = s.repeat(g)  # back to every sample of its group
        extra = s.view(n, 1, *([1] * (f.dim() - 2))).expand(n, 1, *f.shape[2:])
        return torch.cat([f, extra], 1)


@register_trick("minibatch-stddev")
@dataclass
class MinibatchStdDev(Trick):
    """Minibatch standard deviation: D's last feature map gains a channel holding the features' standard deviation
    over groups of `group` samples (Karras et al. 2018, ProGAN)."""

    group: int = 4
    order: ClassVar[int] = 25

    def check(self, spec, loss) -> None:
        require(self.group >= 2, "minibatch-stddev: group must be at least 2")

    def d_joint(self, joint: bool) -> bool:
        return False  # batch statistics must come from all-real or all-fake batches, as in the paper

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        D = needs_feature_d(self.name, D)
        c, *rest = D.feature_shape
        D.append_features(MinibatchStdDevLayer(self.group), (c + 1, *rest))
        return G, D


@register_trick("unrolled")
@dataclass
class Unrolled(Trick):
    """Unrolled GAN: G is updated against D after k look-ahead D updates, then D returns to its weights from before
    the look-ahead (Metz et al. 2017). First-order variant: the G gradient is taken through the unrolled D, not
    through its updates (the paper's second-order term is dropped, as in most reimplementations)."""

    k: int = 5
    order: ClassVar[int] = 70

    def check(self, spec, loss) -> None:
        require(self.k >= 1, "unrolled: k must be at least 1")

    def extra_cost(self) -> float:
        return float(self.k)

    @contextlib.contextmanager
    def g_context(self, s, d_update):
        d_state = {k: v.detach().clone() for k, v in s.D.state_dict().items()}
        opt_state = copy.deepcopy(s.opt_d.state_dict())
        for _ in range(self.k):
            d_update()
        try:
            yield
        finally:
            s.D.load_state_dict(d_state)
            s.opt_d.load_state_dict(opt_state)
