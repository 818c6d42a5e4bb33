"""Image metrics: FID, KID, precision/recall and an Inception-Score-style score in a registered extractor's
feature space (torch-fidelity's feature-level functions), and mode coverage from its class predictions."""
from __future__ import annotations


import torch

from ganbench.metrics.base import METRICS, EvalContext, MetricValue, kl_divergence
from ganbench.metrics.fidelity import (PR_REAL_MAX, DIVERSITY_SAMPLES, diversity_ratio, frechet_distance, frechet_statistics,
                                       inception_score, kid, knn_radii, pr_scores)
from ganbench.metrics.features import (classifier_of, extractor_meta, extractor_tag, fake_features, feature_extractors,
                                       layers_of)
from ganbench.metrics.reference import DC_K, PR_K, radii, reference

def real_features(dataset: str, name: str, device: str = "cpu") -> dict:
    """The real side of a data set in extractor `name`'s space (features, Frechet statistics, class counts):
    computed once per data set, weights and extractor, and cached on disk (ganbench.metrics.reference)."""

    return reference(dataset, name, device)


def frechet_stats(ref: dict) -> dict:
    """A reference's Frechet statistics as torch-fidelity takes them."""
    return {"mu": ref["mu"].numpy(), "sigma": ref["sigma"].numpy()}


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
             "classifier_accuracy": extractor_meta(name).get("heldout_accuracy"),
             "kl_reference": ctx.data.info.get("mode_reference", "train")}
    tag = extractor_tag(name)
    return [
        MetricValue("modes", int((h_fake > 0).sum()), True, tag, proto),
        MetricValue("kl_modes", kl_divergence(h_fake, h_real), False, tag, proto),
        MetricValue("diversity", diversity_ratio(fake["features"], real["features"]), True, tag,
                    {"n_gen": min(len(ctx.fake), DIVERSITY_SAMPLES), "n_real": min(len(ctx.data), DIVERSITY_SAMPLES)}),
    ]
