"""One training step: its RNGs seeded from (seed, step), so that training is a pure function of the two, and the
update itself: `d_steps` D updates then `g_steps` G updates (alternating, Goodfellow et al. 2014), or both players
from the same state (the `simultaneous` trick). Knows no loss or trick by name: they act through their hooks."""
from __future__ import annotations

from typing import Callable

import torch

from ganbench import execution
from ganbench.build import Setup
from ganbench.data.base import BatchSampler, as_float
from ganbench.losses import d_accuracy
from ganbench.monitor import grad_norm
from ganbench.tricks.base import DBatch


def step_seed(seed: int, step: int) -> int:
    """The RNG seed of one training step: training is a pure function of (seed, step)."""
    x = (seed * 0x9E3779B97F4A7C15 + step * 0xBF58476D1CE4E5B9 + 1) % (1 << 64)
    x ^= x >> 31
    return x % (1 << 63)


def seed_step(seed: int, device: torch.device) -> None:
    """Seed the RNGs a step draws from. torch.manual_seed would also queue a seed for every lazy
    accelerator backend, which costs a Python stack capture per call: a tenth of a small CPU step."""
    torch.default_generator.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.manual_seed(seed)


Real = tuple[torch.Tensor, torch.Tensor | None]  # a real batch and its labels (None unless a trick needs them)


def call_d(D: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    return D(x) if y is None else D(x, y)


def d_forward(s: Setup, real: torch.Tensor, fake: torch.Tensor, y_real: torch.Tensor | None = None,
              y_fake: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """D on real and fake: one mixed pass (half the calls) unless a trick asks for separate batches."""
    if s.d_joint and real.shape[1:] == fake.shape[1:]:
        y = None if y_real is None else torch.cat([y_real, y_fake])
        out = call_d(s.D, torch.cat([real, fake]), y)
        return out[: real.shape[0]], out[real.shape[0] :]
    return call_d(s.D, real, y_real), call_d(s.D, fake, y_fake)


def to_device(s: Setup, x: torch.Tensor) -> torch.Tensor:
    """A batch on the run's device (from host memory through pinned memory, without a synchronisation), as float32
    in [-1, 1] (uint8 images travel as bytes and are converted there), channels-last on the fast path."""
    if x.device != s.device:
        x = (x.pin_memory() if s.device.type == "cuda" else x).to(s.device, non_blocking=True)
    x = as_float(x)
    return x.contiguous(memory_format=torch.channels_last) if s.channels_last and x.dim() == 4 else x


def next_real(s: Setup, sampler: BatchSampler) -> Real:
    """The next real batch (and its labels when a trick needs them) on the run's device."""
    if not s.needs_labels:
        return to_device(s, sampler.next()), None
    x, y = sampler.next_labelled()
    return to_device(s, x), y.to(s.device, non_blocking=True)


def d_update(s: Setup, sampler: BatchSampler, progress: float, report: bool = True,
             batch: Real | None = None) -> tuple[dict[str, torch.Tensor] | None, Real]:
    """One D update (on `batch`, else the sampler's next real batch); returns its statistics (when `report`) and the
    real batch D saw (before input transforms). The statistics are computed on logged steps only (`s.log_step`): an
    empty dict on the others."""
    loss, tricks = s.loss, s.tricks
    real, y_real = batch if batch is not None else next_real(s, sampler)
    z = s.latent(s.batch_size)
    with torch.no_grad():
        fake = s.G(z)
    y_fake = s.fake_labels(z)
    real_in, fake_in = tricks.d_inputs(real, fake, progress)
    d_real, d_fake = d_forward(s, real_in, fake_in, y_real, y_fake)
    targets = tricks.d_targets(d_real.shape[0], d_fake.shape[0], s.device)
    loss_d = loss.d_loss(d_real, d_fake) if targets is None else loss.d_loss_targets(d_real, d_fake, *targets)
    penalty = tricks.d_penalty(DBatch(s.D, real_in, fake_in, d_real, d_fake, y_real, y_fake, z))
    s.opt_d.zero_grad(set_to_none=True)
    (loss_d if penalty is None else loss_d + penalty).backward()
    s.opt_d.step()
    tricks.after_d_step(s.G, s.D)
    if not report:
        return None, (real, y_real)
    if not s.log_step:  # the statistics are read at logged steps only (monitor.log): none computed in between
        return {}, (real, y_real)
    acc_real, acc_fake = d_accuracy(loss, d_real, d_fake)
    stats = {"loss_d": loss_d.detach(), "penalty_d": penalty.detach() if penalty is not None else torch.zeros(()),
             "d_acc_real": acc_real, "d_acc_fake": acc_fake}
    stats["grad_norm_d"] = grad_norm(s.d_params)
    return stats, (real, y_real)


def g_update(s: Setup, real: Real, progress: float, step: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One G update against the current D (D's weights frozen); returns G's loss and, on logged steps, the norm
    of G's gradient. With step=False G's gradient is left in .grad for the caller to apply (g_apply)."""
    loss, tricks, D = s.loss, s.tricks, s.D
    real, y_real = real
    z = s.latent(s.batch_size)
    fake = s.G(z)
    y_fake = s.fake_labels(z)
    real_in, fake_in = tricks.d_inputs(real, fake, progress)
    loss_g = tricks.g_objective(D, real_in, fake_in)
    if loss_g is None:
        d_fake = call_d(D, fake_in, y_fake)
        d_real = None
        if loss.g_needs_real:
            with torch.no_grad():
                d_real = call_d(D, real_in, y_real)
        loss_g = loss.g_loss(d_real, d_fake)
    g_pen = tricks.g_penalty(s.G, D, fake_in, z)
    s.opt_g.zero_grad(set_to_none=True)
    (loss_g if g_pen is None else loss_g + g_pen).backward()
    norm = grad_norm(s.G.parameters()) if s.log_step else None
    if step:
        g_apply(s)
    return loss_g.detach(), norm


def g_apply(s: Setup) -> None:
    """G's optimizer step on the gradient in .grad, then the tricks' after-G hooks."""
    s.opt_g.step()
    s.tricks.after_g_step(s.G, s.D)


def gan_step(s: Setup, sampler: BatchSampler, progress: float) -> dict[str, torch.Tensor]:
    """`s.d_steps` D updates, then `s.g_steps` G updates (the alternating step of Goodfellow et al. 2014)."""
    s.d_trainable(True)
    for i in range(s.d_steps):
        stats, real = d_update(s, sampler, progress, report=i == 0)
        if i == 0:
            out = stats

    def look_ahead() -> None:  # a D update inside the G phase (unrolled GAN)
        nonlocal real
        _, real = d_update(s, sampler, progress, report=False)

    with s.tricks.g_context(s.D, s.opt_d, s.loss, look_ahead):
        s.d_trainable(False)
        for _ in range(s.g_steps):
            loss_g, g_norm = g_update(s, real, progress)
    s.d_trainable(True)
    out["loss_g"] = loss_g
    if g_norm is not None:
        out["grad_norm_g"] = g_norm
    return out


def simultaneous_step(s: Setup, sampler: BatchSampler, progress: float) -> dict[str, torch.Tensor]:
    """One simultaneous update (the `simultaneous` trick): from one real batch, G's gradient against the current D,
    then D's update on samples of the current G, then G's step; neither player's update sees the other's."""
    real = next_real(s, sampler)

    def look_ahead() -> None:  # refused when the spec is built; kept as a guard
        raise RuntimeError("simultaneous updates cannot run D updates inside G's phase")

    with s.tricks.g_context(s.D, s.opt_d, s.loss, look_ahead):
        s.d_trainable(False)
        loss_g, g_norm = g_update(s, real, progress, step=False)
    s.d_trainable(True)
    out, _ = d_update(s, sampler, progress, batch=real)
    g_apply(s)
    out["loss_g"] = loss_g
    if g_norm is not None:
        out["grad_norm_g"] = g_norm
    return out


StepFn = Callable[[Setup, BatchSampler, float], dict[str, torch.Tensor]]


def run(s: Setup, sampler: BatchSampler, step: int, step_fn: StepFn, log: bool = True) -> dict[str, torch.Tensor]:
    """Training step `step` (0-based): seeded, marked as logged or not (every log_every steps and the last; never
    with log=False, as `ganbench speed` times the step without statistics), and run by `step_fn` in the fast path's
    context; returns the step's statistics (a logged step's; only loss_g on the others)."""
    spec = s.spec
    seed_step(step_seed(spec.seed, step), s.device)
    s.log_step = log and (step % spec.log_every == 0 or step == spec.steps - 1)
    with execution.step_context(s):
        return step_fn(s, sampler, step / spec.steps)
