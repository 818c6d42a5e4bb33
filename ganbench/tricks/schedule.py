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
