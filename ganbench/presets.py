"""Named methods: a loss with the tricks and hyper-parameters of its paper, referred to by name like a loss.

This is the one place where such combinations live; suites and `ganbench run --loss NAME` use them.
"""
from __future__ import annotations

from typing import Any

from ganbench.registry import Registry

PRESETS: Registry[dict[str, Any]] = Registry("preset")

PRESETS.register(
    "wgan",
    {"loss": "wasserstein", "tricks": [{"clip": {"c": 0.01}}, {"d-steps": {"k": 5}}],
     "optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5},
    description="WGAN: Wasserstein critic, clipping c=0.01, 5 D steps, RMSprop lr 5e-5 (Arjovsky et al. 2017)",
)
PRESETS.register(
    "wgan-gp",
    {"loss": "wasserstein", "tricks": [{"gp": {"lam": 10.0}}, {"d-steps": {"k": 5}}],
     "optimizer": "adam", "lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.0, "beta2": 0.9},
    description="WGAN-GP: Wasserstein critic, GP lam=10, 5 D steps, Adam 1e-4 (0, 0.9) (Gulrajani et al. 2017)",
)
