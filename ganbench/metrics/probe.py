"""The quality probe's scores (ganbench.quality runs it during training): the Frechet distance of a batch of
generated samples to two disjoint halves of the training data, drawn once with a fixed seed, in the data set's
probe feature space (its classifier's features for image sets with a registered extractor, the raw values
otherwise), and the modes the samples cover (by the rule of the data set's mode metric)."""
from __future__ import annotations

import math

import torch

from ganbench.data.base import Dataset
from ganbench.metrics.features import classifier_of, extract, extractor_tag, feature_extractors, weights_digest
from ganbench.metrics.fidelity import frechet_distance, frechet_statistics
from ganbench.metrics.images import class_histograms, real_features
from ganbench.metrics.points import mode_statistics

SPLIT_SEED = 4_241  # the halves of the training data


SPLIT_SEED = 4_241  # the halves of the training data


def halves(n: int, seed: int = SPLIT_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of two disjoint halves of n training samples (A: the first n // 2 of a fixed permutation)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[: n // 2], perm[n // 2 :]


def feature_space(data: Dataset) -> tuple[str, str]:
    """(metric name, feature tag) of a data set's probe: FID in its classifier's features for image sets with a
    registered extractor, the Frechet distance of the raw values (coordinates, pixels) otherwise."""
    if data.info.get("extractor"):
        return "fid", extractor_tag(feature_extractors(data)[0])
    return "fd", "coords" if data.kind == "points" else "pixels"


def features_and_modes(data: Dataset, x: torch.Tensor, device: str = "cpu") -> tuple[torch.Tensor, int | None]:
    """Samples in the probe's feature space, and how many of the data set's modes they cover by the rule of its
    mode metric (None without modes): samples within 3 std of a mixture component, or classifier classes."""
    if data.info.get("extractor"):
        name = feature_extractors(data)[0]
        out = extract(name, x, device)
        if "num_modes" not in data.info:
            return out["features"], None
        logits = out["logits"] if classifier_of(data) == name else extract(classifier_of(data), x, device)["logits"]
        return out["features"], int((class_histograms(data, logits, device)[0] > 0).sum())
    if "centres" in data.info:
        return x.flatten(1), int(mode_statistics(x, data.info["centres"], data.info["std"])["modes"])
    return x.flatten(1), None


_REFERENCES: dict[tuple, tuple[dict, dict]] = {}  # (data set, device, extractor, its weights) -> the halves' statistics


def reference(data: Dataset, device: str = "cpu", extractor: str | None = None) -> tuple[dict, dict]:
    """Frechet statistics of half A and half B of a data set's training samples, in extractor `extractor`'s
    feature space (None: the raw values); computed once per data set, extractor and its weights in a process."""
    key = (data.name, device, extractor, weights_digest(extractor) if extractor else "")
    if key not in _REFERENCES:
        feats = real_features(data.name, extractor, device)["features"] if extractor else data.floats().flatten(1)
        a, b = halves(len(feats))
        if len(_REFERENCES) >= 8:
            _REFERENCES.pop(next(iter(_REFERENCES)))
        _REFERENCES[key] = frechet_statistics(feats[a]), frechet_statistics(feats[b])
    return _REFERENCES[key]


def scores(data: Dataset, fake: torch.Tensor, device: str = "cpu") -> dict[str, float]:
    """{"select": distance to half A, "report": distance to half B, "modes": modes covered (NaN for a data set
    without modes)} of generated samples `fake`; every value NaN when a sample is not finite."""
    if not torch.isfinite(fake).all():
        return {"select": math.nan, "report": math.nan, "modes": math.nan}
    extractor = feature_extractors(data)[0] if data.info.get("extractor") else None
    ref_a, ref_b = reference(data, device, extractor)
    feats, modes = features_and_modes(data, fake, device)
    stats = frechet_statistics(feats)
    return {"select": frechet_distance(stats, ref_a), "report": frechet_distance(stats, ref_b),
            "modes": math.nan if modes is None else float(modes)}
