"""scikit-learn's real 8x8 handwritten digits (offline), and their stacked three-channel sibling."""
from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import torch

from ganbench.cache import cache_dir, file_safe
from ganbench.data.base import DATASETS, Dataset
from ganbench.files import cached_torch

STACKED_SIZE = 12_800  # Stacked MNIST uses 128k images; the 8x8 sibling uses a tenth
STACKED_SEED = 1000


CACHE_VERSION = 1  # raised when the conversion below changes: part of the cached file's name


def cached_path() -> Path:
    """Where the converted digits are kept: named by scikit-learn's version (read from its metadata, without importing
    it), which ships the data, and by the conversion's version."""
    return cache_dir("data") / f"sklearn-digits-{file_safe(version('scikit-learn'))}-v{CACHE_VERSION}.pt"


def load_digits_tensor() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits as N x 1 x 8 x 8 float32 in [-1, 1] (pixel values 0..16), and their labels. Converted from
    scikit-learn's bundled copy once and kept in the cache: a process that only reads them skips importing
    scikit-learn (1.4 s); the cached tensors are the converted ones, bit for bit."""
    kept = cached_torch(cached_path(), convert_digits)
    return kept["x"], kept["y"]


def convert_digits() -> dict[str, torch.Tensor]:
    """scikit-learn's digits as ganbench's tensors (x, y)."""
    from sklearn.datasets import load_digits  # heavy: scikit-learn, 1.4 s, only to fill the cache

    d = load_digits()
    x = torch.from_numpy(d.images).float().div(16.0).mul(2.0).sub(1.0).unsqueeze(1).contiguous()
    return {"x": x, "y": torch.from_numpy(d.target).long()}


@DATASETS.register("digits")
def digits() -> Dataset:
    """scikit-learn's 1,797 real 8x8 handwritten digits, 10 classes, scaled to [-1, 1]."""
    x, y = load_digits_tensor()
    return Dataset(
        name="digits", x=x, labels=y, kind="image", main_metric="fid",
        metrics=("image-fidelity", "class-modes", "memorization", "ndb"),
        defaults={"arch": "dcgan", "batch_size": 64, "z_dim": 32, "eval_samples": 2000},
        info={"extractor": "ganbench-digits", "num_modes": 10},
    )


def stack_digits(x: torch.Tensor, y: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n images whose three channels are three random digits of the pool; label = 100*a + 10*b + c."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(x), (n, 3), generator=g)
    images = x[idx, 0]  # n x 3 x 8 x 8
    labels = y[idx[:, 0]] * 100 + y[idx[:, 1]] * 10 + y[idx[:, 2]]
    return images.contiguous(), labels


@DATASETS.register("stacked-digits")
def stacked_digits() -> Dataset:
    """Three random 8x8 digits stacked as RGB channels: 1,000 modes (the small sibling of Stacked MNIST)."""
    x, y = load_digits_tensor()
    xs, ys = stack_digits(x, y, STACKED_SIZE, STACKED_SEED)
    return Dataset(
        name="stacked-digits", x=xs, labels=ys, kind="image",
        metrics=("image-fidelity", "class-modes", "memorization", "ndb"),
        main_metric="fid", defaults={"arch": "dcgan", "batch_size": 64, "z_dim": 32, "eval_samples": 10000},
        info={"extractor": "ganbench-stacked-digits", "num_modes": 1000},
    )
