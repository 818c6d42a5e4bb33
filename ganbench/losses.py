"""GAN losses: each is a D objective and a G objective over discriminator outputs (logits).

All are written as minimised quantities, averaged over the batch. `real` and `fake` are D's raw outputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ganbench.registry import Registry


@dataclass(frozen=True)
class Loss:
    """A GAN loss: D and G objectives, and what the training step and trick checks need to know."""

    d_loss: Callable[[Tensor, Tensor], Tensor]  # (d_real, d_fake) -> scalar
    g_loss: Callable[[Tensor | None, Tensor], Tensor]  # (d_real or None, d_fake) -> scalar
    g_needs_real: bool = False  # relativistic losses compare fake with real outputs in the G step
    # D trained towards real/fake targets (label tricks apply): (d_real, d_fake, target_real, target_fake) -> scalar
    # with per-sample targets; d_loss equals it at targets 1 and 0
    d_loss_targets: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor] | None = None
    threshold: float | None = 0.0  # D output above it = "real"; None: midpoint of the batch means
    doc: str = ""  # one line, with the paper

    @property
    def labelled(self) -> bool:
        return self.d_loss_targets is not None


LOSSES: Registry[Loss] = Registry("loss")


def _register(name: str, doc: str, **kw) -> Loss:
    loss = Loss(doc=doc, **kw)
    LOSSES.register(name, loss, description=doc)
    return loss


def bce_d(real: Tensor, fake: Tensor) -> Tensor:
    """-log sigmoid(real) - log(1 - sigmoid(fake)), the cross-entropy D loss."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def bce_d_targets(real: Tensor, fake: Tensor, t_real: Tensor, t_fake: Tensor) -> Tensor:
    """Cross-entropy towards soft targets t: -t log sigmoid(x) - (1 - t) log(1 - sigmoid(x)), per side."""
    return (F.binary_cross_entropy_with_logits(real, t_real.expand_as(real))
            + F.binary_cross_entropy_with_logits(fake, t_fake.expand_as(fake)))


def ls_d_targets(real: Tensor, fake: Tensor, t_real: Tensor, t_fake: Tensor) -> Tensor:
    """Least squares towards targets: 1/2 (D(x) - t_real)^2 + 1/2 (D(G(z)) - t_fake)^2."""
    return 0.5 * ((real - t_real) ** 2).mean() + 0.5 * ((fake - t_fake) ** 2).mean()


_register(
    "ns", "non-saturating GAN: D cross-entropy, G maximises log D(G(z)) (Goodfellow et al. 2014)",
    d_loss=bce_d, g_loss=lambda real, fake: F.softplus(-fake).mean(), d_loss_targets=bce_d_targets,
)
_register(
    "mm", "minimax (saturating) GAN: G minimises log(1 - D(G(z))) (Goodfellow et al. 2014)",
    d_loss=bce_d, g_loss=lambda real, fake: -F.softplus(fake).mean(), d_loss_targets=bce_d_targets,
)
_register(
    "wasserstein", "Wasserstein critic: D maximises E[D(x)] - E[D(G(z))] (Arjovsky et al. 2017)",
    d_loss=lambda real, fake: fake.mean() - real.mean(), g_loss=lambda real, fake: -fake.mean(), threshold=None,
)
_register(
    "ls", "least squares GAN, 0-1 coding a=0, b=c=1 (Mao et al. 2017)",
    d_loss=lambda real, fake: 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(),
    g_loss=lambda real, fake: 0.5 * ((fake - 1) ** 2).mean(), threshold=0.5,
    d_loss_targets=ls_d_targets,
)
_register(
    "hinge", "hinge loss: D max(0,1-D(x)) + max(0,1+D(G(z))), G -D(G(z)) (Lim & Ye 2017; Miyato et al. 2018)",
    d_loss=lambda real, fake: F.relu(1 - real).mean() + F.relu(1 + fake).mean(),
    g_loss=lambda real, fake: -fake.mean(),
)
_register(
    "rsgan", "relativistic standard GAN: D(x) - D(G(z)) through the cross-entropy (Jolicoeur-Martineau 2019)",
    d_loss=lambda real, fake: F.softplus(-(real - fake)).mean(),
    g_loss=lambda real, fake: F.softplus(-(fake - real)).mean(), g_needs_real=True, threshold=None,
)


def ragan_d(real: Tensor, fake: Tensor) -> Tensor:
    """Relativistic average D: real judged against the mean fake output and vice versa."""
    return F.softplus(-(real - fake.mean())).mean() + F.softplus(fake - real.mean()).mean()


_register(
    "ragan", "relativistic average GAN: outputs judged against the other side's mean (Jolicoeur-Martineau 2019)",
    d_loss=ragan_d, g_loss=lambda real, fake: ragan_d(fake, real), g_needs_real=True, threshold=None,
)


def d_accuracy(loss: Loss, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """Share of real outputs judged real and of fake outputs judged fake, at the loss's decision threshold."""
    with torch.no_grad():
        t = loss.threshold if loss.threshold is not None else 0.5 * (real.mean() + fake.mean())
        return (real > t).float().mean(), (fake <= t).float().mean()
