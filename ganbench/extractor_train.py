"""Retraining ganbench's own feature extractors (the shipped weights were made by this code, with one thread)."""
from __future__ import annotations

from pathlib import Path

import torch

from ganbench import __version__
from ganbench.metrics import classifier, labels, mnist, pinned

TRAINERS = {classifier.NAME: classifier.train_and_record, mnist.NAME: mnist.train_and_record}


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
