"""`ganbench bench`: expand a suite, run the missing cells on an executor, aggregate, plot."""
from __future__ import annotations

import dataclasses
import difflib
import re
import shlex
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from ganbench import batched, console, status as status_mod, store
from ganbench.errors import SpecError
from ganbench.launch import EXECUTORS, LAUNCH_KEYS, Launch, describe
from ganbench.registry import user_plugins
from ganbench.spec import RunSpec, load_suite, parse_set
from ganbench.execution import ExecOptions, check_device
from ganbench.metrics.features import check_weights
from ganbench.budget import write_suite_budget
from ganbench.leaderboard import Options, write_leaderboard
from ganbench.plots import write_plots
from ganbench.results import load_results


# submitit's Slurm parameters a suite may set under launch: extra (as slurm_<name> or <name>), each to one plain value.
# Not: setup/teardown/srun_args/additional_parameters (shell lines or free sbatch options) — nothing a suite says
# may reach the job script as a command.
SLURM_EXTRA = {"account", "array_parallelism", "comment", "constraint", "cpus_per_gpu", "cpus_per_task", "dependency",
               "exclude", "exclusive", "gpus_per_node", "gpus_per_task", "gres", "job_name", "mail_type", "mail_user",
               "mem", "mem_per_cpu", "mem_per_gpu", "nodelist", "nodes", "ntasks_per_node", "partition", "qos",
               "signal_delay_s", "stderr_to_stdout", "time", "use_srun", "wckey"}
SUBMITIT_EXTRA = {"mem_gb", "timeout_min", "nodes", "tasks_per_node", "cpus_per_task", "gpus_per_node", "name",
                  "stderr_to_stdout"}
PLAIN = re.compile(r"[A-Za-z0-9_.,:=@%+/ -]*")


def check_extra(extra: Any, where: str) -> dict[str, Any]:
    """launch: extra, checked: known submitit parameter names, each a number, a boolean or plain text (letters,
    digits, spaces and . , : = @ % + / _ -; never a newline, quote or shell character)."""
    if not isinstance(extra, dict):
        raise SpecError(f"{where}: launch extra must map submitit parameter names to values")
    known = sorted(SUBMITIT_EXTRA | {f"slurm_{k}" for k in SLURM_EXTRA})
    for key, value in extra.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=2)
            hint = f"did you mean {' or '.join(close)}?" if close else "see submitit's SlurmExecutor parameters"
            raise SpecError(f"{where}: launch extra {key!r} is not a submitit parameter ganbench passes on; {hint}")
        plain = isinstance(value, (int, float)) or (isinstance(value, str) and PLAIN.fullmatch(value))
        if not plain:
            raise SpecError(f"{where}: launch extra {key}={value!r} must be a number, a boolean or plain text "
                            "(letters, digits, spaces, . , : = @ % + / _ -)")
    return dict(extra)


def make_launch(suite_launch: dict[str, Any], given: dict[str, Any], where: str) -> Launch:
    """A suite's `launch:` section with the command line's settings (those not None) on top."""
    unknown = sorted(set(suite_launch) - LAUNCH_KEYS)
    if unknown:
        raise SpecError(f"{where}: unknown launch key {', '.join(unknown)}; valid keys: {', '.join(sorted(LAUNCH_KEYS))}")
    fields = {**suite_launch, **{k: v for k, v in given.items() if v is not None}}
    if isinstance(fields.get("devices"), str):
        fields["devices"] = [d.strip() for d in fields["devices"].split(",") if d.strip()]
    if "devices" in fields:
        fields["devices"] = tuple(str(d) for d in fields["devices"]) or ("cpu",)
    for k in ("workers", "time_min", "gpus_per_task", "cpus_per_task", "runs_per_task", "array_parallelism"):
        if k in fields and (not isinstance(fields[k], int) or fields[k] < (0 if k == "gpus_per_task" else 1)):
            raise SpecError(f"{where}: launch {k} must be a positive integer, not {fields[k]!r}")
    if not isinstance(fields.get("batch_seeds", False), bool):
        raise SpecError(f"{where}: launch batch_seeds must be true or false, not {fields['batch_seeds']!r}")
    fields["extra"] = check_extra(fields.get("extra", {}), where)
    if "folder" in fields and fields["folder"] is not None:
        fields["folder"] = Path(fields["folder"])
    return Launch(**fields)


def bench(suite_name: str, results: Path, workers: int | None = None, device: str = "cpu", dry_run: bool = False,
          executor: str = "local", echo: Callable[[str], None] = print, add_tricks: tuple[str, ...] = (),
          scale: str | None = None, fast: dict | None = None, retry_failed: bool = False,
          launch: dict[str, Any] | None = None, progress: bool | None = None, ckpt_every: int | None = None,
          sets: Sequence[str] = (), seeds: int | None = None, verbosity: int = console.NORMAL,
          tensorboard: str | None = None) -> int:
    """Run a suite (with `add_tricks` as extra values of its tricks axis, at one of its `scale`s; `sets`, key=value fields
    as `ganbench run --set` reads them, set on every cell; `seeds`: seeds 0..seeds-1 instead of the suite's) on
    `executor`; failed cells are left alone unless `retry_failed` (then only they run). `echo` prints at `verbosity`
    (console.QUIET: results and failures only); `tensorboard`: live curves under that directory. Returns the exit
    status: 1 while a cell is not done (failed, interrupted, or run elsewhere), else 0."""
    say = console.gated(echo, verbosity)
    t0 = time.perf_counter()
    suite = load_suite(suite_name, add_tricks, scale, parse_set(sets), seeds)
    specs = suite.expand()
    suite.check_baseline(specs)
    root = store.suite_dir(results, suite.name)
    jobs = [(cell, root / "runs" / cell.run_id) for cell in specs]
    EXECUTORS.get(executor)  # an unknown executor is a one-line error before anything runs
    settings = make_launch(suite.launch, {"workers": workers, **(launch or {})}, f"suite {suite.name}")
    settings = dataclasses.replace(settings, folder=settings.folder or root / "slurm")
    fast = {**(fast or {})}
    if fast.get("batch_seeds") is None:  # not said on the command line: the suite's launch.batch_seeds
        fast["batch_seeds"] = settings.batch_seeds
    hint = " ".join([str(suite_name), *(["--scale", scale] if scale else []),
                     *[f"--set {shlex.quote(x)}" for x in sets], *([f"--seeds {seeds}"] if seeds is not None else [])])
    todo, cells = plan(jobs, retry_failed, suite.name, hint, say)
    say(f"results: {root}" + (f" (cells changed on the command line: {suite.variant})" if suite.variant else ""),
        console.VERBOSE)
    if fast["batch_seeds"] and todo:  # which cells train as one stacked model, why others do not: once
        for line in batched.plan(todo, ExecOptions(**fast))[1]:
            say(line, console.QUIET if dry_run else console.NORMAL)
    if dry_run:
        for c in cells:
            say(f"  {c.state:<11} {c.spec.run_id}", console.QUIET)
        for line in describe(todo, executor, settings):
            say(line, console.QUIET)
        return 0
    if todo:
        if executor == "local":  # Slurm jobs run on the cluster's devices, not this machine's
            check_device(device)
            for d in settings.devices:
                check_device(d, "--devices")
        store.writable_dir(root, "--results")
        check_weights([spec for spec, _ in todo])  # offline without the weights: one line before any training
    opts = ExecOptions(device=device, progress=progress, plugins=user_plugins(), verbose=verbosity >= console.VERBOSE,
                       tensorboard=tensorboard, **fast)
    if ckpt_every is not None:
        opts = dataclasses.replace(opts, ckpt_every=ckpt_every)
    outcomes = EXECUTORS.get(executor)(todo, settings, opts) if todo else []
    report_outcomes(outcomes, say, time.perf_counter() - t0)
    return finish(root, jobs, suite, hint, say)


def plan(jobs: list[tuple[RunSpec, Path]], retry_failed: bool, name: str, hint: str,
         say: Callable[..., None]) -> tuple[list[tuple[RunSpec, Path]], list]:
    """The jobs to run (the pending and interrupted cells, or with `retry_failed` the failed ones) and every cell's
    state, said in a line or three."""
    cells = status_mod.cells(jobs)
    by_state = {state: [c for c in cells if c.state == state] for state in status_mod.STATES}
    if retry_failed:
        todo = [(c.spec, c.path) for c in by_state["failed"]]
    else:
        todo = [(c.spec, c.path) for c in cells if c.state in ("pending", "interrupted")]
    say(f"suite {name}: {len(jobs)} runs, " + ", ".join(
        f"{len(v)} {k}" for k, v in by_state.items() if v) + f"; {len(todo)} to run")
    if by_state["failed"] and not retry_failed:
        say(f"{len(by_state['failed'])} failed cell(s) are not re-run: `ganbench status {hint}` shows why; "
            "--retry-failed re-runs them")
    if by_state["running"]:
        say(f"{len(by_state['running'])} cell(s) are being run by other workers and are left to them")
    return todo, cells


def report_outcomes(outcomes: list, say: Callable[..., None], took: float) -> None:
    """The runs that did not finish, one line each (at every verbosity); with -v, how long the runs took."""
    for o in outcomes:
        if o.status == "failed":
            say(f"FAILED {o.run_id}: {o.message} (traceback in its error.txt)", console.QUIET)
        elif o.status in ("interrupted", "busy"):
            say(f"{o.status.upper()} {o.run_id}: {o.message}", console.QUIET)
    if outcomes:
        say(f"{len(outcomes)} run(s) in {console.seconds(took)}", console.VERBOSE)


def finish(root: Path, jobs: list[tuple[RunSpec, Path]], suite, hint: str, say: Callable[..., None]) -> int:
    """The leaderboard, plots and reports of the suite's finished cells (these cells only); the exit status."""
    t0 = time.perf_counter()
    if any(store.is_finished(p) for _, p in jobs):
        for p in write_results(root, [spec.run_id for spec, _ in jobs], suite):
            say(f"wrote {p}")
        say(f"tables and figures in {console.seconds(time.perf_counter() - t0)}", console.VERBOSE)
    unfinished = sum(not store.is_finished(p) for _, p in jobs)
    if unfinished:
        say(f"{unfinished} of {len(jobs)} cells are not done; `ganbench status {hint}` shows them", console.QUIET)
    return 1 if unfinished else 0


def write_results(root: Path, ids: list[str], suite) -> list[Path]:
    """Everything derived from a suite's finished runs: plots, the budget curve of a search (both shown on the HTML
    page), the leaderboard in its formats and the reproduction report. The runs are loaded once for all of them
    (a search's budget curve reads its other hyper-parameter samples too)."""
    res = load_results(root, ids)
    options = Options(baseline=suite.baseline, variant=suite.variant)
    paths = write_plots(root, ids, res, options)
    if suite.search is not None:
        paths += write_suite_budget(root, ids)
    return paths + write_leaderboard(root, ids, suite.reproduces, options, res=res)
