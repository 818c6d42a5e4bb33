"""A run's identity: RunSpec (every field that changes the numbers), its canonical JSON, hash and run_id."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping
from ganbench.models.base import arch_defaults
from ganbench.registry import load_builtins
from ganbench.tricks.base import TRICKS




RUN_ID_LABEL = 160  # characters of a run_id's readable prefix (a long image-folder path must not exceed a file name)


@dataclass(frozen=True)
class TrickSpec:
    """A trick name with its parameters (sorted), as stored in a run spec."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines a run's numbers; its canonical JSON hashes to the run_id."""

    dataset: str
    loss: str
    method: str  # leaderboard label: the loss or preset name, plus any added tricks
    arch: str
    arch_options: dict[str, Any]
    tricks: tuple[TrickSpec, ...]
    seed: int
    steps: int
    batch_size: int
    z_dim: int
    optimizer: str
    lr_g: float
    lr_d: float
    beta1: float
    beta2: float
    eval_samples: int
    log_every: int
    # Observation settings: what is measured along the way, never the trained numbers (tested), so they are not
    # part of the run's identity; a run directory keeps the settings it started with.
    quality_every: int = 0  # score a fixed-latent probe every this many steps (0: never); see ganbench.quality
    quality_samples: int = 2000  # generated samples per probe
    # Published evaluation protocols scored beside the data set's own metrics (ganbench.metrics.protocols); part of
    # the run's identity when given (its metrics.json holds their numbers), left out of it when empty.
    protocols: tuple[str, ...] = ()
    # Which of its cell's hyper-parameter samples the run is (a suite's `search:`, ganbench.spec.search); None outside a
    # search. Part of the run's identity from sample 1 on; sample 0 is identified by its values alone, so a cell's
    # own settings (the base sample) keep the run_id they had before the suite had a search.
    hp_sample: int | None = None
    # The feature extractor every image metric of the run uses (e.g. ganbench-mnist for MNIST on a machine without
    # Inception weights); empty: the data set's own. Part of the run's identity when given.
    features: str = ""

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["tricks"] = [t.to_json() for t in self.tricks]
        d["arch_options"] = dict(sorted(self.arch_options.items()))
        d["protocols"] = list(self.protocols)
        return d

    def canonical(self) -> str:
        """The spec's identity as canonical JSON: every field except the observation settings and architecture
        options left at their default (so adding an option with a default that keeps the old behaviour never
        changes existing run_ids)."""
        return json.dumps(identity(self.to_json()), sort_keys=True, separators=(",", ":"))

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()

    @property
    def run_id(self) -> str:
        """Readable prefix + hash of the canonical spec: equal specs share a run directory."""
        sample = f"-h{self.hp_sample}" if self.hp_sample else ""
        label = re.sub(r"[^a-zA-Z0-9_.+-]", "_", f"{self.dataset}-{self.method}-s{self.seed}{sample}")
        return f"{label[:RUN_ID_LABEL]}-{self.digest[:10]}"  # a directory name: [a-zA-Z0-9_.+-], at most 171 characters

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> "RunSpec":
        d = dict(d)
        d["tricks"] = tuple(TrickSpec(t["name"], tuple(sorted(t["params"].items()))) for t in d["tricks"])
        d["protocols"] = tuple(d.get("protocols", ()))
        return RunSpec(**d)


OBSERVATION_FIELDS = ("quality_every", "quality_samples")


def identity(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec dictionary without its observation settings, with architecture options at their default value left
    out, and without empty protocols or a hyper-parameter sample of None or 0 (fields added later, absent from
    earlier runs)."""

    load_builtins()
    defaults = arch_defaults(spec["arch"])
    out = {k: v for k, v in spec.items()
           if k not in OBSERVATION_FIELDS and not (k in ("protocols", "hp_sample", "features") and not v)}
    out["arch_options"] = {k: v for k, v in sorted(spec["arch_options"].items())
                           if k not in defaults or defaults[k] != v}

    missing = object()
    out["tricks"] = [{"name": t["name"], "params": {k: v for k, v in t["params"].items()
                                                    if TRICKS.get(t["name"]).late_params.get(k, missing) != v}}
                     for t in spec["tricks"]]
    return out
