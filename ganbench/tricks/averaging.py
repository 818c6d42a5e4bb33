"""Averages of the players' weights: an EMA of G for evaluation, and historical averaging as a penalty."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ganbench.tricks.base import Trick, register_trick, require


@register_trick("ema")
@dataclass
class EMA(Trick):
    """Exponential moving average of G's weights, theta_ema <- b_t theta_ema + (1 - b_t) theta after the t-th G step,
    evaluated instead of G; batch-norm statistics are copied from G (Yazici et al. 2019; Karras et al. 2018;
    Brock et al. 2019 use beta 0.9999 on long runs).

    b_t = min(beta, (1 + t) / (warmup + t)) is TensorFlow's ExponentialMovingAverage warm-up (num_updates): without
    it a short run's average still carries the initial weights with weight beta^T (0.55 after 600 steps at 0.999),
    which is why long-run papers start the average late (BigGAN) or ramp it up (StyleGAN2). warmup=0 turns it off."""

    beta: float = 0.999
    warmup: float = 10.0
    order: ClassVar[int] = 80
    G_ema: nn.Module | None = field(default=None, init=False, repr=False, compare=False)
    updates: int = field(default=0, init=False, repr=False, compare=False)

    def check(self, spec, loss) -> None:
        require(0 < self.beta < 1, "ema: beta must lie in (0, 1)")
        require(self.warmup == 0 or self.warmup > 1, "ema: warmup must be 0 (off) or larger than 1")

    def decay(self, t: int) -> float:
        """The decay b_t used at the t-th update (t counts from 1)."""
        return min(self.beta, (1.0 + t) / (self.warmup + t)) if self.warmup else self.beta

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        self.G_ema = copy.deepcopy(G).requires_grad_(False)
        return G, D

    @torch.no_grad()
    def after_g_step(self, G: nn.Module, D: nn.Module) -> None:
        # G_ema is a deep copy of G: parameters and buffers come in the same order
        self.updates += 1
        torch._foreach_lerp_(list(self.G_ema.parameters()), list(G.parameters()), 1.0 - self.decay(self.updates))
        for b_ema, b in zip(self.G_ema.buffers(), G.buffers()):
            b_ema.copy_(b)

    def eval_generator(self, G: nn.Module) -> nn.Module:
        return self.G_ema

    def state_dict(self) -> dict[str, Any]:
        return {"G_ema": self.G_ema.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "G_ema" in state:
            self.G_ema.load_state_dict(state["G_ema"])
        self.updates = int(state.get("updates", 0))


@register_trick("historical-averaging")
@dataclass
class HistoricalAveraging(Trick):
    """Penalty lam * ||theta - mean of past theta||^2 on each player's weights, the mean over all earlier steps
    (Salimans et al. 2016)."""

    lam: float = 1e-3
    order: ClassVar[int] = 50
    sums: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    counts: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def check(self, spec, loss) -> None:
        require(self.lam > 0, "historical-averaging: lam must be positive")

    def penalty(self, who: str, net: nn.Module) -> Tensor | None:
        params = list(net.parameters())
        n = self.counts.get(who, 0)
        if n == 0:
            return None
        return self.lam * sum(((p - total / n) ** 2).sum() for p, total in zip(params, self.sums[who]))

    @torch.no_grad()
    def record(self, who: str, net: nn.Module) -> None:
        params = [p.detach() for p in net.parameters()]
        if who not in self.sums:
            self.sums[who] = [torch.zeros_like(p) for p in params]
            self.counts[who] = 0
        torch._foreach_add_(self.sums[who], params)
        self.counts[who] += 1

    def d_penalty(self, batch) -> Tensor | None:
        return self.penalty("D", batch.D)

    def g_penalty(self, G: nn.Module, D: nn.Module, fake: Tensor, z: Tensor) -> Tensor | None:
        return self.penalty("G", G)

    def after_d_step(self, G: nn.Module, D: nn.Module) -> None:
        self.record("D", D)

    def after_g_step(self, G: nn.Module, D: nn.Module) -> None:
        self.record("G", G)

    def state_dict(self) -> dict[str, Any]:
        return {"sums": self.sums, "counts": self.counts}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums = {k: list(v) for k, v in state.get("sums", {}).items()}
        self.counts = dict(state.get("counts", {}))
