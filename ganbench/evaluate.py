"""Evaluate a trained generator: fixed-seed samples, every metric of its data set, and a sample picture."""
from __future__ import annotations

import platform
from pathlib import Path

import torch

from ganbench import __version__, store
from ganbench.build import Setup, sample_latent
from ganbench.metrics import METRICS, EvalContext, MetricValue

EVAL_SEED_OFFSET = 7_919  # evaluation latents differ from every training step's


@torch.no_grad()
def generate(s: Setup, n: int, seed: int, batch: int = 1000) -> torch.Tensor:
    """n samples from G in eval mode (batch norm running statistics) from a fixed latent seed, on the CPU."""
    g = torch.Generator(device=s.device).manual_seed(seed + EVAL_SEED_OFFSET)
    was_training = s.G.training
    s.G.eval()
    out = [s.G(sample_latent(min(batch, n - i), s.spec.z_dim, s.device, g)).float().cpu() for i in range(0, n, batch)]
    s.G.train(was_training)
    return torch.cat(out)


def evaluate(s: Setup) -> tuple[list[MetricValue], torch.Tensor]:
    """All metrics the data set declares, on spec.eval_samples generated samples."""
    fake = generate(s, s.spec.eval_samples, s.spec.seed)
    ctx = EvalContext(data=s.data, fake=fake, seed=s.spec.seed, device=str(s.device))
    values: list[MetricValue] = []
    for name in s.data.metrics:
        values += METRICS.get(name)(ctx)
    return values, fake


def metrics_record(s: Setup, values: list[MetricValue], wall_time: float) -> dict:
    """The metrics.json document: flat values by column, their protocols, and the run's context."""
    return {
        "run_id": s.spec.run_id,
        "metrics": {v.column: float(v.value) for v in values},
        "higher_is_better": {v.column: v.higher_is_better for v in values},
        "protocol": {v.column: {"features": v.features or "none", **v.protocol} for v in values},
        "main_metric": next(v.column for v in values if v.name == s.data.main_metric),
        "sampling": {"g_mode": "eval", "latent": "normal", "truncation": None, "eval_seed": s.spec.seed + EVAL_SEED_OFFSET},
        "cost": {"train_wall_s": wall_time, "device": str(s.device), "torch": torch.__version__,
                 "ganbench": __version__, "python": platform.python_version(), "threads": torch.get_num_threads()},
    }


def save_samples_picture(s: Setup, fake: torch.Tensor, path: Path) -> None:
    """samples.png: generated points over the real data (2-D) or an 8x8 image grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if s.data.kind == "points":
        real = s.data.x[:2500]
        fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
        ax.scatter(real[:, 0], real[:, 1], s=4, c="#bbbbbb", label="real")
        ax.scatter(fake[:2500, 0], fake[:2500, 1], s=2, c="#c0392b", alpha=0.5, label="generated")
        lim = float(s.data.x.abs().max()) * 1.3
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=s.spec.method)
        ax.legend(loc="upper right", fontsize=7, markerscale=3)
    else:
        from torchvision.utils import make_grid

        grid = make_grid(fake[:64], nrow=8, normalize=True, value_range=(-1, 1), padding=1)
        fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set(title=s.spec.method)
        ax.axis("off")
    fig.tight_layout()
    store.atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
