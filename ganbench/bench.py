"""`ganbench bench`: expand a suite, run the missing cells, aggregate, plot."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ganbench import store
from ganbench.launch import EXECUTORS
from ganbench.spec import load_suite
from ganbench.train import ExecOptions


def bench(suite_name: str, results: Path, workers: int = 1, device: str = "cpu", dry_run: bool = False,
          executor: str = "local", echo: Callable[[str], None] = print, add_tricks: tuple[str, ...] = (),
          scale: str | None = None, fast: dict | None = None) -> int:
    """Run a suite (with `add_tricks` as extra values of its tricks axis, at one of its `scale`s); returns the exit
    status (1 if a run failed)."""
    suite = load_suite(suite_name, add_tricks, scale)
    specs = suite.expand()
    root = store.suite_dir(results, suite.name)
    jobs = [(s, root / "runs" / s.run_id) for s in specs]
    todo = [(s, p) for s, p in jobs if not store.is_finished(p)]
    echo(f"suite {suite.name}: {len(jobs)} runs, {len(jobs) - len(todo)} finished, {len(todo)} to run")
    if dry_run:
        for s, p in jobs:
            echo(f"  {'done' if store.is_finished(p) else 'todo'}  {s.run_id}")
        return 0
    opts = ExecOptions(device=device, **(fast or {}))
    outcomes = EXECUTORS.get(executor)(todo, workers, opts) if todo else []
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        echo(f"FAILED {o.run_id}: {o.message} (traceback in its error.txt)")
    from ganbench.leaderboard import write_leaderboard
    from ganbench.plots import write_plots

    ids = [s.run_id for s in specs]
    for p in write_leaderboard(root, ids, suite.reproduces) + write_plots(root, ids):
        echo(f"wrote {p}")
    return 1 if failed else 0
