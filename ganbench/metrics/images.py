"""Image metrics: FID, KID, precision/recall and an Inception-Score-style score in a registered extractor's
feature space (torch-fidelity's feature-level functions), and mode coverage from its class predictions."""
from __future__ import annotations

import functools

import torch
from torch_fidelity.utils import create_feature_extractor

from ganbench.metrics import extractors as _extractors  # noqa: F401  (registers the extractors)
from ganbench.metrics.base import METRICS, EvalContext, MetricValue, kl_divergence
from ganbench.metrics.classifier import load_classifier, quantize
from ganbench.metrics.fidelity import (DIVERSITY_SAMPLES, diversity_ratio, frechet_distance, frechet_statistics,
                                       inception_score, kid, precision_recall)

BATCH = 500


def to_rgb_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images -> uint8 N x 3 x H x W (grayscale tiled to RGB, as torch-fidelity expects)."""
    q = quantize(x)
    return q.expand(-1, 3, -1, -1).contiguous() if q.shape[1] == 1 else q


@functools.lru_cache(maxsize=4)
def extractor(name: str):
    return create_feature_extractor(name, ["features", "logits"], cuda=False, verbose=False)


def extract(name: str, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Features and logits of [-1, 1] images with the registered extractor `name`."""
    ex = extractor(name)
    feats, logits = [], []
    with torch.no_grad():
        for chunk in to_rgb_uint8(images).split(BATCH):
            f, l = ex(chunk)
            feats.append(f)
            logits.append(l)
    return {"features": torch.cat(feats), "logits": torch.cat(logits)}


def extractor_tag(name: str) -> str:
    """Extractor name with a short hash of its weights: the feature space a number belongs to."""
    return f"{name}@{load_classifier()[1]['sha256'][:8]}"


@functools.lru_cache(maxsize=4)
def real_features(dataset: str, name: str) -> dict[str, torch.Tensor]:
    from ganbench.data import get_dataset

    out = extract(name, get_dataset(dataset).x)
    out["stats"] = frechet_statistics(out["features"])
    return out


def fake_features(ctx: EvalContext, name: str) -> dict[str, torch.Tensor]:
    key = f"features:{name}"
    if key not in ctx.cache:
        ctx.cache[key] = extract(name, ctx.fake.cpu())
    return ctx.cache[key]


@METRICS.register("image-fidelity")
def image_fidelity(ctx: EvalContext) -> list[MetricValue]:
    """FID, KID, precision/recall (k=3) and IS in the data set's extractor space, generated vs all training images."""
    name = ctx.data.info["extractor"]
    real, fake = real_features(ctx.data.name, name), fake_features(ctx, name)
    tag = extractor_tag(name)
    proto = {"n_gen": len(ctx.fake), "n_real": len(ctx.data), "reference": "train", "quantized": "uint8"}
    precision, recall = precision_recall(fake["features"], real["features"], k=3)
    return [
        MetricValue("fid", frechet_distance(frechet_statistics(fake["features"]), real["stats"]), False, tag, proto),
        MetricValue("kid", kid(fake["features"], real["features"]), False, tag, {**proto, "subset_size": 1000, "subsets": 100}),
        MetricValue("precision", precision, True, tag, {**proto, "k": 3}),
        MetricValue("recall", recall, True, tag, {**proto, "k": 3}),
        MetricValue("is", inception_score(fake["logits"]), True, tag, {**proto, "splits": 10}),
    ]


def class_histograms(data, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """How many generated and how many training images the data set's classifier assigns to each of its modes."""
    k = data.info["num_modes"]
    real_logits = real_features(data.name, data.info["extractor"])["logits"]
    return torch.bincount(fake_logits.argmax(1), minlength=k), torch.bincount(real_logits.argmax(1), minlength=k)


@METRICS.register("class-modes")
def class_modes(ctx: EvalContext) -> list[MetricValue]:
    """Modes covered (classes predicted at least once), KL(generated class histogram || real histogram), and the
    diversity ratio in the extractor's feature space (mean pairwise distance, generated over real; near 0:
    collapsed)."""
    name = ctx.data.info["extractor"]
    real, fake = real_features(ctx.data.name, name), fake_features(ctx, name)
    h_fake, h_real = class_histograms(ctx.data, fake["logits"])
    k = len(h_real)
    proto = {"n_gen": len(ctx.fake), "num_modes": k, "min_count": 1, "classifier_accuracy": load_classifier()[1]["heldout_accuracy"]}
    tag = extractor_tag(name)
    return [
        MetricValue("modes", int((h_fake > 0).sum()), True, tag, proto),
        MetricValue("kl_modes", kl_divergence(h_fake, h_real), False, tag, proto),
        MetricValue("diversity", diversity_ratio(fake["features"], real["features"]), True, tag,
                    {"n_gen": min(len(ctx.fake), DIVERSITY_SAMPLES), "n_real": min(len(ctx.data), DIVERSITY_SAMPLES)}),
    ]
