"""The training loop: seeded per step, checkpointed, resumable to bit-identical results; knows no loss or trick by name."""
from __future__ import annotations

import csv
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from ganbench import store
from ganbench.build import Setup, sample_latent
from ganbench.data.base import BatchSampler
from ganbench.losses import d_accuracy

HISTORY_FIELDS = ["step", "loss_d", "loss_g", "penalty_d", "d_acc_real", "d_acc_fake", "wall_time"]


@dataclass(frozen=True)
class ExecOptions:
    """How to execute a run; none of it changes the numbers, so none of it is in the spec or run_id."""

    device: str = "cpu"
    ckpt_every: int = 1000
    progress: bool | None = None  # None: a bar only when stderr is a terminal
    stop_after: int | None = None  # stop (as if killed) after this many steps; for tests of resume


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


def d_forward(s: Setup, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """D on real and fake: one joint pass when D has no batch-coupled layers (same function, half the calls)."""
    if s.d_joint and real.shape[1:] == fake.shape[1:]:
        out = s.D(torch.cat([real, fake]))
        return out[: real.shape[0]], out[real.shape[0] :]
    return s.D(real), s.D(fake)


def gan_step(s: Setup, sampler: BatchSampler, progress: float) -> dict[str, torch.Tensor]:
    """One G update after `s.d_steps` D updates (the alternating step of Goodfellow et al. 2014)."""
    G, D, loss, tricks, spec = s.G, s.D, s.loss, s.tricks, s.spec
    D.requires_grad_(True)
    for i in range(s.d_steps):
        real = sampler.next().to(s.device, non_blocking=True)
        with torch.no_grad():
            fake = G(sample_latent(spec.batch_size, spec.z_dim, s.device))
        real_in, fake_in = tricks.d_inputs(real, fake, progress)
        d_real, d_fake = d_forward(s, real_in, fake_in)
        loss_d = loss.d_loss(d_real, d_fake)
        penalty = tricks.d_penalty(D, real_in, fake_in)
        s.opt_d.zero_grad(set_to_none=True)
        (loss_d if penalty is None else loss_d + penalty).backward()
        s.opt_d.step()
        tricks.after_d_step(G, D)
        if i == 0:
            acc_real, acc_fake = d_accuracy(loss, d_real, d_fake)
            out = {"loss_d": loss_d.detach(), "penalty_d": penalty.detach() if penalty is not None else torch.zeros(()),
                   "d_acc_real": acc_real, "d_acc_fake": acc_fake}
    D.requires_grad_(False)
    fake = G(sample_latent(spec.batch_size, spec.z_dim, s.device))
    _, fake_in = tricks.d_inputs(real, fake, progress)
    d_fake = D(fake_in)
    d_real = None
    if loss.g_needs_real:
        with torch.no_grad():
            d_real = D(real_in)
    loss_g = loss.g_loss(d_real, d_fake)
    g_pen = tricks.g_penalty(G, D, fake)
    s.opt_g.zero_grad(set_to_none=True)
    (loss_g if g_pen is None else loss_g + g_pen).backward()
    s.opt_g.step()
    tricks.after_g_step(G, D)
    D.requires_grad_(True)
    out["loss_g"] = loss_g.detach()
    return out


StepFn = Callable[[Setup, BatchSampler, float], dict[str, torch.Tensor]]


def checkpoint_state(s: Setup, step: int, drawn: int, history: list[dict]) -> dict:
    return {
        "step": step, "batches_drawn": drawn, "history": history,
        "G": s.G.state_dict(), "D": s.D.state_dict(),
        "opt_g": s.opt_g.state_dict(), "opt_d": s.opt_d.state_dict(), "tricks": s.tricks.state_dict(),
    }


def restore(s: Setup, state: dict) -> None:
    s.G.load_state_dict(state["G"])
    s.D.load_state_dict(state["D"])
    s.opt_g.load_state_dict(state["opt_g"])
    s.opt_d.load_state_dict(state["opt_d"])
    s.tricks.load_state_dict(state["tricks"])


def write_history(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    store.write_text(path, buf.getvalue())


def load_checkpoint(path: Path) -> dict | None:
    """The last checkpoint of a run, or None; an unreadable one is set aside and the run starts over."""
    ckpt = path / store.CHECKPOINT
    if not ckpt.exists():
        return None
    try:
        return store.load_torch(ckpt)
    except Exception as e:  # truncated or corrupt: keep it for inspection, never silently reuse it
        store.set_aside(ckpt, f"could not be read ({type(e).__name__})")
        return None


def train(s: Setup, path: Path, opts: ExecOptions, step_fn: StepFn = gan_step) -> bool:
    """Train to spec.steps from the last checkpoint in `path`; False if stopped early by `opts.stop_after`."""
    spec = s.spec
    state = load_checkpoint(path)
    start, drawn, history = 0, 0, []
    if state is not None:
        restore(s, state)
        start, drawn, history = state["step"], state["batches_drawn"], list(state["history"])
    sampler = BatchSampler(s.data.x.to(s.device), spec.batch_size, spec.seed, drawn)
    s.G.train()
    s.D.train()
    show = sys.stderr.isatty() if opts.progress is None else opts.progress
    bar = tqdm(total=spec.steps, initial=start, disable=not show, desc=spec.run_id[:40], leave=False, unit="step")
    t0 = time.perf_counter() - (history[-1]["wall_time"] if history else 0.0)
    stop = spec.steps if opts.stop_after is None else min(spec.steps, start + opts.stop_after)
    for step in range(start, stop):
        seed_step(step_seed(spec.seed, step), s.device)
        out = step_fn(s, sampler, step / spec.steps)
        if step % spec.log_every == 0 or step == spec.steps - 1:
            history.append({"step": step, **{k: float(v) for k, v in out.items()}, "wall_time": time.perf_counter() - t0})
        done = step + 1
        if done % opts.ckpt_every == 0 or done == stop:
            store.save_torch(path / store.CHECKPOINT, checkpoint_state(s, done, sampler.drawn, history))
            write_history(path / store.HISTORY, history)
        bar.update(1)
    bar.close()
    return stop == spec.steps
