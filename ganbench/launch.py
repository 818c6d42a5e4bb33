"""Executors: run a list of (spec, run directory) jobs. A failed run is recorded and never stops the others; a run
whose worker dies (killed, preempted, out of memory) keeps its checkpoints and resumes on the next `bench`."""
from __future__ import annotations

import torch
import shutil
import dataclasses
import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Callable, Sequence

from ganbench import batched, console, progress, store
from ganbench.errors import GanbenchError
from ganbench.registry import Registry, load_builtins, load_plugin
from ganbench.spec import RunSpec
from ganbench.execution import ExecOptions
from ganbench.execute import evaluate_draws, execute, reevaluate
from ganbench.execution import set_threads
from ganbench.stacked import Unstackable
from ganbench.status import cost

FAILED = "error.txt"


@dataclass(frozen=True)
class Outcome:
    """What became of one job: done, failed (error.txt written), busy (another worker holds its claim) or
    interrupted (its worker died; the checkpoints are kept and the next bench resumes it)."""

    run_id: str
    ok: bool
    message: str = ""
    status: str = ""
    label: str = ""  # the cell in words (cell_label)
    seconds: float | None = None  # how long the job took
    path: str = ""  # the run directory

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", "done" if self.ok else "failed")

    def line(self, verbose: bool = False) -> str:
        """The job in one progress line: `ring8 ns s0: ok (14 s)`; verbose adds the run directory."""
        word = (self.message or "ok") if self.status == "done" else self.status
        took = f" ({console.seconds(self.seconds)})" if self.seconds is not None else ""
        return f"{self.label or self.run_id}: {word}{took}" + (f" {self.path}" if verbose and self.path else "")


def cell_label(spec: RunSpec) -> str:
    """A cell in words, for progress lines: data set, method, seed (and hyper-parameter sample)."""
    return f"{spec.dataset} {spec.method} s{spec.seed}" + (f" h{spec.hp_sample}" if spec.hp_sample else "")


@dataclass(frozen=True)
class Launch:
    """How to execute a suite's jobs, beyond the numbers: worker count, devices, and the Slurm settings."""

    workers: int = 1
    devices: tuple[str, ...] = ("cpu",)
    partition: str | None = None
    time_min: int = 240  # each array task's time limit
    gpus_per_task: int = 0
    cpus_per_task: int = 1
    runs_per_task: int = 1  # runs packed into one array task, run one after the other
    array_parallelism: int = 64
    folder: Path | None = None  # submitit's logs and pickles (default: <suite>/slurm)
    cluster: str | None = None  # submitit's cluster: None (auto: Slurm when sbatch exists), "slurm", "local", "debug"
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # more submitit parameters (slurm_* names)
    batch_seeds: bool = False  # a cell's seeds as one stacked model where it can be (ganbench.batched)


LAUNCH_KEYS = {"partition", "time_min", "gpus_per_task", "cpus_per_task", "runs_per_task", "array_parallelism",
               "extra", "workers", "devices", "batch_seeds"}
Executor = Callable[[Sequence[tuple[RunSpec, Path]], Launch, ExecOptions], list[Outcome]]
EXECUTORS: Registry[Executor] = Registry("executor")

_WORKER_DEVICE: str | None = None  # the device this worker process is pinned to (None: the job's own)


def _init_worker(threads: int, device: str | None = None) -> None:
    global _WORKER_DEVICE
    _WORKER_DEVICE = device
    if device and device.startswith("cuda"):
        torch.cuda.set_device(device)
    set_threads(threads)
    load_builtins()


def run_one(job: tuple[RunSpec, Path, ExecOptions]) -> Outcome:
    """Execute one job, turning any exception into a recorded failure (error.txt in the run directory); a job whose
    run another live worker holds is left to it."""

    spec, path, opts = job
    if _WORKER_DEVICE is not None:
        opts = dataclasses.replace(opts, device=_WORKER_DEVICE)
    about = {"label": cell_label(spec), "path": str(path)}
    t0 = time.perf_counter()
    try:
        for plugin in opts.plugins:  # a spawned worker or a Slurm job starts without the user's plugins
            load_plugin(plugin)
        execute(spec, path, opts)
        (path / FAILED).unlink(missing_ok=True)
        return Outcome(spec.run_id, True, seconds=time.perf_counter() - t0, **about)
    except store.ClaimHeld as e:
        return Outcome(spec.run_id, True, str(e), status="busy", **about)
    except Exception as e:  # noqa: BLE001 - one failed cell must not stop a suite
        path.mkdir(parents=True, exist_ok=True)
        store.write_text(path / FAILED, traceback.format_exc())
        return Outcome(spec.run_id, False, f"{type(e).__name__}: {e}", seconds=time.perf_counter() - t0, **about)


def run_group(job: tuple[list[tuple[RunSpec, Path]], ExecOptions]) -> list[Outcome]:
    """Execute the seeds of one cell as one stacked model (ganbench.batched; a group of one: run_one); when they
    cannot train together (Unstackable) or one is another worker's, they run one by one, the reason in each
    Outcome's message. A failure is recorded in every run directory of the group (error.txt)."""
    group, opts = job
    if len(group) == 1:
        return [run_one((*group[0], opts))]
    t0 = time.perf_counter()
    try:
        for plugin in opts.plugins:
            load_plugin(plugin)
        batched.execute_group(group, opts)
    except (Unstackable, store.ClaimHeld) as e:
        why = f"trained seed by seed: {e}" if isinstance(e, Unstackable) else ""
        return [dataclasses.replace(o, message=o.message or why) for o in (run_one((*j, opts)) for j in group)]
    except Exception as e:  # noqa: BLE001 - one failed group must not stop a suite
        for _, path in group:
            path.mkdir(parents=True, exist_ok=True)
            store.write_text(path / FAILED, traceback.format_exc())
        return [Outcome(spec.run_id, False, f"{type(e).__name__}: {e}", seconds=time.perf_counter() - t0,
                        label=cell_label(spec), path=str(path)) for spec, path in group]
    took = time.perf_counter() - t0
    outcomes = []
    for spec, path in group:
        (path / FAILED).unlink(missing_ok=True)
        outcomes.append(Outcome(spec.run_id, True, f"batched x{len(group)}", seconds=took, label=cell_label(spec),
                                path=str(path)))
    return outcomes


def _group_interrupted(job: tuple[list[tuple[RunSpec, Path]], ExecOptions], exitcode: int | None) -> list[Outcome]:
    return [_interrupted((spec, path, job[1]), exitcode) for spec, path in job[0]]


def _interrupted(job: tuple[RunSpec, Path, ExecOptions], exitcode: int | None) -> Outcome:
    how = f"signal {signal.Signals(-exitcode).name}" if exitcode and exitcode < 0 else f"exit code {exitcode}"
    return Outcome(job[0].run_id, False, f"its worker process died ({how}: killed, preempted or out of memory); "
                   "its checkpoints are kept and the next `ganbench bench` resumes it", status="interrupted",
                   label=cell_label(job[0]), path=str(job[1]))


@EXECUTORS.register("local")
def local(jobs: Sequence[tuple[RunSpec, Path]], launch: Launch, opts: ExecOptions) -> list[Outcome]:
    """Worker processes on this machine (spawned, one thread each, `launch.workers` of them), worker i pinned to
    device i mod len(devices); runs in the calling process when there is one worker on one device."""
    ordered = sorted(jobs, key=lambda j: -cost(j[0]))
    devices = launch.devices if launch.devices != ("cpu",) or opts.device == "cpu" else (opts.device,)
    show = opts.progress is not False
    if opts.batch_seeds:  # a cell's seeds as one job (ganbench.batched); the longest groups first
        groups = sorted(batched.plan(ordered, opts)[0], key=lambda g: -sum(cost(spec) for spec, _ in g))
        done = pool_map(run_group, [(g, opts) for g in groups], launch.workers, show=show, devices=devices,
                        on_death=_group_interrupted, verbose=opts.verbose, total=len(ordered))
        return [o for outcomes in done for o in outcomes]
    payload = [(spec, path, opts) for spec, path in ordered]
    return pool_map(run_one, payload, launch.workers, show=show, devices=devices, on_death=_interrupted,
                    verbose=opts.verbose)


PARENT_POLL_S = 1.0  # how often a worker checks that the process that started it is still alive


def _exit_with_parent(parent: int) -> None:
    """End this worker as soon as its parent is gone (killed with SIGTERM or SIGKILL: daemon processes are only
    stopped by a parent that exits normally). The run it was training keeps its last checkpoint, and its claim,
    naming a dead process, is taken over by the next `ganbench bench`: nothing trains on, unwatched."""
    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _worker_main(conn, threads: int, device: str | None, fn: Callable, parent: int | None = None) -> None:
    """A pool worker: receive (index, job), send back (index, fn(job)); None ends it. It ends with its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and stops the workers
    if parent is not None:
        _exit_with_parent(parent)
    _init_worker(threads, device)
    while True:
        msg = conn.recv()
        if msg is None:
            return
        i, job = msg
        conn.send((i, fn(job)))


def pool_map(fn: Callable, payload: Sequence, workers: int, show: bool = True, desc: str = "runs",
             devices: Sequence[str] | None = None, on_death: Callable[[Any, int | None], Any] | None = None,
             verbose: bool = False, total: int | None = None) -> list:
    """fn over payload in `workers` spawned single-threaded processes (in this process when workers <= 1), with
    progress when `show`: a bar on a terminal, else a line per finished job (an Outcome's line(); with `verbose`
    above the bar too); results in completion order. Each worker has its own pipe (no shared queue lock that a
    killed worker could take with it); a worker that dies mid-job is replaced, and its job's result is
    on_death(job, exitcode) (or the pool raises when on_death is None). A job may return a list of Outcomes (a
    group of runs): each is counted towards `total` (default: one per job)."""
    bar = _Done(progress.Progress(total or len(payload), desc, "run", show, notes=verbose), verbose)
    devices = list(devices or [None])
    try:
        if workers <= 1 and len(devices) == 1:
            return _map_here(fn, payload, devices[0], bar)
        pool = _Pool(fn, devices, on_death)
        try:
            return pool.map(payload, max(1, min(max(workers, 1), len(payload))), bar)
        finally:
            pool.close()
    finally:
        bar.close()


class _Done:
    """A pool's progress: each finished job's result counted, with its Outcome.line() as the note."""

    def __init__(self, shown: progress.Progress, verbose: bool):
        self.shown, self.verbose = shown, verbose

    def update(self, result: Any) -> None:
        for one in result if isinstance(result, list) else [result]:
            self.shown.update(1, one.line(self.verbose) if isinstance(one, Outcome) else None)

    def close(self) -> None:
        self.shown.close()


def _map_here(fn: Callable, payload: Sequence, device: str | None, bar: _Done) -> list:
    """pool_map without worker processes: in this process, on `device`."""
    global _WORKER_DEVICE
    _init_worker(1, None if device in (None, "cpu") else device)
    outcomes = []
    try:
        for job in payload:
            outcomes.append(fn(job))
            bar.update(outcomes[-1])
    finally:
        _WORKER_DEVICE = None
    return outcomes


class _Pool:
    """Spawned worker processes, one pipe each: a job is sent to an idle worker, its result read back; a worker that
    dies is replaced and its job answered by on_death."""

    def __init__(self, fn: Callable, devices: list, on_death: Callable[[Any, int | None], Any] | None):
        self.ctx = mp.get_context("spawn")
        self.fn, self.devices, self.on_death = fn, devices, on_death
        self.workers: list[dict] = []

    def start(self, k: int) -> dict:
        parent, child = self.ctx.Pipe()
        device = self.devices[k % len(self.devices)]
        proc = self.ctx.Process(target=_worker_main, args=(child, 1, device, self.fn, os.getpid()), daemon=True)
        proc.start()
        child.close()
        return {"k": k, "proc": proc, "conn": parent, "job": None}

    def map(self, payload: Sequence, n: int, bar: _Done) -> list:
        self.workers = [self.start(k) for k in range(n)]
        todo = list(enumerate(payload))[::-1]
        outcomes: list = []
        while todo or any(w["job"] is not None for w in self.workers):
            for w in self.workers:
                if w["job"] is None and todo:
                    w["job"] = todo.pop()
                    w["conn"].send(w["job"])
            busy = [w for w in self.workers if w["job"] is not None]
            wait([w["conn"] for w in busy] + [w["proc"].sentinel for w in busy])
            for idx in range(len(self.workers)):
                if self.workers[idx]["job"] is not None and self.collect(idx, outcomes):
                    bar.update(outcomes[-1])
        return outcomes

    def collect(self, idx: int, outcomes: list) -> bool:
        """Read worker idx's result if it has one (or its job's on_death if it died); False while it is busy."""
        w = self.workers[idx]
        try:
            if w["conn"].poll():
                outcomes.append(w["conn"].recv()[1])
                w["job"] = None
                return True
            if w["proc"].is_alive():
                return False
        except (EOFError, OSError):
            pass
        w["proc"].join(timeout=5)  # died mid-job
        if self.on_death is None:
            raise GanbenchError(f"a worker process died (exit code {w['proc'].exitcode})")
        outcomes.append(self.on_death(w["job"][1], w["proc"].exitcode))
        w["conn"].close()
        self.workers[idx] = self.start(w["k"])
        return True

    def close(self) -> None:
        """Ask every worker to stop, then wait for it (terminated after 10 s)."""
        for w in self.workers:
            try:
                w["conn"].send(None)
            except (OSError, ValueError):
                pass
        for w in self.workers:
            w["proc"].join(timeout=10)
            if w["proc"].is_alive():
                w["proc"].terminate()
                w["proc"].join()


# ---------------------------------------------------------------- Slurm (submitit)

class Pack:
    """One array task: several runs, one after the other. Checkpointable: on preemption or timeout submitit
    requeues the same pack, and each run resumes from its own last checkpoint (finished runs are skipped)."""

    def __init__(self, jobs: list[tuple[RunSpec, Path, ExecOptions]]):
        self.jobs = jobs

    def __call__(self) -> list[Outcome]:
        _init_worker(1)  # one thread, as in local workers: CPU numbers are bit-identical for a fixed thread count
        opts = self.jobs[0][2] if self.jobs else ExecOptions()
        if not opts.batch_seeds:
            return [run_one(job) for job in self.jobs]
        groups = batched.plan([(spec, path) for spec, path, _ in self.jobs], opts)[0]
        return [o for g in groups for o in run_group((g, opts))]

    def checkpoint(self, *args: Any, **kwargs: Any):
        return _submitit().helpers.DelayedSubmission(Pack(self.jobs))


def packs(jobs: Sequence[tuple[RunSpec, Path]], launch: Launch, opts: ExecOptions) -> list[Pack]:
    """The jobs in array tasks of `runs_per_task`, longest first, balanced: task i takes jobs i, i+T, i+2T..."""
    ordered = sorted(jobs, key=lambda j: -cost(j[0]))
    units = batched.plan(ordered, opts)[0] if opts.batch_seeds else [[job] for job in ordered]  # a cell's seeds stay
    units.sort(key=lambda u: -sum(cost(spec) for spec, _ in u))  # together with --batch-seeds
    per = max(1, launch.runs_per_task)
    tasks = max(1, -(-len(units) // per))
    return [Pack([(spec, p, opts) for u in units[i::tasks] for spec, p in u]) for i in range(tasks) if units[i::tasks]]


def slurm_parameters(launch: Launch) -> dict[str, Any]:
    """submitit's parameters for one array task."""
    params: dict[str, Any] = {"timeout_min": launch.time_min, "cpus_per_task": launch.cpus_per_task,
                              "nodes": 1, "tasks_per_node": 1, "slurm_array_parallelism": launch.array_parallelism}
    if launch.gpus_per_task:
        params["gpus_per_node"] = launch.gpus_per_task
    if launch.partition:
        params["slurm_partition"] = launch.partition
    params.update(launch.extra)
    return params


def _submitit():
    try:
        import submitit  # optional: the [slurm] extra
    except ImportError:
        raise GanbenchError("the slurm executor needs submitit: pip install 'ganbench[slurm]'") from None
    return submitit


@EXECUTORS.register("slurm")
def slurm(jobs: Sequence[tuple[RunSpec, Path]], launch: Launch, opts: ExecOptions) -> list[Outcome]:
    """A Slurm job array through submitit (map over packs of runs), waited for; `launch.cluster="local"` runs the
    same array as local processes (submitit's LocalExecutor), which is how it is tested without Slurm."""
    submitit = _submitit()
    cluster = launch.cluster or "slurm"
    if cluster == "slurm" and shutil.which("sbatch") is None:
        raise GanbenchError("the slurm executor needs Slurm's sbatch on this machine (not found); run on a login "
                            "node, or use --executor local")
    folder = Path(launch.folder or "slurm") / "%j"
    ex = submitit.AutoExecutor(folder=folder, cluster=cluster)
    params = slurm_parameters(launch)
    if ex.cluster != "slurm":  # the local and debug executors take the generic parameters only
        params = {k: v for k, v in params.items() if not k.startswith("slurm_")}
    ex.update_parameters(**params)
    tasks = packs(jobs, launch, dataclasses.replace(opts, progress=False))
    submitted = ex.submit_array(tasks)
    outcomes: list[Outcome] = []
    bar = _Done(progress.Progress(len(jobs), f"{ex.cluster} array", "run", opts.progress is not False,
                                 notes=opts.verbose), opts.verbose)
    for task, job in zip(tasks, submitted):
        try:
            got = job.result()
        except Exception as e:  # noqa: BLE001 - the task died: its runs resume next time
            msg = f"array task {job.job_id} ended without a result ({type(e).__name__}); its runs' checkpoints " \
                  "are kept and the next `ganbench bench` resumes them"
            got = [Outcome(spec.run_id, True, label=cell_label(spec), path=str(p)) if store.is_finished(p) else
                   Outcome(spec.run_id, False, msg, status="interrupted", label=cell_label(spec), path=str(p))
                   for spec, p, _ in task.jobs]
        for o in got:
            bar.update(o)
        outcomes += got
    bar.close()
    return outcomes


def describe(jobs: Sequence[tuple[RunSpec, Path]], executor: str, launch: Launch) -> list[str]:
    """What `--dry-run` prints about how the jobs would be launched."""
    if executor == "slurm":
        tasks = packs(jobs, launch, ExecOptions())
        params = slurm_parameters(launch)
        lines = [f"slurm array of {len(tasks)} tasks ({launch.runs_per_task} run(s) per task), logs in "
                 f"{launch.folder}; submitit parameters: " + ", ".join(f"{k}={v}" for k, v in sorted(params.items()))]
        for i, t in enumerate(tasks):
            lines.append(f"  task {i}: " + " ".join(spec.run_id for spec, _, _ in t.jobs))
        return lines
    return [f"local: {launch.workers} worker process(es) on {', '.join(launch.devices)}"]


def reevaluate_one(job: tuple[RunSpec, Path, ExecOptions, int]) -> Outcome:
    """Re-evaluate one finished run (execute.reevaluate), or score it on `draws` sample draws when draws > 1
    (execute.evaluate_draws); a failure is reported, never raised."""

    spec, path, opts, draws = job
    about = {"label": cell_label(spec), "path": str(path)}
    t0 = time.perf_counter()
    try:
        for plugin in opts.plugins:
            load_plugin(plugin)
        done = evaluate_draws(spec, path, draws, opts) if draws > 1 else reevaluate(spec, path, opts)
        return Outcome(spec.run_id, True, done, seconds=time.perf_counter() - t0, **about)
    except Exception as e:  # noqa: BLE001 - report every run
        return Outcome(spec.run_id, False, f"{type(e).__name__}: {e}", seconds=time.perf_counter() - t0, **about)
