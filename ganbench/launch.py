"""Executors: run a list of (spec, run directory) jobs; a failed run is recorded and never stops the others."""
from __future__ import annotations

import multiprocessing as mp
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from tqdm import tqdm

from ganbench import store
from ganbench.registry import Registry
from ganbench.spec import RunSpec
from ganbench.train import ExecOptions

FAILED = "error.txt"


@dataclass(frozen=True)
class Outcome:
    run_id: str
    ok: bool
    message: str = ""


Executor = Callable[[Sequence[tuple[RunSpec, Path]], int, ExecOptions], list[Outcome]]
EXECUTORS: Registry[Executor] = Registry("executor")


def _init_worker(threads: int) -> None:
    from ganbench.registry import load_builtins
    from ganbench.runner import set_threads

    set_threads(threads)
    load_builtins()


def run_one(job: tuple[RunSpec, Path, ExecOptions]) -> Outcome:
    """Execute one job, turning any exception into a recorded failure (error.txt in the run directory)."""
    from ganbench.runner import execute

    spec, path, opts = job
    try:
        execute(spec, path, opts)
        (path / FAILED).unlink(missing_ok=True)
        return Outcome(spec.run_id, True)
    except Exception as e:  # noqa: BLE001 - one failed cell must not stop a suite
        path.mkdir(parents=True, exist_ok=True)
        store.write_text(path / FAILED, traceback.format_exc())
        return Outcome(spec.run_id, False, f"{type(e).__name__}: {e}")


def cost(spec: RunSpec) -> float:
    """A rough relative cost from the spec and its tricks' hooks, to start the longest runs first: steps x batch
    growth x (D updates, each with its penalties, + look-ahead + G updates) x data size."""
    import math

    from ganbench.data import get_dataset
    from ganbench.tricks.base import TrickStack, make_trick

    stack = TrickStack(make_trick(t.name, dict(t.params)) for t in spec.tricks)
    batch = stack.batch_size(spec.batch_size) / spec.batch_size
    extra = sum(t.extra_cost() for t in stack.tricks)
    per_step = stack.d_steps(1) * (1 + extra) + stack.g_steps(1)
    size = math.prod(get_dataset(spec.dataset).sample_shape)
    return spec.steps * batch * per_step * (1 + size / 64)


@EXECUTORS.register("local")
def local(jobs: Sequence[tuple[RunSpec, Path]], workers: int, opts: ExecOptions) -> list[Outcome]:
    """Worker processes on this machine (spawned, one thread each); runs in the calling process when workers=1."""
    ordered = sorted(jobs, key=lambda j: -cost(j[0]))
    return pool_map(run_one, [(spec, path, opts) for spec, path in ordered], workers, show=opts.progress is not False)


def pool_map(fn: Callable, payload: Sequence, workers: int, show: bool = True, desc: str = "runs") -> list:
    """fn over payload in `workers` spawned single-threaded processes (in this process when workers <= 1), with
    a progress bar; results in completion order."""
    bar = tqdm(total=len(payload), desc=desc, unit="run", disable=not show)
    outcomes = []
    if workers <= 1:
        _init_worker(1)
        for job in payload:
            outcomes.append(fn(job))
            bar.update(1)
    else:
        with mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(1,)) as pool:
            for out in pool.imap_unordered(fn, payload):
                outcomes.append(out)
                bar.update(1)
    bar.close()
    return outcomes


def reevaluate_one(job: tuple[RunSpec, Path, ExecOptions]) -> Outcome:
    """Re-evaluate one finished run (runner.reevaluate); a failure is reported, never raised."""
    from ganbench.runner import reevaluate

    spec, path, opts = job
    try:
        return Outcome(spec.run_id, True, reevaluate(spec, path, opts))
    except Exception as e:  # noqa: BLE001 - report every run
        return Outcome(spec.run_id, False, f"{type(e).__name__}: {e}")
