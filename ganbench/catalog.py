"""Listings of every registry for `ganbench list`."""
from __future__ import annotations
from ganbench.data import DATASETS
from ganbench.losses import LOSSES
from ganbench.metrics import METRICS
from ganbench.models import ARCHS
from ganbench.presets import PRESETS
from ganbench.registry import load_builtins
from ganbench.spec import list_suites
from ganbench.tricks import TRICKS
from ganbench.launch import EXECUTORS
from ganbench.metrics.protocols import PROTOCOLS
from ganbench.spec.search import DISTRIBUTIONS
from ganbench.stats import TESTS


def listing(kind: str) -> dict[str, str]:
    """name -> one-line description for a registry kind."""

    load_builtins()
    if kind == "suites":
        return list_suites()
    if kind == "losses":  # losses and the presets that are used like them
        out = {e.name: e.description for e in LOSSES.entries()}
        out.update({e.name: f"(preset) {e.description}" for e in PRESETS.entries()})
        return out

    reg = {"presets": PRESETS, "tricks": TRICKS, "archs": ARCHS, "datasets": DATASETS, "metrics": METRICS,
           "protocols": PROTOCOLS, "executors": EXECUTORS, "tests": TESTS,
           "distributions": DISTRIBUTIONS}[kind]
    return {e.name: e.description for e in reg.entries()}
