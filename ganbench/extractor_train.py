"""Retraining ganbench's own feature extractors (the shipped weights were made by this code, with one thread)."""
from __future__ import annotations

from pathlib import Path

import torch

from ganbench import __version__
from ganbench.metrics import classifier, mnist, pinned

TRAINERS = {classifier.NAME: classifier.train_and_record, mnist.NAME: mnist.train_and_record}


def train(name: str, out: Path) -> dict:
    """Train extractor `name` from scratch with one CPU thread and write its state dict and record at `out`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net, record = TRAINERS[name]()
    finally:
        torch.set_num_threads(threads)
    record = {"name": name, **record, "torch": torch.__version__, "ganbench": __version__}
    return pinned.write(Path(out), net.state_dict(), record)
