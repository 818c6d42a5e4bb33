"""2-D Gaussian mixtures: the mode-collapse benchmarks of Unrolled GAN, VEEGAN and PacGAN.

Protocol of PacGAN (Lin et al. 2018, code fjxmlzn/PacGAN, synthetic_data_experiments), which follows
VEEGAN (Srivastava et al. 2017): 100,000 training samples drawn with uniform mode priors;
ring: 8 modes at (cos 2*pi*i/8, sin 2*pi*i/8), std 0.01; grid: 25 modes on {-4,-2,0,2,4}^2, std 0.05;
evaluation on 2,500 generated samples, a sample is high quality within 3 std of its nearest mode.
"""
from __future__ import annotations

import math

import torch

from ganbench.data.base import DATASETS, Dataset

NUM_SAMPLES = 100_000
DATA_SEED = 2017  # the data set is fixed; the run seed varies training only

POINT_METRICS = ("modes2d", "points-fidelity", "ndb")
POINT_DEFAULTS = {"arch": "mlp", "batch_size": 100, "z_dim": 2, "eval_samples": 2500}


def ring_centres(n: int = 8, radius: float = 1.0) -> torch.Tensor:
    """n centres evenly spaced on a circle (end point not repeated: n distinct modes)."""
    angles = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1).float()


def grid_centres(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    """side x side centres on a square grid centred at the origin."""
    coords = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    xs, ys = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


def sample_mixture(centres: torch.Tensor, std: float, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n samples of an isotropic Gaussian mixture with uniform priors, and their mode indices."""
    g = torch.Generator().manual_seed(seed)
    modes = torch.randint(len(centres), (n,), generator=g)
    x = centres[modes] + std * torch.randn(n, centres.shape[1], generator=g)
    return x, modes


def mixture_dataset(name: str, centres: torch.Tensor, std: float) -> Dataset:
    x, modes = sample_mixture(centres, std, NUM_SAMPLES, DATA_SEED)
    return Dataset(
        name=name, x=x, labels=modes, kind="points", metrics=POINT_METRICS, main_metric="modes",
        defaults=POINT_DEFAULTS, info={"centres": centres, "std": std},
    )


@DATASETS.register("ring8")
def ring8() -> Dataset:
    """8 Gaussians on the unit circle, std 0.01 (VEEGAN/PacGAN 2D-ring)."""
    return mixture_dataset("ring8", ring_centres(8, 1.0), 0.01)


@DATASETS.register("grid25")
def grid25() -> Dataset:
    """25 Gaussians on a 5x5 grid with spacing 2, std 0.05 (VEEGAN/PacGAN 2D-grid)."""
    return mixture_dataset("grid25", grid_centres(5, 2.0), 0.05)
