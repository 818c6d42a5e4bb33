"""The real side of every image metric, computed once per data set, extractor (and its weights) and protocol, and
cached on disk: the training images' features, their Frechet statistics, the k-NN radii that precision/recall and
density/coverage compare against, and the classifier's class histogram. A run then only extracts and scores its own
samples (the real-vs-real distances were most of an MNIST evaluation's time and memory)."""
from __future__ import annotations

import functools

import torch

from ganbench.cache import cache_dir, file_safe

# Raised when what is stored changes; part of the cache file's name, so an old file is never read as a new one.
REFERENCE_VERSION = 2
PR_K = 3  # Kynkaenniemi et al. 2019
DC_K = 5  # Naeem et al. 2020


def _compute(dataset: str, name: str, device: str) -> dict:
    from ganbench.data import get_dataset
    from ganbench.metrics.fidelity import frechet_statistics, knn_radii, pr_real_subset
    from ganbench.metrics.images import extract

    out = extract(name, get_dataset(dataset).x, device)
    feats = out["features"]
    subset = pr_real_subset(len(feats))
    pr_feats = feats if subset is None else feats[subset]
    stats = frechet_statistics(feats)
    return {"features": feats, "mu": torch.as_tensor(stats["mu"]), "sigma": torch.as_tensor(stats["sigma"]),
            "pr_subset": torch.arange(len(feats)) if subset is None else subset,
            "pr_radii": knn_radii(pr_feats, PR_K), "dc_radii": knn_radii(pr_feats, DC_K),
            "class_counts": torch.bincount(out["logits"].argmax(1), minlength=out["logits"].shape[1])}


@functools.lru_cache(maxsize=4)
def _load(dataset: str, name: str, fingerprint: str, digest: str, device: str) -> dict:
    from ganbench.store import load_torch, save_torch

    path = cache_dir("reference") / f"{file_safe(dataset)[:60]}-{fingerprint}-{name}-{digest[:12]}-v{REFERENCE_VERSION}.pt"
    if path.exists():
        try:
            return load_torch(path)
        except Exception:  # unreadable (a disk error, a foreign file): recompute and replace it
            pass
    ref = _compute(dataset, name, device)
    save_torch(path, ref)  # temporary file + rename: concurrent workers at worst compute it twice
    return ref


def reference(dataset: str, name: str, device: str = "cpu") -> dict:
    """The cached real-side statistics of `dataset` in extractor `name`'s space: features (N x d), mu and sigma
    (float64 Frechet statistics), pr_subset (indices of the real samples precision/recall use), pr_radii (k=3) and
    dc_radii (k=5) of that subset, class_counts (argmax of the extractor's logits over the training images)."""
    from ganbench.data import get_dataset
    from ganbench.metrics.extractors import weights_digest

    return _load(dataset, name, get_dataset(dataset).fingerprint, weights_digest(name), device)
