"""RunSpec -> everything a run needs: data, G and D, loss, tricks and optimizers, all looked up in registries."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganbench.data import Dataset, get_dataset
from ganbench.losses import LOSSES, Loss
from ganbench.models import build_models
from ganbench.optim import OptimSettings, make_optimizers
from ganbench.registry import load_builtins
from ganbench.spec import RunSpec
from ganbench.tricks.base import TrickStack, has_batch_norm, make_trick


@dataclass
class Setup:
    """The live objects of one run (never stored in a spec)."""

    spec: RunSpec
    data: Dataset
    G: nn.Module
    D: nn.Module
    loss: Loss
    tricks: TrickStack
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    d_steps: int
    device: torch.device
    d_joint: bool  # D has no batch-coupled layers: real and fake may go through it in one pass


def build(spec: RunSpec, device: str | torch.device = "cpu") -> Setup:
    """Build a run's models, loss, tricks and optimizers; models are initialised from the run seed."""
    load_builtins()
    device = torch.device(device)
    data = get_dataset(spec.dataset)
    tricks = TrickStack(make_trick(t.name, dict(t.params)) for t in spec.tricks)
    torch.manual_seed(spec.seed)
    G, D = build_models(spec.arch, data.sample_shape, spec.z_dim, spec.arch_options)
    G, D = tricks.wrap_models(G, D)
    G, D = G.to(device), D.to(device)
    settings = tricks.configure_optim(OptimSettings(spec.optimizer, spec.lr_g, spec.lr_d, spec.beta1, spec.beta2))
    opt_g, opt_d = make_optimizers(settings, G, D)
    return Setup(spec, data, G, D, LOSSES.get(spec.loss), tricks, opt_g, opt_d, tricks.d_steps(1), device,
                 d_joint=not has_batch_norm(D))


def sample_latent(n: int, z_dim: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal latent codes."""
    return torch.randn(n, z_dim, device=device, generator=generator)
