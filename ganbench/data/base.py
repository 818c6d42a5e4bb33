"""The dataset registry and the `Dataset` record every loader returns."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch

from ganbench.errors import GanbenchError
from ganbench.registry import Registry
from ganbench.data.files import data_root

DATASETS: Registry[Callable[[], "Dataset"]] = Registry("dataset")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Training samples held in memory, with what evaluation and spec defaults need to know about them."""

    name: str
    x: torch.Tensor  # points: float32 N x 2; images: N x C x H x W, float32 in [-1, 1] or uint8 0..255 (see as_float)
    kind: str  # "points" or "image"
    metrics: tuple[str, ...]  # names in the metrics registry, evaluated in this order
    main_metric: str  # leaderboard column used for ranking
    defaults: Mapping[str, Any]  # run-spec defaults for this data set (arch, batch_size, z_dim, ...)
    labels: torch.Tensor | None = None
    info: Mapping[str, Any] = field(default_factory=dict)  # e.g. mode centres and std for 2-D mixtures

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return self.x.shape[0]

    @functools.cached_property
    def fingerprint(self) -> str:
        """A hash of the samples and labels: caches of real-data features and trained classifiers are keyed by it."""
        if "fingerprint" in self.info:  # prepared copies are named by the hash of their source files and recipe
            return str(self.info["fingerprint"])
        h = hashlib.sha256(f"{self.name} {tuple(self.x.shape)} {self.x.dtype}".encode())
        for t in (self.x, self.labels):
            if t is not None:
                h.update(memoryview(t.contiguous().view(torch.uint8).numpy()))
        return h.hexdigest()[:16]

    def floats(self, index: torch.Tensor | slice | None = None) -> torch.Tensor:
        """Samples (all, or those at `index`) as float32 in [-1, 1]."""
        return as_float(self.x if index is None else self.x[index])


def scored_with(data: Dataset, features: str) -> Dataset:
    """`data` with every image metric (FID/KID/IS, precision/recall, the quality probe) in extractor `features`'s
    space: a run spec's `features` field. The same samples, labels and fingerprint, and the same classifier counts
    its modes."""
    if not features:
        return data
    info = {k: v for k, v in data.info.items() if k != "pr_extractor"}
    classifier = data.info.get("classifier", data.info.get("extractor"))  # modes stay counted by the set's classifier
    extra = {"classifier": classifier} if "num_modes" in data.info and classifier else {}
    return dataclasses.replace(data, info={**info, **extra, "extractor": features, "fingerprint": data.fingerprint})


def as_float(x: torch.Tensor) -> torch.Tensor:
    """Stored samples as float32 in [-1, 1]: uint8 images map 0..255 to [-1, 1]; float samples pass unchanged."""
    return x.float() / 127.5 - 1.0 if x.dtype == torch.uint8 else x


RESIDENT_BYTES = 8 << 30  # training sets up to this size are copied to the accelerator once; larger ones stream


def resident(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The training samples where batches are drawn from: on `device` when they fit, else in (pinned) host memory,
    each batch copied as bytes."""
    if device.type == "cpu" or x.numel() * x.element_size() <= RESIDENT_BYTES:
        return x.to(device)
    return x


def get_dataset(name: str) -> Dataset:
    """The data set `name` ('family:argument' for a parametrised family such as imagefolder:<path>), built once per
    process and data root."""

    return _load(name, str(data_root()))


@functools.lru_cache(maxsize=16)
def _load(name: str, root: str) -> Dataset:
    family, sep, arg = name.partition(":")
    if sep:
        factory = DATASETS.get(family)
        if "arg" not in inspect.signature(factory).parameters:
            raise GanbenchError(f"data set {family!r} takes no argument; write {family!r}, not {name!r}")
        return factory(arg)
    return DATASETS.get(name)()


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of one epoch, a pure function of (seed, epoch) so that training resumes exactly."""
    g = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % (2**63))
    return torch.randperm(n, generator=g)


class BatchSampler:
    """Draws batches epoch by epoch without replacement; its only state is the count of batches drawn.
    With `labels`, `next_labelled` returns each batch's labels too (the same draw)."""

    def __init__(self, data: torch.Tensor, batch_size: int, seed: int, drawn: int = 0,
                 labels: torch.Tensor | None = None):
        if batch_size > data.shape[0]:
            raise ValueError(f"batch size {batch_size} exceeds the {data.shape[0]} samples of the data set")
        self.data, self.batch_size, self.seed, self.drawn = data, batch_size, seed, drawn
        self.labels = labels
        self.per_epoch = data.shape[0] // batch_size
        self._epoch, self._perm = -1, None

    def _indices(self) -> torch.Tensor:
        epoch, i = divmod(self.drawn, self.per_epoch)
        if epoch != self._epoch:  # the permutation lives with the data: drawing a batch never waits on the host
            self._epoch, self._perm = epoch, epoch_permutation(self.data.shape[0], self.seed, epoch).to(self.data.device)
        self.drawn += 1
        return self._perm[i * self.batch_size : (i + 1) * self.batch_size]

    def next(self) -> torch.Tensor:
        return self.data[self._indices()]

    def next_labelled(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = self._indices()
        return self.data[idx], None if self.labels is None else self.labels[idx.to(self.labels.device)]
