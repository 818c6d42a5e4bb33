"""The real side of every image metric, computed once per data set, extractor (and its weights) and protocol, and
cached on disk: the training images' features, their Frechet statistics and the classifier's class counts
(`reference`), and, apart from them since only precision/recall and density/coverage need them, the k-NN radii of
the real samples those compare against (`radii`). A run then only extracts and scores its own samples (the
real-vs-real distances were most of an MNIST evaluation's time and memory)."""
from __future__ import annotations

import functools

import torch

from ganbench.cache import cache_dir, file_safe
from ganbench.files import cached_torch
from ganbench.data import get_dataset
from ganbench.metrics.fidelity import PR_REAL_MAX, frechet_statistics, knn_radii, pr_real_subset
from ganbench.metrics.features import extract
from ganbench.metrics.features import weights_digest

# Raised when what is stored changes; part of the cache files' names, so an old file is never read as a new one.
REFERENCE_VERSION = 2
PR_K = 3  # Kynkaenniemi et al. 2019
DC_K = 5  # Naeem et al. 2020


def _stem(dataset: str, name: str, fingerprint: str, digest: str) -> str:
    return f"{file_safe(dataset)[:60]}-{fingerprint}-{name}-{digest[:12]}"


@functools.lru_cache(maxsize=4)
def _features(dataset: str, name: str, fingerprint: str, digest: str, device: str) -> dict:
    def compute() -> dict:
        out = extract(name, get_dataset(dataset).x, device)
        stats = frechet_statistics(out["features"])
        return {"features": out["features"], "mu": torch.as_tensor(stats["mu"]), "sigma": torch.as_tensor(stats["sigma"]),
                "class_counts": torch.bincount(out["logits"].argmax(1), minlength=out["logits"].shape[1])}

    path = cache_dir("reference") / f"{_stem(dataset, name, fingerprint, digest)}-v{REFERENCE_VERSION}.pt"
    return cached_torch(path, compute)


@functools.lru_cache(maxsize=4)
def _radii(dataset: str, name: str, fingerprint: str, digest: str, device: str) -> dict:
    feats = _features(dataset, name, fingerprint, digest, device)["features"]

    def compute() -> dict:
        subset = pr_real_subset(len(feats))
        chosen = feats if subset is None else feats[subset]
        pr, dc = knn_radii(chosen, (PR_K, DC_K))
        return {"pr_subset": torch.arange(len(feats)) if subset is None else subset, "pr_radii": pr, "dc_radii": dc}

    protocol = f"k{PR_K}-k{DC_K}-max{PR_REAL_MAX}"  # the subset's seed is fixed in pr_real_subset
    path = cache_dir("reference") / f"{_stem(dataset, name, fingerprint, digest)}-radii-{protocol}-v{REFERENCE_VERSION}.pt"
    return cached_torch(path, compute)


def _key(dataset: str, name: str, device: str) -> tuple[str, str, str, str, str]:
    return dataset, name, get_dataset(dataset).fingerprint, weights_digest(name), device


def reference(dataset: str, name: str, device: str = "cpu") -> dict:
    """The cached real-side statistics of `dataset` in extractor `name`'s space: features (N x d), mu and sigma
    (float64 Frechet statistics), class_counts (argmax of the extractor's logits over the training images)."""
    return _features(*_key(dataset, name, device))


def radii(dataset: str, name: str, device: str = "cpu") -> dict:
    """The cached k-NN radii of precision/recall and density/coverage: pr_subset (indices of the real samples they
    use: all, or a fixed-seed 50,000), pr_radii (k = 3) and dc_radii (k = 5) of that subset."""
    return _radii(*_key(dataset, name, device))
