"""ganbench from Python (a notebook): a suite's finished runs and its leaderboard as pandas DataFrames, and one run
from a spec, by the same code as the command line (`ganbench leaderboard`, `ganbench run`). docs/api.md shows a
session.

    from ganbench import api

    runs = api.load_results("smoke")                 # one row per finished run
    board = api.leaderboard("smoke")                 # leaderboard.csv's table
    record = api.run({"dataset": "ring8", "loss": "ns", "steps": 300})   # metrics.json's content

Mistakes raise ganbench.errors.GanbenchError (SpecError, ResultsError, ...) with the command line's one-line
message."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import torch

from ganbench import results as runs, stats, store
from ganbench.errors import ConfigError, SpecError
from ganbench.execute import execute_here
from ganbench.execution import ExecOptions
from ganbench.leaderboard import Options, build_leaderboard
from ganbench.spec import RunSpec, Suite, build_spec, load_suite

EXEC_OPTIONS = tuple(f.name for f in dataclasses.fields(ExecOptions))


def _cells(suite: str | Path, scale: str | None, add_tricks: Iterable[str], sets: Mapping[str, Any] | None,
           seeds: int | None) -> tuple[Suite, list[RunSpec]]:
    loaded = load_suite(suite, tuple(add_tricks), scale, sets, seeds)
    return loaded, loaded.expand()


def load_results(suite: str | Path, results: str | Path = "results", scale: str | None = None, *,
                 add_tricks: Iterable[str] = (), sets: Mapping[str, Any] | None = None,
                 seeds: int | None = None) -> pd.DataFrame:
    """The finished runs of a suite's current cells, one row each: the frame its leaderboard aggregates
    (ganbench.results.load_results): run_id, dataset, method, loss, seed, health, each metric column (as
    metrics.json names it, e.g. `modes`, `fid [ganbench-digits@efbb956d]`), cost columns. `suite`: a name or a
    YAML path; `scale`, `add_tricks`, `sets` (run-spec fields, as `bench --set`) and `seeds` (a count, as
    `bench --seeds`) pick the same cells as on the command line. No finished run: ResultsError."""
    loaded, cells = _cells(suite, scale, add_tricks, sets, seeds)
    return runs.load_results(store.suite_dir(results, loaded.name), [c.run_id for c in cells]).df


def leaderboard(suite: str | Path, results: str | Path = "results", scale: str | None = None, *,
                add_tricks: Iterable[str] = (), sets: Mapping[str, Any] | None = None, seeds: int | None = None,
                test: str = "welch", baseline: str | None = None) -> pd.DataFrame:
    """The suite's aggregated leaderboard, the long table leaderboard.csv holds (one row per data set, method and
    metric: mean, std, median, n, the bootstrap interval, best, Δ against the baseline and its test), computed
    from the finished runs of its current cells as `ganbench leaderboard` computes it; nothing is written.
    `test` and `baseline` as `ganbench leaderboard --test/--baseline` (default: the suite's baseline)."""
    stats.TESTS.get(test)
    loaded, cells = _cells(suite, scale, add_tricks, sets, seeds)
    options = Options(test=test, baseline=loaded.check_baseline(cells, baseline), variant=loaded.variant)
    agg, _ = build_leaderboard(store.suite_dir(results, loaded.name), [c.run_id for c in cells], options)
    return agg


def spec_of(spec: RunSpec | Mapping[str, Any]) -> RunSpec:
    """A RunSpec as given, or one built from run-spec fields by the spec layer, as `ganbench run` builds it
    (dataset and loss required; every other field at its default: `ganbench list`, docs/cli.md)."""
    if isinstance(spec, RunSpec):
        return spec
    if not isinstance(spec, Mapping):
        raise SpecError(f"a run spec is a RunSpec or a mapping of run-spec fields, not {type(spec).__name__}")
    return build_spec(dict(spec), where="the run spec")


def run(spec: RunSpec | Mapping[str, Any], out: str | Path | None = None, **options: Any) -> dict | None:
    """Train and evaluate one run in this process, as `ganbench run` does, and return its metrics.json content
    (a finished run in `out` is read back, not retrained). `spec`: a RunSpec or a mapping of run-spec fields,
    e.g. {"dataset": "ring8", "loss": "ns", "steps": 300, "tricks": ["sn"]}; `out`: the run directory (default
    results/runs/<run_id>, as `ganbench run`). `options`: execution options (ganbench.execution.ExecOptions:
    device, amp, channels_last, compile, ckpt_every, progress; progress defaults to True: a bar on a terminal,
    else a line per tenth of the steps). Trains on one CPU thread, as the command line does (the same numbers
    for the same spec and seed); the caller's thread count is restored afterwards."""
    spec = spec_of(spec)
    unknown = sorted(set(options) - set(EXEC_OPTIONS))
    if unknown:
        raise ConfigError(f"unknown execution option {', '.join(unknown)}; options: {', '.join(EXEC_OPTIONS)}")
    opts = ExecOptions(**{"progress": True, **options})
    path = Path(out) if out is not None else Path("results") / "runs" / spec.run_id
    threads = torch.get_num_threads()
    try:
        return execute_here(spec, path, opts)
    finally:
        torch.set_num_threads(threads)
