"""Memorization: how many generated images sit closer to a training image than training images sit to each other.

For every training image, the distance to its nearest other training image (leave-one-out); its 5th percentile is
the threshold. A generated image is "memorized" when its nearest training image is nearer than that. Fresh samples
from the data distribution score about 0.05 (by construction of the threshold), copies of training images 1.
Measured in pixel space and in the data set's classifier feature space."""
from __future__ import annotations

import functools

import torch

from ganbench.metrics.base import METRICS, EvalContext, MetricValue
from ganbench.data import get_dataset
from ganbench.metrics.features import extractor_tag, fake_features
from ganbench.metrics.images import real_features

QUANTILE = 0.05
CHUNK = 1024


def nearest_distances(a: torch.Tensor, b: torch.Tensor, leave_one_out: bool = False) -> torch.Tensor:
    """For each row of a, the Euclidean distance to its nearest row of b (itself excluded when a is b)."""
    a, b = a.flatten(1).float(), b.flatten(1).float()
    out = []
    for start in range(0, len(a), CHUNK):
        d = torch.cdist(a[start:start + CHUNK], b)
        if leave_one_out:
            idx = torch.arange(start, min(start + CHUNK, len(a)))
            d[idx - start, idx] = float("inf")
        out.append(d.min(1).values)
    return torch.cat(out)


def memorized_share(fake: torch.Tensor, train: torch.Tensor, threshold: float) -> float:
    """The share of generated samples whose nearest training sample is nearer than `threshold`."""
    return float((nearest_distances(fake, train) < threshold).double().mean())


def train_threshold(train: torch.Tensor, q: float = QUANTILE) -> float:
    """The q-quantile of the training samples' leave-one-out nearest-neighbour distances."""
    return float(torch.quantile(nearest_distances(train, train, leave_one_out=True).double(), q))


@functools.lru_cache(maxsize=4)
def _pixel_threshold(dataset: str) -> float:
    return train_threshold(get_dataset(dataset).floats())


@functools.lru_cache(maxsize=4)
def _feature_threshold(dataset: str, extractor: str) -> float:
    return train_threshold(real_features(dataset, extractor)["features"])


@METRICS.register("memorization")
def memorization(ctx: EvalContext) -> list[MetricValue]:
    """Share of generated images nearer to a training image than 95% of training images are to their nearest
    neighbour, in pixels and in the classifier's feature space (about 0.05 for new samples, 1 for copies)."""

    name = ctx.data.info["extractor"]
    proto = {"n_gen": len(ctx.fake), "n_train": len(ctx.data), "quantile": QUANTILE, "reference": "train"}
    pixels = memorized_share(ctx.fake, ctx.data.floats(), _pixel_threshold(ctx.data.name))
    feats = memorized_share(fake_features(ctx, name)["features"], real_features(ctx.data.name, name)["features"],
                            _feature_threshold(ctx.data.name, name))
    return [MetricValue("memorized", pixels, False, "pixels", proto),
            MetricValue("memorized", feats, False, extractor_tag(name), proto)]
