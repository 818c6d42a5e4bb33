"""One run end to end: claim its directory, train (resuming), evaluate, write metrics.json last."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from ganbench import health, store
from ganbench.build import build
from ganbench.evaluate import evaluate, metrics_record, save_samples_picture, truncation_curve
from ganbench.spec import RunSpec
from ganbench.train import ExecOptions, train

DEFAULT_THREADS = 1  # CPU results are bit-identical for a fixed thread count; 1 per worker process


def execute(spec: RunSpec, path: Path, opts: ExecOptions = ExecOptions()) -> dict | None:
    """Run `spec` in `path` unless finished; returns metrics.json's content (None if stopped early)."""
    path = Path(path)
    if store.is_finished(path):
        return store.read_json(path / store.METRICS)
    with store.claim(path):
        if (path / store.METRICS).exists():  # present but unreadable: keep it, redo the run
            store.set_aside(path / store.METRICS, "is unreadable")
        store.prepare(path, spec)
        t0 = time.perf_counter()
        s = build(spec, opts.device)
        if not train(s, path, opts):
            return None
        values, fake = evaluate(s) if s.diverged_at is None else ([], None)
        record = metrics_record(s, values, time.perf_counter() - t0)
        record["health"] = health.verdict(record, store.read_history(path), store.read_history(path, store.SPECTRA))
        if s.diverged_at is not None:  # no samples worth scoring: the run counts as diverged, with no metrics
            store.write_json(path / store.METRICS, record)
            return record
        save_samples_picture(s, fake, path / store.SAMPLES)
        curve = truncation_curve(s)
        if curve is not None:
            import pandas as pd

            store.write_text(path / store.TRUNCATION, pd.DataFrame(curve).to_csv(index=False))
        store.write_json(path / store.METRICS, record)
        return record


def set_threads(n: int | None = DEFAULT_THREADS) -> None:
    if n:
        torch.set_num_threads(n)
