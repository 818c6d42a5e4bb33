"""`ganbench speed`: training throughput of ganbench's loop against the plain PyTorch loop a practitioner would
write for the same run, and evaluation throughput.

The reference loop is the textbook one (Goodfellow et al. 2014, non-saturating G loss, as in the PyTorch DCGAN
tutorial): the same G and D (built by the same architecture registry, same initialisation), `torch.optim` with
its default implementation, D called on the real and on the fake batch, a random batch index per step, no
logging. ganbench's loop is timed as it trains: per-step seeding, its epoch sampler, the health signals and the
spectra at every logged step; only the quality probe is left out (`quality_every` is an observation setting, timed
separately by the evaluation figure). Ratio = reference seconds / ganbench seconds: >= 1 means ganbench is at
least as fast as hand-written code.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
from typing import Callable

import torch
import torch.nn.functional as F

from ganbench import execution, monitor
from ganbench.metrics.probe import features_and_modes
from ganbench.build import build
from ganbench.data.base import BatchSampler, resident
from ganbench.errors import SpecError
from ganbench.models import build_models
from ganbench.spec import RunSpec
from ganbench.step import gan_step, seed_step, step_seed
from ganbench.data import get_dataset
from ganbench.evaluate import Sampler, generate


@dataclass(frozen=True)
class Loop:
    """A training loop ready to run: train(n) trains n more steps of G and D."""

    train: Callable[[int], None]
    G: torch.nn.Module
    D: torch.nn.Module


@dataclass(frozen=True)
class SpeedResult:
    steps: int
    batch_size: int
    ganbench_s: list[float]  # seconds per repeat
    reference_s: list[float]
    eval_images_per_s: float

    @property
    def ganbench_step_ms(self) -> float:
        return 1000 * min(self.ganbench_s) / self.steps

    @property
    def reference_step_ms(self) -> float:
        return 1000 * min(self.reference_s) / self.steps

    @property
    def ratio(self) -> float:
        """Reference time over ganbench time (best of the repeats of each)."""
        return min(self.reference_s) / min(self.ganbench_s)

    def rows(self) -> list[tuple[str, str]]:
        img = lambda s: f"{self.steps * self.batch_size / min(s):,.0f}"  # noqa: E731
        spread = lambda s: f"{1000 * min(s) / self.steps:.3f} / {1000 * statistics.median(s) / self.steps:.3f} / {1000 * max(s) / self.steps:.3f}"  # noqa: E731
        return [("ganbench ms/step (min / median / max)", spread(self.ganbench_s)),
                ("reference ms/step (min / median / max)", spread(self.reference_s)),
                ("ganbench training images/s", img(self.ganbench_s)),
                ("reference training images/s", img(self.reference_s)),
                ("ratio reference / ganbench (>= 1: ganbench not slower)", f"{self.ratio:.3f}"),
                ("evaluation images/s (generate + metric features)", f"{self.eval_images_per_s:,.0f}")]


def check_comparable(spec: RunSpec) -> None:
    """The reference loop is the plain GAN: the non-saturating loss, Adam, no tricks."""
    if spec.loss != "ns" or spec.tricks or spec.optimizer != "adam":
        raise SpecError("ganbench speed compares against the textbook loop: use --loss ns, the adam optimizer and "
                        f"no tricks (got loss {spec.loss!r}, optimizer {spec.optimizer!r}, "
                        f"tricks {[t.name for t in spec.tricks]})")


def reference_loop(spec: RunSpec, device: str = "cpu") -> Loop:
    """The hand-written training loop for `spec`."""

    data = get_dataset(spec.dataset)
    torch.manual_seed(spec.seed)
    G, D = build_models(spec.arch, data.sample_shape, spec.z_dim, dict(spec.arch_options))
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=spec.lr_g, betas=(spec.beta1, spec.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=spec.lr_d, betas=(spec.beta1, spec.beta2))
    x, b = data.floats().to(device), spec.batch_size

    def train(n: int) -> None:
        for _ in range(n):
            real = x[torch.randint(len(x), (b,), device=device)]
            fake = G(torch.randn(b, spec.z_dim, device=device))
            loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            loss_g = F.softplus(-D(G(torch.randn(b, spec.z_dim, device=device)))).mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()

    return Loop(train, G, D)


def ganbench_loop(spec: RunSpec, device: str = "cpu", amp: bool = False, channels_last: bool = False,
                  compile: bool = False) -> Loop:
    """ganbench's training loop for `spec` without the run directory (seeded per step, logged every log_every
    steps with the health signals, as `ganbench run` trains)."""

    s = build(spec, device)
    execution.fast_path(s, amp, channels_last, compile)
    sampler = BatchSampler(resident(s.data.x, s.device), s.batch_size, spec.seed)
    s.G.train()
    s.D.train()
    step = 0

    def train(n: int) -> None:
        nonlocal step
        for _ in range(n):
            seed_step(step_seed(spec.seed, step), s.device)
            s.log_step = step % spec.log_every == 0
            with execution.step_context(s):
                out = gan_step(s, sampler, step / spec.steps)
            if s.log_step:  # what train() does at a logged step: the values to the host, and the spectra
                [float(v) for v in out.values()]
                monitor.spectra({"G": s.G, "D": s.D})
            step += 1

    return Loop(train, s.G, s.D)


def time_loop(loop: Loop, steps: int, warmup: int, device: str = "cpu") -> float:
    """Seconds for `steps` steps after `warmup` (the accelerator's queue drained before and after)."""
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    loop.train(warmup)
    sync()
    t = time.perf_counter()
    loop.train(steps)
    sync()
    return time.perf_counter() - t


def eval_throughput(spec: RunSpec, device: str = "cpu", n: int = 2000) -> float:
    """Images per second of evaluation's sampling and feature pass (the probe's work) on n samples."""

    s = build(spec, device)
    features_and_modes(s.data, generate(Sampler.of(s), min(n, 100), spec.seed))  # warm-up (extractor load)
    t = time.perf_counter()
    features_and_modes(s.data, generate(Sampler.of(s), n, spec.seed))
    return n / (time.perf_counter() - t)


def measure(spec: RunSpec, steps: int = 200, repeats: int = 3, warmup: int = 20,
            device: str = "cpu", **fast: bool) -> SpeedResult:
    """Both loops, alternated `repeats` times (so drift in machine load hits both), each after a warm-up."""
    check_comparable(spec)
    spec = replace(spec, steps=max(spec.steps, steps + warmup))
    ours, ref = [], []
    for _ in range(repeats):
        ours.append(time_loop(ganbench_loop(spec, device, **fast), steps, warmup, device))
        ref.append(time_loop(reference_loop(spec, device), steps, warmup, device))
    return SpeedResult(steps, spec.batch_size, ours, ref, eval_throughput(spec, device))
