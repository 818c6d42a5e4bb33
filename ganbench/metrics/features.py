"""Feature extraction for image metrics: which registered extractor scores a data set (Inception-v3, VGG16, or the
set's own classifier), its layers, its weights on this machine, and the features and logits of a batch of images.
torch-fidelity stays behind ganbench.metrics.extractors, imported on first use."""
from __future__ import annotations

import functools
import os

import torch

from ganbench.data import get_dataset
from ganbench.data.base import scored_with
from ganbench.env import FEATURES_ENV
from ganbench.errors import MetricError
from ganbench.metrics.base import EvalContext
from ganbench.metrics.classifier import quantize

BATCH = 500  # images per extractor call for ganbench's own small extractors
BATCH_LARGE = 64  # and for the ImageNet-sized networks (torch-fidelity's default batch)


def _extractors():
    """ganbench.metrics.extractors: the one door to torch-fidelity (it registers ganbench's extractors there).
    Imported on first use, not with this module: torch-fidelity imports torchvision and CLIP (about 1.6 s), which
    `ganbench list`, dry runs and every command that computes no image metric need not pay."""
    from ganbench.metrics import extractors  # heavy: torch-fidelity, torchvision, CLIP (1.6 s)

    return extractors


def _registry() -> dict:
    """torch-fidelity's feature-extractor registry, ganbench's own extractors included."""
    return _extractors().FEATURE_EXTRACTORS_REGISTRY


def extractor_names() -> list[str]:
    """Every feature extractor torch-fidelity knows, ganbench's own included."""
    return sorted(_registry())


def to_rgb_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images (or uint8 ones) -> uint8 N x 3 x H x W (grayscale tiled to RGB, as torch-fidelity expects)."""
    q = quantize(x)
    return q.expand(-1, 3, -1, -1).contiguous() if q.shape[1] == 1 else q


def feature_extractors(data) -> tuple[str, str]:
    """(extractor of FID/KID/IS, extractor of precision/recall) of an image data set: Inception-v3 and VGG16 for the
    paper-scale sets (or the one named by $GANBENCH_FEATURES / --feature-extractor), the data set's own otherwise."""
    name = data.info["extractor"]
    pr = data.info.get("pr_extractor", name)
    override = os.environ.get(FEATURES_ENV)
    if override and "pr_extractor" in data.info:
        if _extractors().registered(override) is None:
            raise MetricError(f"unknown feature extractor {override!r} in ${FEATURES_ENV}; registered: "
                              f"{', '.join(sorted(_registry()))}")
        return override, override
    return name, pr


def check_weights(specs) -> None:
    """Before any training: every feature extractor the runs' evaluation needs has its weights on this machine (or
    may download them). Offline without Inception/VGG16 weights: one MetricError line naming both ways out (a
    local weights file, or another feature space such as the data set's own classifier)."""

    needed: dict[str, object] = {}
    for spec in specs:
        data = scored_with(get_dataset(spec.dataset), spec.features)
        if data.kind == "image" and data.info.get("extractor"):
            for name in (*feature_extractors(data), *([classifier_of(data)] if "num_modes" in data.info else [])):
                needed.setdefault(name, data)
    for name, data in needed.items():
        if _extractors().is_own(name):  # a labelled set's mode counter: trained here, once, before any worker needs it
            _extractors().weights_digest(name)
            continue
        try:
            _extractors().weights_file(name)
        except MetricError as e:
            own = data.info.get("classifier")
            other = f"--feature-extractor {own} (the data set's own classifier)" if own else "--feature-extractor NAME"
            raise MetricError(f"{e}; or score {data.name} in another feature space: {other}, or `features:` in "
                              "the suite") from None


def classifier_of(data) -> str:
    """The extractor whose class predictions count a data set's modes (its FID extractor unless it names one)."""
    return data.info.get("classifier", data.info["extractor"])


def layers_of(name: str) -> tuple[str, str]:
    """(FID/KID layer, IS layer) of a registered extractor, by its own defaults (Inception: pool3 2048-d and the
    unbiased logits)."""
    cls = _extractors().registered(name)
    return cls.get_default_feature_layer_for_metric("fid"), cls.get_default_feature_layer_for_metric("isc")


def extractor(name: str, device: str = "cpu"):
    """The registered extractor `name` on `device`, built once per weights file (a change of weights in the same
    process, e.g. --feature-weights NAME=FILE, builds it anew)."""
    return _extractor(name, device, _extractors().weights_digest(name))


@functools.lru_cache(maxsize=4)
def _extractor(name: str, device: str, digest: str):
    path = _extractors().weights_file(name)
    if path is not None:
        _extractors().weights_digest(name)  # refuses a file that is not a plain state dict before torch-fidelity loads it
    fid_layer, isc_layer = layers_of(name)
    layers = [fid_layer] + ([isc_layer] if isc_layer != fid_layer else [])
    kwargs = {"feature_extractor_weights_path": str(path)} if path is not None else {}
    ex = _extractors().create_feature_extractor(name, layers, cuda=False, verbose=False, **kwargs)
    return ex.to(device)


def extract(name: str, images: torch.Tensor, device: str = "cpu") -> dict[str, torch.Tensor]:
    """Features (the FID layer) and logits (the IS layer) of [-1, 1] or uint8 images with the registered extractor
    `name`, computed on `device` in batches; returned on the CPU."""
    ex = extractor(name, device)
    two = layers_of(name)[0] != layers_of(name)[1]
    feats, logits = [], []
    batch = BATCH if _extractors().is_own(name) else BATCH_LARGE
    with torch.no_grad():
        for chunk in images.split(batch):
            out = ex(to_rgb_uint8(chunk.to(device)))
            feats.append(out[0].float().cpu())
            logits.append((out[1] if two else out[0]).float().cpu())
    return {"features": torch.cat(feats), "logits": torch.cat(logits)}


def extractor_tag(name: str) -> str:
    """Extractor name with a short hash of its weights: the feature space a number belongs to."""
    return _extractors().tag(name)


def extractor_meta(name: str) -> dict:
    """What is known about extractor `name`'s weights (a trained classifier's held-out accuracy, ...)."""
    return _extractors().meta(name)


def weights_digest(name: str) -> str:
    """SHA-256 of extractor `name`'s weights (its file, or ganbench's own trained classifier)."""
    return _extractors().weights_digest(name)


def fake_features(ctx: EvalContext, name: str) -> dict[str, torch.Tensor]:
    key = f"features:{name}"
    if key not in ctx.cache:
        ctx.cache[key] = extract(name, ctx.fake, ctx.device)
    return ctx.cache[key]
