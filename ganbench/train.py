"""The training loop: seeded per step, checkpointed, resumable to bit-identical results; knows no loss or trick by name."""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from ganbench import execution, health, quality, store
from ganbench.execution import ExecOptions
from ganbench.files import write_csv
from ganbench.build import Setup
from ganbench.data.base import BatchSampler, as_float, resident
from ganbench.losses import d_accuracy
from ganbench.tricks.base import DBatch

HISTORY_FIELDS = ["step", "loss_d", "loss_g", "penalty_d", "d_acc_real", "d_acc_fake", "grad_norm_d", "grad_norm_g",
                  "sigma0_d", "sigma0_g", "wall_time"]
SPECTRA_FIELDS = ["step", "net", "layer", "s0", "s1", "s2"]


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
    real batch D saw (before input transforms)."""
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
    acc_real, acc_fake = d_accuracy(loss, d_real, d_fake)
    stats = {"loss_d": loss_d.detach(), "penalty_d": penalty.detach() if penalty is not None else torch.zeros(()),
             "d_acc_real": acc_real, "d_acc_fake": acc_fake}
    if s.log_step:
        stats["grad_norm_d"] = health.grad_norm(s.d_params)
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
    norm = health.grad_norm(s.G.parameters()) if s.log_step else None
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


@dataclass
class Logs:
    """What a run records along the way (kept in its checkpoints, so that a resumed run writes them whole)."""

    history: list[dict]
    spectra: list[dict]
    quality: list[dict]
    points: list[dict] = field(default_factory=list)  # 2-D data: {"step", "points"} of each probe

    def write(self, path: Path) -> None:
        """history.csv, spectra.csv, quality.csv (when probed) and probe_points.pt (2-D data) in `path`."""
        write_history(path, self.history, self.spectra)
        if self.quality:
            write_csv(path / store.QUALITY, self.quality, quality.FIELDS)
        if self.points:
            store.save_torch(path / store.PROBE_POINTS, {"step": torch.tensor([p["step"] for p in self.points]),
                                                         "points": torch.stack([p["points"] for p in self.points])})


def checkpoint_state(s: Setup, step: int, drawn: int, logs: Logs) -> dict:
    return {
        "step": step, "batches_drawn": drawn, "history": logs.history,
        "G": s.G.state_dict(), "D": s.D.state_dict(),
        "opt_g": s.opt_g.state_dict(), "opt_d": s.opt_d.state_dict(), "tricks": s.tricks.state_dict(),
        "spectra": logs.spectra, "quality": logs.quality, "points": logs.points,
        "probe_s": float(s.timings.get("probe_s", 0.0)),
    }


def restore(s: Setup, state: dict) -> None:
    s.G.load_state_dict(state["G"])
    s.D.load_state_dict(state["D"])
    s.opt_g.load_state_dict(state["opt_g"])
    s.opt_d.load_state_dict(state["opt_d"])
    s.tricks.load_state_dict(state["tricks"])


def write_history(path: Path, rows: list[dict], spectra: list[dict] | None = None) -> None:
    """history.csv in `path`, and spectra.csv beside it."""
    write_csv(path / store.HISTORY, rows, HISTORY_FIELDS)
    if spectra is not None:
        write_csv(path / store.SPECTRA, spectra, SPECTRA_FIELDS)


def load_checkpoint(path: Path) -> dict | None:
    """The run's newest intact checkpoint (checkpoint.pt, else checkpoint.prev.pt; checksums verified), or None: a
    damaged one is set aside and never silently reused (see store.load_checkpoint)."""
    return store.load_checkpoint(path)


def resume(s: Setup, path: Path) -> tuple[int, int, Logs]:
    """Restore the run from its last intact checkpoint in `path`: (the step to continue from, real batches drawn so
    far, the logs so far); (0, 0, empty logs) for a fresh run."""
    state = load_checkpoint(path)
    if state is None:
        return 0, 0, Logs([], [], [])
    restore(s, state)
    logs = Logs(list(state["history"]), list(state.get("spectra", [])), list(state.get("quality", [])),
                list(state.get("points", [])))
    s.timings["probe_s"] = float(state.get("probe_s", 0.0))  # earlier segments' time, for the run's cost
    s.timings["resumed_s"] = s.timings["probe_s"] + (logs.history[-1]["wall_time"] if logs.history else 0.0)
    return state["step"], state["batches_drawn"], logs


def log_step(s: Setup, step: int, out: dict[str, torch.Tensor], logs: Logs, t0: float) -> bool:
    """Record a logged step's losses, D accuracies, gradient norms and the networks' top singular values; False when
    one of them is not finite (the run diverged)."""
    row = {k: float(v) for k, v in out.items()}
    layers = health.spectra({"G": s.G, "D": s.D})
    row.update(sigma0_d=health.largest_sigma(layers, "D"), sigma0_g=health.largest_sigma(layers, "G"))
    logs.spectra += [{"step": step, **r} for r in layers]
    logs.history.append({"step": step, **row, "wall_time": time.perf_counter() - t0})
    return all(math.isfinite(v) for v in row.values())


def probe_step(s: Setup, path: Path, done: int, drawn: int, logs: Logs, t0: float) -> float:
    """The quality probe after `done` steps: its scores logged, best.pt saved when it improves; returns the seconds
    it took (training's wall time leaves them out; the run's cost counts them as probe_s)."""
    t_probe = time.perf_counter()
    scores, points = quality.probe(s)
    best = quality.improves(logs.quality, scores["select"])
    logs.quality.append({"step": done, **scores, "wall_time": t_probe - t0})
    if points is not None:
        logs.points.append({"step": done, "points": points})
    if best:
        store.save_checkpoint(path / store.BEST, checkpoint_state(s, done, drawn, logs))
    took = time.perf_counter() - t_probe
    s.timings["probe_s"] = s.timings.get("probe_s", 0.0) + took
    return took


def train(s: Setup, path: Path, opts: ExecOptions, step_fn: StepFn | None = None) -> bool:
    """Train to spec.steps from the last checkpoint in `path`; False if stopped early by `opts.stop_after`.

    Training stops at the first logged step with a non-finite loss, or at a checkpoint whose weights are not
    finite, and sets `s.diverged_at` (checked every log_every steps and before each checkpoint, so the check costs
    no per-step synchronisation on accelerators); checkpoint.pt and best.pt then keep the last good states."""
    spec = s.spec
    step_fn = step_fn or (simultaneous_step if s.tricks.simultaneous else gan_step)
    start, drawn, logs = resume(s, path)
    sampler = BatchSampler(resident(s.data.x, s.device), s.batch_size, spec.seed, drawn,
                           labels=s.data.labels.to(s.device) if s.needs_labels else None)
    execution.prepare(s, opts.amp, opts.channels_last, opts.compile)
    s.G.train()
    s.D.train()
    show = sys.stderr.isatty() if opts.progress is None else opts.progress
    bar = tqdm(total=spec.steps, initial=start, disable=not show, desc=spec.run_id[:40], leave=False, unit="step")
    t0 = time.perf_counter() - (logs.history[-1]["wall_time"] if logs.history else 0.0)
    stop = spec.steps if opts.stop_after is None else min(spec.steps, start + opts.stop_after)
    if start == 0:  # the reference for growth of the singular values: the networks at initialisation
        logs.spectra = [{"step": -1, **r} for r in health.spectra({"G": s.G, "D": s.D})]

    def diverged(step: int) -> bool:  # an outcome to record, not a crash; the kept checkpoints stay as they were
        s.diverged_at = step
        s.timings["train_s"] = time.perf_counter() - t0
        s.batches_drawn = sampler.drawn
        logs.write(path)
        bar.close()
        return True

    for step in range(start, stop):
        seed_step(step_seed(spec.seed, step), s.device)
        s.log_step = step % spec.log_every == 0 or step == spec.steps - 1
        with execution.step_context(s):
            out = step_fn(s, sampler, step / spec.steps)
        if s.log_step and not log_step(s, step, out, logs, t0):
            return diverged(step)
        done = step + 1
        if quality.is_probe_step(done, spec.quality_every, spec.steps):
            t0 += probe_step(s, path, done, sampler.drawn, logs, t0)  # wall_time counts training only
        if done % opts.ckpt_every == 0 or done == stop:
            if not health.finite_weights(s.G, s.D):  # never replace the last good checkpoint by a broken one
                return diverged(step)
            store.save_checkpoint(path / store.CHECKPOINT, checkpoint_state(s, done, sampler.drawn, logs),
                                  keep_previous=True)
            logs.write(path)
        bar.update(1)
    bar.close()
    s.batches_drawn = sampler.drawn
    s.timings["train_s"] = time.perf_counter() - t0  # the training steps (over resumptions), without the probes
    return stop == spec.steps
