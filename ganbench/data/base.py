"""The dataset registry and the `Dataset` record every loader returns."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch

from ganbench.registry import Registry

DATASETS: Registry[Callable[[], "Dataset"]] = Registry("dataset")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Training samples held in memory, with what evaluation and spec defaults need to know about them."""

    name: str
    x: torch.Tensor  # float32; points: N x 2, images: N x C x H x W in [-1, 1]
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


@functools.lru_cache(maxsize=None)
def get_dataset(name: str) -> Dataset:
    """Build (once per process) the registered data set `name`."""
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
        if epoch != self._epoch:
            self._epoch, self._perm = epoch, epoch_permutation(self.data.shape[0], self.seed, epoch)
        self.drawn += 1
        return self._perm[i * self.batch_size : (i + 1) * self.batch_size]

    def next(self) -> torch.Tensor:
        return self.data[self._indices()]

    def next_labelled(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = self._indices()
        return self.data[idx], None if self.labels is None else self.labels[idx]
