"""Image metrics: FID, KID, precision/recall and an Inception-Score-style score in a registered extractor's
feature space (torch-fidelity's feature-level functions), and mode coverage from its class predictions."""
from __future__ import annotations

import functools
import os

import torch

from ganbench.metrics.base import METRICS, EvalContext, MetricValue, kl_divergence
from ganbench.env import FEATURES_ENV
from ganbench.errors import MetricError
from ganbench.metrics.classifier import quantize
from ganbench.metrics.fidelity import (PR_REAL_MAX, DIVERSITY_SAMPLES, diversity_ratio, frechet_distance, frechet_statistics,
                                       inception_score, kid, knn_radii, pr_scores)
from ganbench.metrics.reference import DC_K, PR_K

BATCH = 500  # images per extractor call for ganbench's own small extractors
BATCH_LARGE = 64  # and for the ImageNet-sized networks (torch-fidelity's default batch)


def _extractors():
    """ganbench.metrics.extractors, which registers ganbench's extractors with torch-fidelity. Imported on first use,
    not with this module: torch-fidelity imports torchvision and CLIP (about 1.6 s), which `ganbench list`, dry runs
    and every command that computes no image metric need not pay."""
    from ganbench.metrics import extractors

    return extractors


def _registry() -> dict:
    """torch-fidelity's feature-extractor registry, ganbench's own extractors included."""
    _extractors()
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    return FEATURE_EXTRACTORS_REGISTRY


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
    from ganbench.data import get_dataset
    from ganbench.data.base import scored_with

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
    from torch_fidelity.utils import create_feature_extractor

    path = _extractors().weights_file(name)
    if path is not None:
        _extractors().weights_digest(name)  # refuses a file that is not a plain state dict before torch-fidelity loads it
    fid_layer, isc_layer = layers_of(name)
    layers = [fid_layer] + ([isc_layer] if isc_layer != fid_layer else [])
    kwargs = {"feature_extractor_weights_path": str(path)} if path is not None else {}
    ex = create_feature_extractor(name, layers, cuda=False, verbose=False, **kwargs)
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


def real_features(dataset: str, name: str, device: str = "cpu") -> dict:
    """The real side of a data set in extractor `name`'s space (features, Frechet statistics, class counts):
    computed once per data set, weights and extractor, and cached on disk (ganbench.metrics.reference)."""
    from ganbench.metrics.reference import reference

    return reference(dataset, name, device)


def frechet_stats(ref: dict) -> dict:
    """A reference's Frechet statistics as torch-fidelity takes them."""
    return {"mu": ref["mu"].numpy(), "sigma": ref["sigma"].numpy()}


def fake_features(ctx: EvalContext, name: str) -> dict[str, torch.Tensor]:
    key = f"features:{name}"
    if key not in ctx.cache:
        ctx.cache[key] = extract(name, ctx.fake, ctx.device)
    return ctx.cache[key]


@METRICS.register("image-fidelity")
def image_fidelity(ctx: EvalContext) -> list[MetricValue]:
    """FID, KID, precision/recall (k=3), density/coverage (k=5, Naeem et al. 2020) and IS in the data set's
    extractor space, generated vs all training images (precision/recall and density/coverage against at most 50,000
    of them)."""
    name, pr_name = feature_extractors(ctx.data)
    real, fake = real_features(ctx.data.name, name, ctx.device), fake_features(ctx, name)
    tag = extractor_tag(name)
    proto = {"n_gen": len(ctx.fake), "n_real": len(ctx.data), "reference": "train", "quantized": "uint8",
             "layer": layers_of(name)[0], "resize": RESIZE.get(name, "none")}
    from ganbench.metrics.reference import radii

    pr_real = real if pr_name == name else real_features(ctx.data.name, pr_name, ctx.device)
    pr_radii = radii(ctx.data.name, pr_name, ctx.device)
    pr_fake = fake_features(ctx, pr_name)["features"]
    pr_tag = extractor_tag(pr_name)
    pr_proto = {**proto, "k": PR_K, "layer": layers_of(pr_name)[0], "resize": RESIZE.get(pr_name, "none"),
                "n_real": min(len(ctx.data), PR_REAL_MAX)}
    pr = pr_scores(pr_fake, pr_real["features"][pr_radii["pr_subset"]], pr_radii["pr_radii"], knn_radii(pr_fake, PR_K),
                   pr_radii["dc_radii"], DC_K)
    return [
        MetricValue("fid", frechet_distance(frechet_statistics(fake["features"]), frechet_stats(real)), False, tag, proto),
        MetricValue("kid", kid(fake["features"], real["features"]), False, tag, {**proto, "subset_size": 1000, "subsets": 100}),
        MetricValue("precision", pr["precision"], True, pr_tag, pr_proto),
        MetricValue("recall", pr["recall"], True, pr_tag, pr_proto),
        MetricValue("density", pr["density"], True, pr_tag, {**pr_proto, "k": DC_K}),
        MetricValue("coverage", pr["coverage"], True, pr_tag, {**pr_proto, "k": DC_K}),
        MetricValue("is", inception_score(fake["logits"]), True, tag, {**proto, "layer": layers_of(name)[1], "splits": 10}),
    ]


# How the large extractors bring images to their input size (torch-fidelity's own resizers).
RESIZE = {"inception-v3-compat": "bilinear to 299 (torch-fidelity, TF-1 compatible)", "vgg16": "bilinear to 224 (torch-fidelity)"}


def class_histograms(data, fake_logits: torch.Tensor, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """How many generated images the data set's classifier assigns to each of its modes, and the reference: the
    training images' counts, or equal counts where the protocol compares with the uniform distribution (Stacked
    MNIST: KL to uniform over the 1,000 modes, as PacGAN reports it)."""
    k = data.info["num_modes"]
    fake = torch.bincount(fake_logits.argmax(1), minlength=k)
    if data.info.get("mode_reference") == "uniform":
        return fake, torch.ones(k, dtype=torch.long)
    return fake, real_features(data.name, classifier_of(data), device)["class_counts"][:k]


@METRICS.register("feature-diversity")
def feature_diversity(ctx: EvalContext) -> list[MetricValue]:
    """The diversity ratio (mean pairwise distance among generated samples over that among real ones) in the data
    set's FID features: the collapse statistic of image sets without a classifier (near 0: collapsed)."""
    name = feature_extractors(ctx.data)[0]
    real, fake = real_features(ctx.data.name, name, ctx.device), fake_features(ctx, name)
    return [MetricValue("diversity", diversity_ratio(fake["features"], real["features"]), True, extractor_tag(name),
                        {"n_gen": min(len(ctx.fake), DIVERSITY_SAMPLES), "n_real": min(len(ctx.data), DIVERSITY_SAMPLES),
                         "layer": layers_of(name)[0]})]


@METRICS.register("class-modes")
def class_modes(ctx: EvalContext) -> list[MetricValue]:
    """Modes covered (classes predicted at least once), KL(generated class histogram || real histogram), and the
    diversity ratio in the extractor's feature space (mean pairwise distance, generated over real; near 0:
    collapsed)."""
    name = classifier_of(ctx.data)
    real, fake = real_features(ctx.data.name, name, ctx.device), fake_features(ctx, name)
    h_fake, h_real = class_histograms(ctx.data, fake["logits"], ctx.device)
    k = len(h_real)
    proto = {"n_gen": len(ctx.fake), "num_modes": k, "min_count": 1,
             "classifier_accuracy": _extractors().meta(name).get("heldout_accuracy"),
             "kl_reference": ctx.data.info.get("mode_reference", "train")}
    tag = extractor_tag(name)
    return [
        MetricValue("modes", int((h_fake > 0).sum()), True, tag, proto),
        MetricValue("kl_modes", kl_divergence(h_fake, h_real), False, tag, proto),
        MetricValue("diversity", diversity_ratio(fake["features"], real["features"]), True, tag,
                    {"n_gen": min(len(ctx.fake), DIVERSITY_SAMPLES), "n_real": min(len(ctx.data), DIVERSITY_SAMPLES)}),
    ]
