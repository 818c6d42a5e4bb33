"""RunSpec -> everything a run needs: data, G and D, loss, tricks and optimizers, all looked up in registries."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ganbench.data import Dataset, get_dataset
from ganbench.data.base import scored_with
from ganbench.losses import LOSSES, Loss
from ganbench.models import build_models
from ganbench.optim import OptimSettings, make_optimizers
from ganbench.registry import load_builtins
from ganbench.spec import RunSpec
from ganbench.tricks.base import TrickStack, compose


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
    d_joint: bool  # real and fake go through D in one mixed batch (tricks may ask for separate batches)
    batch_size: int = 0  # samples per batch after the tricks (packing, large batch)
    g_steps: int = 1
    d_params: tuple[nn.Parameter, ...] = ()
    diverged_at: int | None = None  # the logged step at which a loss became non-finite
    batches_drawn: int = 0  # real batches drawn so far (over resumptions): the run's cost in images seen
    execution: dict = field(default_factory=lambda: {"amp": "off", "channels_last": False, "compile": False})
    channels_last: bool = False  # real batches are made channels-last (the fast path converted the networks)
    conditional: bool = False  # G's input carries codes (a conditioning trick)
    needs_labels: bool = False  # real batches come with their labels
    log_step: bool = True  # the current step is logged: updates also measure their gradient norms
    timings: dict = field(default_factory=dict)  # seconds and peak memory of the run's phases (metrics.json's cost)

    def latent(self, n: int, generator: torch.Generator | None = None, train: bool = True) -> torch.Tensor:
        """G's input for n samples: the latent z from the run's tricks (uniform, truncated) or standard normal,
        followed by the codes of a conditioning trick (class one-hots, InfoGAN codes) if there is one."""
        z = self.tricks.latent(n, self.spec.z_dim, self.device, generator, train)
        return self.tricks.latent_codes(z, generator, train) if self.conditional else z

    def fake_labels(self, z: torch.Tensor) -> torch.Tensor | None:
        """The class labels of the samples G makes from `z` (None for an unconditional run)."""
        return self.tricks.fake_labels(z) if self.conditional else None

    def d_trainable(self, flag: bool) -> None:
        for p in self.d_params:
            p.requires_grad_(flag)

    def eval_generator(self) -> nn.Module:
        """The generator evaluation uses (G, or e.g. its weight average)."""
        return self.tricks.eval_generator(self.G)


def build(spec: RunSpec, device: str | torch.device = "cpu") -> Setup:
    """Build a run's models, loss, tricks and optimizers; models are initialised from the run seed."""
    load_builtins()
    device = torch.device(device)
    data = scored_with(get_dataset(spec.dataset), spec.features)
    tricks = compose(spec.tricks)
    tricks.check(spec, LOSSES.get(spec.loss))  # on the very instances that train
    tricks.bind_data(data)
    torch.manual_seed(spec.seed)
    G, D = build_models(spec.arch, data.sample_shape, spec.z_dim + tricks.code_dim(),
                        tricks.arch_options(spec.arch, spec.arch_options), d_shape=tricks.d_input_shape(data.sample_shape))
    G, D = G.to(device), D.to(device)
    G, D = tricks.wrap_models(G, D)
    settings = tricks.configure_optim(OptimSettings(spec.optimizer, spec.lr_g, spec.lr_d, spec.beta1, spec.beta2))
    opt_g, opt_d = make_optimizers(settings, G, D)
    return Setup(spec, data, G, D, LOSSES.get(spec.loss), tricks, opt_g, opt_d, tricks.d_steps(1), device,
                 d_joint=tricks.d_joint(True), batch_size=tricks.batch_size(spec.batch_size),
                 g_steps=tricks.g_steps(1), d_params=tuple(D.parameters()), conditional=tricks.code_dim() > 0,
                 needs_labels=tricks.needs_labels)

