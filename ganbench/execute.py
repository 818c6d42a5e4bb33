"""One run end to end: claim its directory, train (resuming), evaluate, write metrics.json last."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from ganbench import health, memory, quality, store
from ganbench.build import Setup, build
from ganbench.evaluate import (DRAW_STRIDE, EVAL_SEED_OFFSET, METRICS_VERSION, metrics_record, save_samples_picture,
                               Sampler, sampling_curve, score)
from ganbench.spec import RunSpec
from ganbench.errors import ResultsError
from ganbench.execution import ExecOptions, check_device, set_threads
from ganbench.metrics.features import check_weights
from ganbench.files import write_csv
from ganbench.checkpoint import restore
from ganbench.train import train

def execute(spec: RunSpec, path: Path, opts: ExecOptions = ExecOptions()) -> dict | None:
    """Run `spec` in `path` unless finished; returns metrics.json's content (None if stopped early)."""
    path = Path(path)
    if store.is_finished(path):
        store.same_spec(path, spec)  # a finished run of another spec is never returned as this one's
        return store.read_json(path / store.METRICS)
    with store.claim(path):
        if store.is_finished(path):  # finished by another process between the check above and the claim
            return store.read_json(path / store.METRICS)
        if (path / store.METRICS).exists():  # present but unreadable: keep it, redo the run
            store.set_aside(path / store.METRICS, "is unreadable")
        spec = store.prepare(path, spec)
        device = torch.device(opts.device)
        memory.reset_peak(device)  # peak memory is reported per run and phase
        t0 = time.perf_counter()
        s = build(spec, opts.device)
        if not train(s, path, opts):
            return None
        s.timings["peak_train_mib"] = memory.peak_mib(device)
        return finish(s, path, time.perf_counter() - t0)


def finish(s: Setup, path: Path, took: float) -> dict:
    """Evaluate a trained run (`took`: the seconds spent on it so far in this process, its share of a batched
    group's) and write its metrics.json, last; returns its content."""
    t_eval = time.perf_counter()
    with memory.peak_of(s.device, s.timings, "peak_eval_mib"):
        values, fake = score(s) if s.diverged_at is None else ([], None)
    s.timings.update(eval_s=time.perf_counter() - t_eval,
                     wall_s=took + time.perf_counter() - t_eval + s.timings.pop("resumed_s", 0.0))  # over resumptions
    record = metrics_record(s, values, s.timings)
    curve = None
    if s.diverged_at is None:  # else no samples worth showing: the run counts as diverged, with no metrics
        save_samples_picture(s, fake, path / store.SAMPLES)
        curve = sampling_curve(Sampler.of(s), s.data, s.spec)
    record["health"] = health.run_verdict(path, record)
    record["checkpoints"] = quality.checkpoints(path, s.data)
    if curve is not None:
        write_csv(path / store.TRUNCATION, curve, list(curve[0]))
    store.write_json(path / store.METRICS, record)
    return record


def execute_here(spec: RunSpec, path: Path, opts: ExecOptions = ExecOptions()) -> dict | None:
    """`ganbench run`: check everything a user can get wrong first, each one line before any training (the device,
    that `path` is a writable run directory not holding another spec's run, the feature extractors' weights on
    this machine), then execute the run in this process."""
    check_device(opts.device)
    store.writable_dir(path, "--out")
    if not store.is_finished(path):  # a finished run is only read back (execute first checks it is this spec's)
        check_weights([spec])  # offline without the weights
    set_threads()
    return execute(spec, path, opts)


def restore_kept(spec: RunSpec, path: Path, device: str = "cpu", checkpoint: str = store.CHECKPOINT) -> tuple[Setup, int]:
    """A run rebuilt and restored from a checkpoint it keeps, and that checkpoint's step: checkpoint.pt (the final
    state, or checkpoint.prev.pt when the last is damaged; its step must be the spec's last) or best.pt (the quality
    probe's choice). Checksums are verified; a missing or damaged checkpoint is one ResultsError line."""
    path = Path(path)
    if not (path / checkpoint).exists():
        raise ResultsError(f"{path.name} has no {checkpoint} (checkpoints are not committed with results; re-run the "
                           "suite to recreate them)")
    if checkpoint == store.CHECKPOINT:
        state = store.load_checkpoint(path)
        if state is None or state["step"] != spec.steps:
            raise ResultsError(f"{path.name}: no final checkpoint to evaluate (re-run it with `ganbench bench`)")
    else:
        state = store.load_verified(path / checkpoint)
    s = build(spec, device)
    restore(s, state)
    return s, int(state["step"])


def unreproduced(recorded: dict, scored: dict, s: Setup) -> str:
    """What a re-scoring of a run failed to reproduce of its metrics.json ('' when nothing): the columns whose value
    changed, else "finite samples" when the samples were not finite this time."""
    changed = sorted(k for k, v in recorded.items() if k in scored and scored[k] != v)
    return ", ".join(changed) or ("finite samples" if s.diverged_at is not None else "")


def reevaluate(spec: RunSpec, path: Path, opts: ExecOptions = ExecOptions()) -> str:
    """Evaluate a finished run again from its final checkpoint with the current metric code and add the metrics
    its metrics.json lacks (a metric added to ganbench after the run was trained). Every number the file already
    holds must come out identical, or nothing is written (ResultsError): the checkpoint or the metric code no
    longer matches. Returns "added", "current" (nothing new) or "diverged" (no samples to evaluate)."""
    path = Path(path)
    rec = store.read_json(path / store.METRICS)
    if rec.get("diverged_at") is not None:
        return "diverged"
    if rec.get("metrics_version", 1) >= METRICS_VERSION:
        return "current"
    s, _ = restore_kept(spec, path, opts.device)
    values, _ = score(s)
    new = {v.column: float(v.value) for v in values}
    missing = unreproduced(rec["metrics"], new, s)
    if missing:
        raise ResultsError(f"{path.name}: re-evaluation does not reproduce {missing}; metrics.json left as it was")
    if not set(new) - set(rec["metrics"]):  # nothing new: record that this version has checked it, and the
        # protocol as the current code states it (the numbers are proven the same; older records may lack keys)
        protocol = metrics_record(s, values, {})["protocol"]
        store.write_json(path / store.METRICS, {**rec, "metrics_version": METRICS_VERSION,
                                                "protocol": {**rec.get("protocol", {}), **protocol}})
        return "current"
    fresh = metrics_record(s, values, {})
    fresh["cost"] = rec["cost"]
    fresh["health"] = health.run_verdict(path, fresh)
    fresh["checkpoints"] = quality.checkpoints(path, s.data)
    store.write_json(path / store.METRICS, fresh)
    return "added"


def evaluate_draws(spec: RunSpec, path: Path, draws: int, opts: ExecOptions = ExecOptions()) -> str:
    """Score a finished run's final checkpoint on `draws` sample draws (sampling seeds; draw 0 is the run's own
    evaluation and must reproduce metrics.json exactly, or nothing is written) and record every metric's values in
    draws.json: the spread over sampling seeds, beside the spread over training seeds that separate runs give.
    Returns "drawn", "current" (draws.json already has as many) or "diverged" (no samples to score)."""
    path = Path(path)
    rec = store.read_json(path / store.METRICS)
    if rec.get("diverged_at") is not None:
        return "diverged"
    if (path / store.DRAWS).exists() and store.read_json(path / store.DRAWS).get("draws", 0) >= draws:
        return "current"
    s, _ = restore_kept(spec, path, opts.device)
    values: dict[str, list[float]] = {}
    for d in range(draws):
        scored, _ = score(s, d)
        if d == 0:
            own = {v.column: float(v.value) for v in scored}
            missing = unreproduced(rec["metrics"], own, s)
            if missing:
                raise ResultsError(f"{path.name}: draw 0 does not reproduce {missing} of metrics.json; run "
                                   "`ganbench evaluate` (without --draws) first")
        for v in scored:
            values.setdefault(v.column, []).append(float(v.value))

    store.write_json(path / store.DRAWS, {
        "run_id": spec.run_id, "draws": draws, "metrics_version": METRICS_VERSION,
        "latent_seeds": [spec.seed + EVAL_SEED_OFFSET + d * DRAW_STRIDE for d in range(draws)], "values": values})
    return "drawn"
