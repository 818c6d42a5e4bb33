"""Retraining ganbench's own feature extractors (the shipped weights were made by this code, with one thread)."""
from __future__ import annotations

from pathlib import Path

import torch

from ganbench import __version__
from ganbench.data import get_dataset
from ganbench.errors import GanbenchError
from ganbench.metrics import classifier, labels, mnist, pinned

TRAINERS = {classifier.NAME: classifier.train_and_record, mnist.NAME: mnist.train_and_record}


def check_name(name: str) -> None:
    """`name` is an extractor ganbench can train: a digit classifier, or the mode counter of a labelled data set
    (ganbench-classifier:<set>); else one GanbenchError line."""
    dataset = labels.dataset_of(name)
    if dataset is None and name not in TRAINERS:
        raise GanbenchError(f"extractor {name!r} is not one of {', '.join(TRAINERS)} or {labels.PREFIX}<data set>")
    if dataset is not None and get_dataset(dataset).info.get("classifier") != name:  # the set names its counter
        raise GanbenchError(f"data set {dataset!r} has no class labels (or more than {labels.MAX_CLASSES} classes) "
                            "to train a mode counter on")


def train(name: str, out: Path) -> dict:
    """Train extractor `name` (one of TRAINERS, or ganbench-classifier:<set>) from scratch with one CPU thread and
    write its state dict and record at `out`."""
    dataset = labels.dataset_of(name)
    trainer = TRAINERS[name] if dataset is None else (lambda: labels.train_and_record(dataset))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net, record = trainer()
    finally:
        torch.set_num_threads(threads)
    record = {"name": name, **record, "torch": torch.__version__, "ganbench": __version__}
    return pinned.write(Path(out), net.state_dict(), record)
