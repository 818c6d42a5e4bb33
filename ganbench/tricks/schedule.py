"""Optimisation schedule tricks: TTUR and the number of D steps per G step."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from ganbench.optim import OptimSettings
from ganbench.tricks.base import Trick, register_trick, require


@register_trick("ttur")
@dataclass
class TTUR(Trick):
    """Two time-scale update rule: D learns faster than G, lr_D 4e-4 and lr_G 1e-4 (Heusel et al. 2017)."""

    lr_d: float = 4e-4
    lr_g: float = 1e-4
    order: ClassVar[int] = 10

    def check(self, spec, loss) -> None:
        require(self.lr_d > 0 and self.lr_g > 0, "ttur: learning rates must be positive")

    def configure_optim(self, settings: OptimSettings) -> OptimSettings:
        return dataclasses.replace(settings, lr_d=self.lr_d, lr_g=self.lr_g)


@register_trick("d-steps")
@dataclass
class DSteps(Trick):
    """k D updates per G update (n_critic; 5 in WGAN and WGAN-GP, Arjovsky et al. 2017)."""

    k: int = 5
    order: ClassVar[int] = 20

    def check(self, spec, loss) -> None:
        require(self.k >= 1, "d-steps: k must be at least 1")

    def d_steps(self, n: int) -> int:
        return self.k


@register_trick("simultaneous")
@dataclass
class Simultaneous(Trick):
    """Simultaneous instead of alternating updates: G's gradient is taken against D before D's update and D's
    update uses samples of G before G's update, both from the same real batch (simultaneous gradient descent,
    Mescheder et al. 2017; Metz et al. 2017's reference implementation trains this way)."""

    order: ClassVar[int] = 20
    simultaneous: ClassVar[bool] = True
    conflicts: ClassVar[dict[str, str]] = {
        "d-steps": "simultaneous updates pair one D update with one G update",
        "g-steps": "simultaneous updates pair one D update with one G update",
    }

    def check(self, spec, loss) -> None:
        for t in spec.tricks:
            require(not (t.name == "unrolled" and not dict(t.params).get("second_order", False)),
                    "simultaneous: first-order unrolling updates D inside G's phase; use unrolled with "
                    "second_order: true (which unrolls from D's current state)")


@register_trick("g-steps")
@dataclass
class GSteps(Trick):
    """k G updates per D update, each on fresh latents (the update ratio the other way; Goodfellow et al. 2014)."""

    k: int = 2
    order: ClassVar[int] = 20

    def check(self, spec, loss) -> None:
        require(self.k >= 2, "g-steps: k must be at least 2 (1 is the default)")

    def g_steps(self, n: int) -> int:
        return self.k


@register_trick("sgd-d")
@dataclass
class SGDForD(Trick):
    """Plain SGD for D while G keeps its optimizer (ganhacks 2016; Radford et al. 2016 discuss it)."""

    lr: float = 0.01
    momentum: float = 0.0
    order: ClassVar[int] = 10

    def check(self, spec, loss) -> None:
        require(self.lr > 0 and 0 <= self.momentum < 1, "sgd-d: lr must be positive and momentum in [0, 1)")

    def configure_optim(self, settings: OptimSettings) -> OptimSettings:
        return dataclasses.replace(settings, optimizer_d="sgd", lr_d=self.lr, beta1_d=self.momentum)


@register_trick("adam-beta1")
@dataclass
class AdamBeta1(Trick):
    """Adam's first-moment decay for G and D: 0.9 (Kingma & Ba 2015) against DCGAN's 0.5 (Radford et al. 2016)."""

    beta1: float = 0.9
    order: ClassVar[int] = 10

    def check(self, spec, loss) -> None:
        require(spec.optimizer == "adam", f"adam-beta1 needs the adam optimizer, the spec uses {spec.optimizer!r}")
        require(0 <= self.beta1 < 1, "adam-beta1: beta1 must lie in [0, 1)")
        require(self.beta1 != spec.beta1, f"adam-beta1: the spec already uses beta1={spec.beta1}; pick another value")

    def configure_optim(self, settings: OptimSettings) -> OptimSettings:
        return dataclasses.replace(settings, beta1=self.beta1)


@register_trick("large-batch")
@dataclass
class LargeBatch(Trick):
    """factor x the batch size for both players at the same learning rate and step count (Brock et al. 2019)."""

    factor: int = 8
    order: ClassVar[int] = 15

    def check(self, spec, loss) -> None:
        require(self.factor >= 2, "large-batch: factor must be at least 2")

    def batch_size(self, n: int) -> int:
        return n * self.factor


@register_trick("separate-batches")
@dataclass
class SeparateBatches(Trick):
    """D sees a real-only and a fake-only batch instead of one mixed batch; with batch norm in D this changes the
    normalisation statistics (ganhacks 2016; Goodfellow 2016 NIPS tutorial, on batch norm in D)."""

    order: ClassVar[int] = 20

    def check(self, spec, loss) -> None:
        require(spec.arch_options.get("d_norm") == "bn",
                "separate-batches only changes anything when D has batch norm; add --set arch_options.d_norm=bn")

    def d_joint(self, joint: bool) -> bool:
        return False
