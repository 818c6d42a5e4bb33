"""The training loop: resumable to bit-identical results, checkpointed, probed; knows no loss or trick by name."""
from __future__ import annotations

import time
from pathlib import Path

from ganbench import checkpoint, execution, monitor, progress, quality
from ganbench.build import Setup
from ganbench.data.base import BatchSampler, resident
from ganbench.execution import ExecOptions
from ganbench.step import StepFn, gan_step, run as run_step, simultaneous_step


def train(s: Setup, path: Path, opts: ExecOptions, step_fn: StepFn | None = None) -> bool:
    """Train to spec.steps from the last checkpoint in `path`; False if stopped early by `opts.stop_after`.

    Each step: the update (ganbench.step), the logged steps' statistics (ganbench.monitor), the quality probe every
    quality_every steps (ganbench.quality), the state kept as best.pt / checkpoint.pt (ganbench.checkpoint).
    Training stops at the first logged step with a non-finite loss, or at a checkpoint whose weights are not
    finite, and sets `s.diverged_at` (checked every log_every steps and before each checkpoint, so the check costs
    no per-step synchronisation on accelerators); checkpoint.pt and best.pt then keep the last good states."""
    spec = s.spec
    step_fn = step_fn or (simultaneous_step if s.tricks.simultaneous else gan_step)
    start, drawn, logs = checkpoint.resume(s, path)
    sampler = BatchSampler(resident(s.data.x, s.device), s.batch_size, spec.seed, drawn,
                           labels=s.data.labels.to(s.device) if s.needs_labels else None)
    execution.fast_path(s, opts.amp, opts.channels_last, opts.compile)
    s.G.train()
    s.D.train()
    bar = progress.Progress(spec.steps, spec.run_id, "step", opts.progress, every=progress.RUN_LINES,
                            initial=start, leave=False)  # off a terminal: a line per tenth (progress True)
    t0 = time.perf_counter() - (logs.history[-1]["wall_time"] if logs.history else 0.0)
    stop = spec.steps if opts.stop_after is None else min(spec.steps, start + opts.stop_after)
    live = monitor.Live(opts.tensorboard, spec.run_id) if opts.tensorboard else None
    for step in range(start, stop):
        out = run_step(s, sampler, step, step_fn)
        kept, took = bookkeep(s, path, step, stop, out, logs, sampler.drawn, opts, live, t0)
        t0 += took  # wall_time counts training only; the run's cost counts the probes as probe_s
        if not kept:
            break
        bar.update(1)
    if s.diverged_at is not None:
        logs.write(path)
    if live is not None:
        live.close()
    bar.close()
    s.batches_drawn = sampler.drawn
    s.timings["train_s"] = time.perf_counter() - t0  # the training steps (over resumptions), without the probes
    return s.diverged_at is not None or stop == spec.steps


def bookkeep(s: Setup, path: Path, step: int, stop: int, out: dict, logs: checkpoint.Logs, drawn: int,
             opts: ExecOptions, live: monitor.Live | None, t0: float) -> tuple[bool, float]:
    """What follows training step `step` (0-based; `stop`: the last step of this segment, `drawn`: real batches
    drawn so far, `t0`: the clock's start): the logged statistics, the quality probe, the kept state. Returns
    (False when the run diverged: `s.diverged_at` is set; the seconds the probe took, which wall_time leaves out)."""
    spec = s.spec
    if s.log_step and not monitor.log(s, step, out, logs, t0, live):
        s.diverged_at = step  # an outcome to record, not a crash; the kept checkpoints stay as they were
        return False, 0.0
    done = step + 1
    probed = quality.is_probe_step(done, spec.quality_every, spec.steps)
    took = 0.0
    if probed:
        t_probe = time.perf_counter()
        scores, points = quality.probe(s)
        logs.quality.append({"step": done, **scores, "wall_time": t_probe - t0})
        if points is not None:
            logs.points.append({"step": done, "points": points})
        if live is not None:
            live.scalars("probe", done, scores)
        took = time.perf_counter() - t_probe
        s.timings["probe_s"] = s.timings.get("probe_s", 0.0) + took
    due = done % opts.ckpt_every == 0 or done == stop
    if (probed or due) and not checkpoint.keep(s, path, done, drawn, logs, probed, due):
        s.diverged_at = step
        return False, took
    return True, took
