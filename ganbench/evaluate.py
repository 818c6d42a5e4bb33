"""Evaluate a trained generator: fixed-seed samples, every metric of its data set, and a sample picture."""
from __future__ import annotations

from importlib.metadata import version
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ganbench import __version__, memory
from ganbench.files import atomic_write
from ganbench.build import Setup
from ganbench.data import Dataset
from ganbench.spec import RunSpec
from ganbench.tricks.base import Trick
from ganbench.metrics import METRICS, EvalContext, MetricValue
from ganbench.metrics.protocols import PROTOCOLS

EVAL_SEED_OFFSET = 7_919  # evaluation latents differ from every training step's
DRAW_STRIDE = 1_000_003  # sample draw d of a run's evaluation uses latent seed seed + EVAL_SEED_OFFSET + d * DRAW_STRIDE
# Raised whenever a metric function gains or changes columns; `ganbench evaluate` re-evaluates runs recorded with
# an older version (2: the diversity ratio and memorization; 3: NDB; 4: re-evaluation also records the current
# protocol of numbers it reproduced, e.g. the feature layer and resize of runs recorded before those were stated;
# 5: density and coverage beside precision and recall).
METRICS_VERSION = 5


@dataclass
class Sampler:
    """What evaluation draws samples from: the generator to evaluate (G, or a trick's average of its weights) and
    G's input for n samples as the sampling-time tricks draw it (the latent prior, truncated or uniform, followed by
    a conditioning trick's codes), on one device; `curves`: the other sampling-time settings the tricks offer to
    score, as (trick, setting) pairs (Trick.sampling_curve)."""

    G: nn.Module
    inputs: Callable[[int, torch.Generator], torch.Tensor]
    device: torch.device
    curves: tuple[tuple[Trick, dict], ...] = ()

    @classmethod
    def of(cls, s: Setup) -> "Sampler":
        """The sampler of a run's current state."""
        curves = tuple((t, setting) for t in s.tricks.sampling_curves() for setting in t.sampling_curve())
        return cls(s.eval_generator(), lambda n, g: s.latent(n, g, train=False), s.device, curves)

    def at(self, trick: Trick, setting: dict) -> "Sampler":
        """This sampler with G's inputs drawn at one of `trick`'s sampling-time settings."""
        def inputs(n: int, g: torch.Generator) -> torch.Tensor:
            with trick.sampling_setting(setting):
                return self.inputs(n, g)

        return Sampler(self.G, inputs, self.device)


@torch.no_grad()
def generate(sampler: Sampler, n: int, seed: int, batch: int = 1000) -> torch.Tensor:
    """n samples from G in eval mode (batch norm running statistics) from a fixed latent seed, on the CPU."""
    g = torch.Generator(device=sampler.device).manual_seed(seed + EVAL_SEED_OFFSET)
    G = sampler.G
    was_training = G.training
    G.eval()
    out = [G(sampler.inputs(min(batch, n - i), g)).float().cpu() for i in range(0, n, batch)]
    G.train(was_training)
    return torch.cat(out)


def evaluate(sampler: Sampler, data: Dataset, spec: RunSpec, draw: int = 0) -> tuple[list[MetricValue] | None,
                                                                                     torch.Tensor]:
    """Every metric `data` declares and every protocol of `spec`, on spec.eval_samples samples of `sampler`; `draw`
    d > 0 scores another draw of samples (another sampling seed), against the same real data. Draw 0 is the run's
    own evaluation. The values are None when a sample is not finite (the run diverged all the same)."""
    fake = generate(sampler, spec.eval_samples, spec.seed + draw * DRAW_STRIDE)
    if not torch.isfinite(fake).all():
        return None, fake
    ctx = EvalContext(data=data, fake=fake, seed=spec.seed, device=str(sampler.device))
    values: list[MetricValue] = []
    for name in data.metrics:
        values += METRICS.get(name)(ctx)
    for name in spec.protocols:  # published papers' own evaluations, beside ours
        values += PROTOCOLS.get(name).compute(ctx)
    return values, fake


def sampling_curve(sampler: Sampler, data: Dataset, spec: RunSpec) -> list[dict] | None:
    """Every metric at each sampling-time setting the run's tricks offer (truncation: each psi of its curve, the
    fidelity/variety trade-off), one row per setting; None when no trick offers any."""
    if not sampler.curves:
        return None
    rows = []
    for trick, setting in sampler.curves:
        values, _ = evaluate(sampler.at(trick, setting), data, spec)
        rows.append({**setting, **{v.column: float(v.value) for v in values or []}})
    return rows


def metrics_record(s: Setup, values: list[MetricValue], timings: dict) -> dict:
    """The metrics.json document: flat values by column, each value's full protocol (its evaluation settings and
    how the samples were drawn), and the run's context and cost."""
    sampling = sampling_record(s)
    drawn = {k: sampling[k] for k in SAMPLING_KEYS}
    return {
        "run_id": s.spec.run_id,
        "metrics_version": METRICS_VERSION,
        "metrics": {v.column: float(v.value) for v in values},
        "higher_is_better": {v.column: v.higher_is_better for v in values},
        "protocol": {v.column: {"features": v.features or "none", **v.protocol, **drawn} for v in values},
        "main_metric": next((v.column for v in values if v.name == s.data.main_metric), None),
        "diverged_at": s.diverged_at,
        "sampling": sampling,
        "cost": cost_record(s, timings),
    }


SAMPLING_KEYS = ("generator", "g_mode", "latent")  # recorded with every value; they describe the method's samples


def cost_record(s: Setup, timings: dict) -> dict:
    """What the run cost: device model, wall time of the whole run and of its phases (train_s: the training steps;
    probe_s: the quality probes; eval_s: the final evaluation), real images seen, peak memory of training and of
    evaluation, library versions."""
    model = torch.cuda.get_device_name(s.device) if s.device.type == "cuda" else cpu_model()
    libs = {name: version(name) for name in ("torch", "torchvision", "torch-fidelity", "numpy")}
    peaks = {k: round(timings[k], 1) for k in ("peak_train_mib", "peak_eval_mib") if k in timings}
    return {"wall_s": timings.get("wall_s"), **{k: timings[k] for k in ("train_s", "probe_s", "eval_s") if k in timings},
            "device": str(s.device), "device_model": model,
            "images_seen": s.batches_drawn * s.batch_size, **peaks,
            "peak_memory_mib": max(peaks.values(), default=None), "peak_memory": memory.kind(s.device),
            "execution": dict(s.execution),
            **libs, "ganbench": __version__, "python": platform.python_version(), "threads": torch.get_num_threads()}


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def sampling_record(s: Setup) -> dict:
    """How the evaluated samples were drawn: G's mode, which generator, the latent prior, the seed."""

    latent = [t for t in s.tricks.tricks if type(t).latent is not Trick.latent]
    averaged = [t.name for t in s.tricks.tricks if type(t).eval_generator is not Trick.eval_generator]
    return {"g_mode": "eval", "generator": averaged[0] if averaged else "G",
            "latent": {"trick": latent[0].name, **latent[0].params()} if latent else "normal",
            "eval_seed": s.spec.seed + EVAL_SEED_OFFSET}


def save_samples_picture(s: Setup, fake: torch.Tensor, path: Path) -> None:
    """samples.png: generated points over the real data (2-D) or an 8x8 image grid."""
    from matplotlib import pyplot as plt  # heavy: 0.5 s, for the one picture a run draws

    if plt.get_backend().lower() != "agg":  # files only, never a window (switching closes open figures: only once)
        plt.switch_backend("Agg")
    if s.data.kind == "points":
        real = s.data.x[:2500]
        fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
        ax.scatter(real[:, 0], real[:, 1], s=4, c="#bbbbbb", label="real")
        ax.scatter(fake[:2500, 0], fake[:2500, 1], s=2, c="#c0392b", alpha=0.5, label="generated")
        lim = float(s.data.x.abs().max()) * 1.3
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=s.spec.method)
        ax.legend(loc="upper right", fontsize=7, markerscale=3)
    else:
        from torchvision.utils import make_grid  # heavy: torchvision, for image runs only

        grid = make_grid(fake[:64], nrow=8, normalize=True, value_range=(-1, 1), padding=1)
        fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set(title=s.spec.method)
        ax.axis("off")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)


def score(s: Setup, draw: int = 0) -> tuple[list, torch.Tensor]:
    """evaluate() on the run's sampler; non-finite samples mark the run as diverged at its last step (no values)."""
    values, fake = evaluate(Sampler.of(s), s.data, s.spec, draw)
    if values is None:
        s.diverged_at = s.spec.steps
        return [], fake
    return values, fake
