"""The trick interface (hooks into the training step), its registry, and the ordered stack of a run's tricks.

Hooks are applied in ascending `order`; within one order, by name. Order bands:
  10 optimizer settings (TTUR), 20 schedule (D steps), 30 model wrappers (spectral norm),
  40 D inputs (noise, packing), 50 penalties (GP), 60 after-step updates (clipping, EMA), 90 sampling.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar, Iterable

from torch import Tensor, nn

from ganbench.errors import SpecError
from ganbench.optim import OptimSettings
from ganbench.registry import Registry

if TYPE_CHECKING:
    from ganbench.losses import Loss
    from ganbench.spec import RunSpec


class Trick:
    """Base of every trick: a dataclass of hyper-parameters whose hooks default to doing nothing."""

    name: ClassVar[str] = ""
    order: ClassVar[int] = 50
    conflicts: ClassVar[dict[str, str]] = {}  # trick name -> why the two make no sense together

    def check(self, spec: "RunSpec", loss: "Loss") -> None:
        """Raise SpecError if this trick cannot be used in `spec`."""

    def configure_optim(self, settings: OptimSettings) -> OptimSettings:
        return settings

    def d_steps(self, n: int) -> int:
        """D updates per G update."""
        return n

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        return G, D

    def d_inputs(self, real: Tensor, fake: Tensor, progress: float) -> tuple[Tensor, Tensor]:
        """Transform D's real and fake inputs; progress runs from 0 to 1 over training."""
        return real, fake

    def d_penalty(self, D: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
        """An extra term added to D's loss."""
        return None

    def g_penalty(self, G: nn.Module, D: nn.Module, fake: Tensor) -> Tensor | None:
        """An extra term added to G's loss."""
        return None

    def after_d_step(self, G: nn.Module, D: nn.Module) -> None:
        """Called after each D optimizer step."""

    def after_g_step(self, G: nn.Module, D: nn.Module) -> None:
        """Called after each G optimizer step."""

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint (for tricks that keep any, e.g. averages)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def params(self) -> dict[str, Any]:
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}


TRICKS: Registry[type[Trick]] = Registry("trick")


def register_trick(name: str):
    """Class decorator: register a Trick dataclass under `name`."""

    def add(cls: type[Trick]) -> type[Trick]:
        cls.name = name
        TRICKS.register(name, cls)
        return cls

    return add


def make_trick(name: str, params: dict[str, Any]) -> Trick:
    """Instantiate trick `name` with `params`; unknown or ill-typed parameters are a SpecError."""
    cls = TRICKS.get(name)
    fields = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        valid = ", ".join(sorted(fields)) or "none"
        raise SpecError(f"trick {name!r} has no parameter {', '.join(unknown)}; its parameters: {valid}")
    coerced = {}
    for k, v in params.items():
        default = getattr(cls, k, None)
        try:
            coerced[k] = type(default)(v) if isinstance(default, (int, float)) and not isinstance(default, bool) else v
        except (TypeError, ValueError):
            raise SpecError(f"trick {name!r}: parameter {k}={v!r} is not a {type(default).__name__}") from None
    return cls(**coerced)


class TrickStack:
    """A run's tricks in application order; each hook runs through all of them."""

    def __init__(self, tricks: Iterable[Trick]):
        self.tricks = sorted(tricks, key=lambda t: (t.order, t.name))

    def check(self, spec: "RunSpec", loss: "Loss") -> None:
        names = {t.name for t in self.tricks}
        for t in self.tricks:
            for other in sorted(names & set(t.conflicts)):
                raise SpecError(f"tricks {t.name!r} and {other!r} cannot be combined: {t.conflicts[other]}")
            t.check(spec, loss)

    def configure_optim(self, settings: OptimSettings) -> OptimSettings:
        for t in self.tricks:
            settings = t.configure_optim(settings)
        return settings

    def d_steps(self, n: int = 1) -> int:
        for t in self.tricks:
            n = t.d_steps(n)
        return n

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        for t in self.tricks:
            G, D = t.wrap_models(G, D)
        return G, D

    def d_inputs(self, real: Tensor, fake: Tensor, progress: float) -> tuple[Tensor, Tensor]:
        for t in self.tricks:
            real, fake = t.d_inputs(real, fake, progress)
        return real, fake

    def d_penalty(self, D: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
        return _sum(t.d_penalty(D, real, fake) for t in self.tricks)

    def g_penalty(self, G: nn.Module, D: nn.Module, fake: Tensor) -> Tensor | None:
        return _sum(t.g_penalty(G, D, fake) for t in self.tricks)

    def after_d_step(self, G: nn.Module, D: nn.Module) -> None:
        for t in self.tricks:
            t.after_d_step(G, D)

    def after_g_step(self, G: nn.Module, D: nn.Module) -> None:
        for t in self.tricks:
            t.after_g_step(G, D)

    def state_dict(self) -> dict[str, Any]:
        return {t.name: t.state_dict() for t in self.tricks}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for t in self.tricks:
            t.load_state_dict(state.get(t.name, {}))


def _sum(terms: Iterable[Tensor | None]) -> Tensor | None:
    total = None
    for term in terms:
        if term is not None:
            total = term if total is None else total + term
    return total


def discriminator_layers(D: nn.Module) -> list[nn.Module]:
    """The weight layers (Linear, Conv) of D."""
    return [m for m in D.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]


def has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def require(cond: bool, msg: str) -> None:
    if not cond:
        raise SpecError(msg)

