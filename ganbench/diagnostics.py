"""What a finished run's generator makes, looked at closely: its samples regenerated from a kept checkpoint
(exactly those the evaluation scored), the histogram of the modes they fall on against the data's, and their
nearest training images in pixel and feature space (what the memorization metric counts)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ganbench import store
from ganbench.build import Setup
from ganbench.spec import RunSpec
from ganbench.evaluate import Sampler, generate
from ganbench.execute import restore_kept
from ganbench.metrics.points import mode_statistics
from ganbench.metrics.features import classifier_of, extract
from ganbench.metrics.images import class_histograms, real_features
from ganbench.metrics.memorization import _feature_threshold, _pixel_threshold


def run_samples(path: Path, checkpoint: str = store.CHECKPOINT) -> tuple[Setup, torch.Tensor, int]:
    """The run's Setup restored from `checkpoint` (checkpoint.pt: the last; best.pt: the probe's choice), the
    evaluation's samples from it (same latents, same count) and the checkpoint's step."""
    path = Path(path)
    spec = RunSpec.from_json(store.read_json(path / store.SPEC))
    s, step = restore_kept(spec, path, checkpoint=checkpoint)
    return s, generate(Sampler.of(s), spec.eval_samples, spec.seed), step


@dataclass
class ModeHistogram:
    """Generated and training samples per mode of a data set (2-D mixture components or classifier classes)."""

    generated: torch.Tensor
    data: torch.Tensor
    unit: str  # what a mode is, for axis labels

    @property
    def covered(self) -> int:
        return int((self.generated > 0).sum())


def mode_histogram(s: Setup, fake: torch.Tensor) -> ModeHistogram | None:
    """Per-mode counts of `fake` and of the training data, by the same rule as the data set's mode metric; None
    for a data set without modes."""
    info = s.data.info
    if "centres" in info:
        gen = torch.tensor(mode_statistics(fake, info["centres"], info["std"])["counts"])
        real = torch.tensor(mode_statistics(s.data.floats(), info["centres"], info["std"])["counts"])
        return ModeHistogram(gen, real, "mixture component (samples within 3 std)")
    if "num_modes" in info and "extractor" in info:
        name = classifier_of(s.data)
        gen, real = class_histograms(s.data, extract(name, fake)["logits"])
        return ModeHistogram(gen, real, f"class of {name}")
    return None


@dataclass
class Neighbours:
    """For the first generated images: the index and distance of their nearest training image, in pixels and in
    the classifier's features, and the memorization thresholds of both spaces."""

    fake: torch.Tensor
    pixel_index: torch.Tensor
    pixel_distance: torch.Tensor
    pixel_threshold: float
    feature_index: torch.Tensor | None
    feature_distance: torch.Tensor | None
    feature_threshold: float | None


def nearest(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index into b and distance of each row of a's nearest row of b (Euclidean, flattened)."""
    d = torch.cdist(a.flatten(1).float(), b.flatten(1).float())
    dist, idx = d.min(1)
    return idx, dist


def neighbours(s: Setup, fake: torch.Tensor, n: int = 16) -> Neighbours:
    """Nearest training images of the first n generated images (image data sets)."""

    fake = fake[:n]
    p_idx, p_dist = nearest(fake, s.data.floats())
    name = s.data.info.get("extractor")
    f_idx = f_dist = f_thr = None
    if name:
        f_idx, f_dist = nearest(extract(name, fake)["features"], real_features(s.data.name, name)["features"])
        f_thr = _feature_threshold(s.data.name, name)
    return Neighbours(fake, p_idx, p_dist, _pixel_threshold(s.data.name), f_idx, f_dist, f_thr)
