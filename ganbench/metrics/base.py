"""The metrics registry: each entry maps an evaluation context to named values with their protocol."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from ganbench.data.base import Dataset
from ganbench.registry import Registry


@dataclass(frozen=True)
class MetricValue:
    """One number, whether higher is better, and the protocol that produced it (features, sample counts)."""

    name: str
    value: float
    higher_is_better: bool
    features: str = ""  # feature space, e.g. "coords" or "ganbench-digits@1a2b3c4d"; FIDs of different spaces never share a column
    protocol: dict[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str:
        return f"{self.name} [{self.features}]" if self.features else self.name


@dataclass
class EvalContext:
    """Generated samples of a run and its data set; feature passes are cached per extractor."""

    data: Dataset
    fake: torch.Tensor  # N x sample_shape, same scale as data.x
    seed: int
    device: str = "cpu"
    cache: dict[str, Any] = field(default_factory=dict)


METRICS: Registry[Callable[[EvalContext], list[MetricValue]]] = Registry("metric")


def kl_divergence(p: torch.Tensor, q: torch.Tensor, eps: float = 1e-10) -> float:
    """KL(p || q) of two histograms (normalised here); empty bins of p contribute nothing."""
    p = p.double() / p.sum()
    q = q.double() / q.sum()
    mask = p > 0
    return float((p[mask] * (p[mask].log() - q[mask].clamp_min(eps).log())).sum())
