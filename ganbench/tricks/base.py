"""The trick interface (hooks into the training step), its registry, and the ordered stack of a run's tricks.

Hooks are applied in ascending `order`; within one order, by name. Order bands:
  5 architecture options (dropout in D, self-attention, ...), 10 optimizer settings (TTUR, SGD for D, Adam beta1), 15 batch size (large batch), 20 schedule (D/G steps),
  25 D structure (minibatch features), 26 class conditioning (cGAN, ACGAN, projection, InfoGAN), 27 initialisation (orthogonal, Xavier), 30 weight normalisation
  (spectral norm), 35 D inputs: augmentation (DiffAugment), 40 D inputs: noise, 45 packing (PacGAN),
  47 labels (smoothing, noise, flips), 50 penalties (GP, R1, LeCam, ...), 55 G objective (feature matching),
  60 after-step updates (clipping, averages), 70 unrolling, 80 evaluation generator (EMA), 90 latent sampling.

A trick is a dataclass of its paper's hyper-parameters whose hooks default to doing nothing; it overrides the hooks
its paper changes. The hooks by phase, each called on every trick of the run in order:

| phase | when | hooks (in call order) |
|---|---|---|
| build | once, when the run is built | check, bind_data, arch_options, configure_optim, batch_size, d_steps, g_steps, d_input_shape, d_joint, code_dim, wrap_models (extra_cost: the launcher's estimate) |
| latent | each time G's input is drawn | latent, latent_codes, fake_labels (train=False when sampling for evaluation) |
| D step | each D update | d_inputs, d_targets, d_penalty, after_d_step |
| G step | each step's G updates | g_context (around them), d_inputs, g_objective, g_penalty, after_g_step |
| sampling | evaluation, quality probes | eval_generator, the latent hooks with train=False, sampling_curve and sampling_setting |
| state | checkpoints, run identity | state_dict, load_state_dict, params |

Every hook receives what it works on as arguments (networks, batches, D's outputs in a DBatch, an optimizer's
settings); none receives the run's whole state.

Class labels: G's input is the latent z followed by the codes of the (single) code trick (a one-hot class for the
conditioning tricks, InfoGAN's codes); the labels of a generated batch are read back from those codes
(fake_labels), real labels come with the real batch when a trick `needs_labels`, and D is called as D(x, y).
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, ContextManager, Iterable

import torch
from torch import Tensor, nn

from ganbench.errors import SpecError
from ganbench.optim import OptimSettings
from ganbench.registry import Registry
from ganbench.values import read_number

if TYPE_CHECKING:
    from ganbench.losses import Loss
    from ganbench.spec import RunSpec


@dataclass
class DBatch:
    """What one D update saw: D's inputs (after every d_inputs transform), its outputs on them, and for a
    conditional run the class labels of both batches and the fake batch's latent codes. Penalties call D through
    on_real / on_fake / on_joint, which pass the right labels to a conditional D."""

    D: nn.Module
    real: Tensor
    fake: Tensor
    d_real: Tensor
    d_fake: Tensor
    y_real: Tensor | None = None
    y_fake: Tensor | None = None
    z: Tensor | None = None

    def on_real(self, x: Tensor) -> Tensor:
        """D on inputs that carry the real batch's labels (interpolates and perturbations keep the real label)."""
        return self.D(x) if self.y_real is None else self.D(x, self.y_real)

    def on_fake(self, x: Tensor) -> Tensor:
        return self.D(x) if self.y_fake is None else self.D(x, self.y_fake)

    def on_joint(self, x: Tensor) -> Tensor:
        """D on a real batch followed by a fake batch, concatenated."""
        return self.D(x) if self.y_real is None else self.D(x, torch.cat([self.y_real, self.y_fake]))


class Trick:
    """Base of every trick: a dataclass of hyper-parameters whose hooks default to doing nothing."""

    name: ClassVar[str] = ""
    order: ClassVar[int] = 50
    conflicts: ClassVar[dict[str, str]] = {}  # trick name -> why the two make no sense together
    needs_labels: ClassVar[bool] = False  # the real batches come with their class labels
    bf16_safe: ClassVar[bool] = True  # False: the run's step stays in float32 on the fast path (gradient penalties)
    # Parameters added after runs with this trick existed, with the default that keeps the old behaviour: at that
    # default they are left out of the run's identity, so existing run_ids stay valid.
    late_params: ClassVar[dict[str, Any]] = {}
    # True: G's and D's updates are computed from the same state (simultaneous gradient steps, see train.py)
    simultaneous: ClassVar[bool] = False

    # ---- Build: once, when the run is built (in this order), and for the launcher's cost estimate

    def check(self, spec: "RunSpec", loss: "Loss") -> None:
        """Raise SpecError if this trick cannot be used in `spec`."""

    def bind_data(self, data: Any) -> None:
        """Learn what the trick needs from the run's data set (its classes), before anything is built."""

    def arch_options(self, arch: str, options: dict[str, Any]) -> dict[str, Any]:
        """The architecture's options (architecture-level tricks set them)."""
        return options

    def configure_optim(self, settings: OptimSettings) -> OptimSettings:
        return settings

    def batch_size(self, n: int) -> int:
        """Samples per batch (real and generated)."""
        return n

    def d_steps(self, n: int) -> int:
        """D updates per G update."""
        return n

    def g_steps(self, n: int) -> int:
        """G updates per step."""
        return n

    def d_input_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The per-sample shape D is built for (packing changes it)."""
        return shape

    def d_joint(self, joint: bool) -> bool:
        """Whether real and fake may go through D in one mixed batch."""
        return joint

    def code_dim(self) -> int:
        """Columns this trick appends to G's input after the latent z (class one-hots, InfoGAN codes)."""
        return 0

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        return G, D

    def extra_cost(self) -> float:
        """Extra work per step in units of one plain D update (a penalty's double backward ~2, unrolling k); only
        used to schedule the longest runs first."""
        return 2.0 if type(self).d_penalty is not Trick.d_penalty else 0.0

    # ---- Latent: whenever G's input is drawn (train=True in training steps, False when sampling for evaluation)

    def latent(self, n: int, z_dim: int, device: torch.device, generator: torch.Generator | None,
               train: bool) -> Tensor | None:
        """Latent codes, or None for the next trick (and finally the standard normal) to decide."""
        return None

    def latent_codes(self, n: int, device: torch.device, generator: torch.Generator | None,
                     train: bool) -> Tensor | None:
        """The n x code_dim() codes appended to the latent, drawn after z; None when code_dim() is 0."""
        return None

    def fake_labels(self, z: Tensor) -> Tensor | None:
        """The class labels of the samples G makes from latent z (read from this trick's codes), or None."""
        return None

    # ---- D step: each D update

    def d_inputs(self, real: Tensor, fake: Tensor, progress: float) -> tuple[Tensor, Tensor]:
        """Transform D's real and fake inputs; progress runs from 0 to 1 over training."""
        return real, fake

    def d_targets(self, t_real: Tensor, t_fake: Tensor) -> tuple[Tensor, Tensor]:
        """Per-sample D targets (1 real, 0 fake before any label trick); only for losses with targets."""
        return t_real, t_fake

    def d_penalty(self, batch: DBatch) -> Tensor | None:
        """An extra term added to D's loss."""
        return None

    def after_d_step(self, G: nn.Module, D: nn.Module) -> None:
        """Called after each D optimizer step."""

    # ---- G step: each step's G updates

    def g_context(self, D: nn.Module, opt_d: torch.optim.Optimizer, loss: "Loss",
                  d_update: Callable[[], None]) -> ContextManager:
        """A context around the G updates of a step, given D, its optimizer and the loss: unrolled GAN looks ahead
        with `d_update` (one more D update on fresh batches) and restores D on exit."""
        return contextlib.nullcontext()

    def g_objective(self, D: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
        """A G objective that replaces the loss's (feature matching); None keeps the loss's."""
        return None

    def g_penalty(self, G: nn.Module, D: nn.Module, fake: Tensor, z: Tensor) -> Tensor | None:
        """An extra term added to G's loss; `fake` is what D saw (after d_inputs), `z` its latent with codes."""
        return None

    def after_g_step(self, G: nn.Module, D: nn.Module) -> None:
        """Called after each G optimizer step."""

    # ---- Sampling: evaluation and the quality probe

    def eval_generator(self, G: nn.Module) -> nn.Module:
        """The generator to evaluate (an average of G's weights, for example)."""
        return G

    def sampling_curve(self) -> list[dict[str, Any]]:
        """Sampling-time settings to score besides the run's own, e.g. truncation's psi values, each as its label
        ({"psi": 0.5}); every metric is computed at each (ganbench.evaluate.sampling_curve). A trick that offers
        some applies one with sampling_setting."""
        return []

    def sampling_setting(self, setting: dict[str, Any]) -> ContextManager[None]:
        """A context in which G's inputs are drawn at `setting` (one of sampling_curve's); the trick's own setting
        is back when it exits."""
        raise NotImplementedError(f"{type(self).__name__} offers a sampling curve but no sampling_setting")

    # ---- State: checkpoints and identity

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint (for tricks that keep any, e.g. averages)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def params(self) -> dict[str, Any]:
        """The hyper-parameters (dataclass fields set in __init__; state kept in init=False fields is not one)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init} if dataclasses.is_dataclass(self) else {}


TRICKS: Registry[type[Trick]] = Registry("trick")


def register_trick(name: str):
    """Class decorator: register a Trick dataclass under `name`."""

    def add(cls: type[Trick]) -> type[Trick]:
        cls.name = name
        TRICKS.register(name, cls)
        return cls

    return add


def make_trick(name: str, params: dict[str, Any]) -> Trick:
    """Instantiate trick `name` with `params`, strictly typed like the run spec's fields (an integer parameter
    takes an integer or an integral float, a float one a finite number, a boolean one true/false; numeric text
    is read as a number); unknown or ill-typed parameters are a SpecError line naming the trick and parameter."""
    cls = TRICKS.get(name)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init} if dataclasses.is_dataclass(cls) else {}
    for k in params:
        if k not in fields:
            close = difflib.get_close_matches(str(k), sorted(fields), n=1)
            hint = f"did you mean {close[0]}?" if close else f"its parameters: {', '.join(sorted(fields)) or 'none'}"
            raise SpecError(f"trick {name!r} has no parameter {k!r}; {hint}")
    return cls(**{k: _param(name, k, v, getattr(cls, k, None)) for k, v in params.items()})


def _param(trick: str, key: str, value: Any, default: Any) -> Any:
    """One trick parameter, checked against the type of its default."""
    bad = SpecError(f"trick {trick!r}: parameter {key}={value!r} is not a{'n' if isinstance(default, int) else ''} "
                    f"{type(default).__name__}")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad
        return value
    if isinstance(default, (int, float)):
        number = read_number(value, integer=isinstance(default, int))
        if number is None:
            raise bad
        return number
    return value


def compose(tricks: Iterable[Any]) -> "TrickStack":
    """The one place a run's tricks are made, for building its spec, training it and costing it: TrickSpecs or
    (name, params) pairs -> checked instances (make_trick) in application order (TRICKS order, then name)."""
    made = []
    for t in tricks:
        name, params = (t.name, dict(t.params)) if hasattr(t, "name") else (t[0], dict(t[1]))
        made.append(make_trick(name, params))
    return TrickStack(made)


class TrickStack:
    """A run's tricks in application order; each hook runs through all of them."""

    def __init__(self, tricks: Iterable[Trick]):
        self.tricks = sorted(tricks, key=lambda t: (t.order, t.name))
        self._target_tricks = [t for t in self.tricks if type(t).d_targets is not Trick.d_targets]

    @property
    def simultaneous(self) -> bool:
        """Whether the step updates G and D simultaneously (a trick asks for it) instead of alternating."""
        return any(t.simultaneous for t in self.tricks)

    def check(self, spec: "RunSpec", loss: "Loss") -> None:
        names = {t.name for t in self.tricks}
        for t in self.tricks:
            for other in sorted((names - {t.name}) & set(t.conflicts)):
                raise SpecError(f"tricks {t.name!r} and {other!r} cannot be combined: {t.conflicts[other]}")
            t.check(spec, loss)
        coders = [t.name for t in self.tricks if type(t).code_dim is not Trick.code_dim]
        if len(coders) > 1:
            raise SpecError(f"tricks {' and '.join(repr(c) for c in coders)} both add codes to G's input; "
                            "use one conditioning trick per run")

    def bind_data(self, data: Any) -> None:
        for t in self.tricks:
            t.bind_data(data)

    @property
    def needs_labels(self) -> bool:
        return any(t.needs_labels for t in self.tricks)

    def code_dim(self) -> int:
        return sum(t.code_dim() for t in self.tricks)

    def latent_codes(self, z: Tensor, generator: torch.Generator | None, train: bool) -> Tensor:
        """z followed by every trick's codes (z itself when no trick adds any)."""
        codes = [c for t in self.tricks if (c := t.latent_codes(z.shape[0], z.device, generator, train)) is not None]
        return torch.cat([z, *codes], 1) if codes else z

    def fake_labels(self, z: Tensor) -> Tensor | None:
        for t in self.tricks:
            y = t.fake_labels(z)
            if y is not None:
                return y
        return None

    def configure_optim(self, settings: OptimSettings) -> OptimSettings:
        for t in self.tricks:
            settings = t.configure_optim(settings)
        return settings

    def arch_options(self, arch: str, options: dict[str, Any]) -> dict[str, Any]:
        for t in self.tricks:
            options = t.arch_options(arch, dict(options))
        return options

    def _chain(self, hook: str, value: Any) -> Any:
        for t in self.tricks:
            value = getattr(t, hook)(value)
        return value

    def batch_size(self, n: int) -> int:
        return self._chain("batch_size", n)

    def d_steps(self, n: int = 1) -> int:
        return self._chain("d_steps", n)

    def g_steps(self, n: int = 1) -> int:
        return self._chain("g_steps", n)

    def d_input_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return self._chain("d_input_shape", tuple(shape))

    def d_joint(self, joint: bool) -> bool:
        return self._chain("d_joint", joint)

    def latent(self, n: int, z_dim: int, device: torch.device, generator: torch.Generator | None = None,
               train: bool = True) -> Tensor:
        """The first trick's latent codes, else standard normal ones."""
        for t in self.tricks:
            z = t.latent(n, z_dim, device, generator, train)
            if z is not None:
                return z
        return torch.randn(n, z_dim, device=device, generator=generator)

    def d_targets(self, n_real: int, n_fake: int, device: torch.device) -> tuple[Tensor, Tensor] | None:
        """Per-sample targets after the label tricks, or None when no trick changes them (the loss's own fast path)."""
        if not self._target_tricks:
            return None
        t_real, t_fake = torch.ones(n_real, device=device), torch.zeros(n_fake, device=device)
        for t in self._target_tricks:
            t_real, t_fake = t.d_targets(t_real, t_fake)
        return t_real, t_fake

    def g_objective(self, D: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
        for t in self.tricks:
            out = t.g_objective(D, real, fake)
            if out is not None:
                return out
        return None

    def g_context(self, D: nn.Module, opt_d: torch.optim.Optimizer, loss: "Loss",
                  d_update: Callable[[], None]) -> ContextManager:
        stack = contextlib.ExitStack()
        for t in self.tricks:
            stack.enter_context(t.g_context(D, opt_d, loss, d_update))
        return stack

    def sampling_curves(self) -> list[Trick]:
        """The tricks that offer sampling-time settings to score besides the run's own (Trick.sampling_curve)."""
        return [t for t in self.tricks if type(t).sampling_curve is not Trick.sampling_curve]

    def eval_generator(self, G: nn.Module) -> nn.Module:
        """Applied in reverse order: a late trick picks the network (EMA's average), earlier ones wrap it (MSG's
        full-resolution view)."""
        for t in reversed(self.tricks):
            G = t.eval_generator(G)
        return G

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        for t in self.tricks:
            G, D = t.wrap_models(G, D)
        return G, D

    def d_inputs(self, real: Tensor, fake: Tensor, progress: float) -> tuple[Tensor, Tensor]:
        for t in self.tricks:
            real, fake = t.d_inputs(real, fake, progress)
        return real, fake

    def d_penalty(self, batch: DBatch) -> Tensor | None:
        return _sum(t.d_penalty(batch) for t in self.tricks)

    def g_penalty(self, G: nn.Module, D: nn.Module, fake: Tensor, z: Tensor) -> Tensor | None:
        return _sum(t.g_penalty(G, D, fake, z) for t in self.tricks)

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


WEIGHT_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def weight_layers(net: nn.Module) -> list[nn.Module]:
    """The weight layers (Linear, Conv, transposed Conv) of a network."""
    return [m for m in net.modules() if isinstance(m, WEIGHT_LAYERS)]




def has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def require(cond: bool, msg: str) -> None:
    if not cond:
        raise SpecError(msg)

