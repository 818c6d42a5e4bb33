"""Benchmark: K seeds of one ring8 cell trained as one stacked model (`bench --batch-seeds`) against the same K seeds
trained one after the other, interleaved in one process (batched round, sequential round, ...), one CPU thread.

    python tests/benchmarks/batch_seeds.py [--k 8] [--steps 500] [--rounds 3] [--loss ns]

The cell is suites/losses.yaml's ring8 cell (G 3x128 ReLU+BN, D 2x128 LeakyReLU, PyTorch's init, batch 128, Adam
1e-3, log every 50 steps, a quality probe every steps/10), so the numbers include what a suite's run does besides
its steps. Reports per round: seed-steps/s of the training loop (K * steps / the summed train_s: the steps with
their logged statistics and checkpoints, without the probes), and the whole runs' wall time (build, train, probes,
evaluation). Not a timed test: on a shared machine say "under load"; docs/scale-out.md reports the numbers."""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch


def specs(k: int, steps: int, loss: str) -> list:
    from ganbench.spec import build_spec  # after torch.set_num_threads

    arch = {"g_hidden": 128, "g_layers": 3, "d_hidden": 128, "d_layers": 2, "d_act": "lrelu", "init": "torch"}
    return [build_spec({"dataset": "ring8", "loss": loss, "seed": s, "steps": steps, "batch_size": 128,
                        "lr_g": 1e-3, "lr_d": 1e-3, "arch_options": arch}) for s in range(k)]


def one_round(cell: list, root: Path, batched_round: bool) -> tuple[float, float]:
    """(seed-steps/s of the training loops, seed-steps/s of the whole runs) of one round."""
    from ganbench import batched
    from ganbench.execute import execute
    from ganbench.execution import ExecOptions

    t0 = time.perf_counter()
    if batched_round:
        records = batched.execute_group([(s, root / s.run_id) for s in cell], ExecOptions(progress=False,
                                                                                          batch_seeds=True))
    else:
        records = [execute(s, root / s.run_id, ExecOptions(progress=False)) for s in cell]
    wall = time.perf_counter() - t0
    steps = sum(s.steps for s in cell)
    return steps / sum(r["cost"]["train_s"] for r in records), steps / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loss", default="ns")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cell = specs(args.k, args.steps, args.loss)
    work = Path(tempfile.mkdtemp(prefix="gb-batch-seeds-"))
    rows = {True: [], False: []}
    try:
        one_round(cell[:1], work / "warm", False)  # imports, caches of the real data's statistics
        for r in range(args.rounds):
            for batched_round in (True, False):
                rows[batched_round].append(one_round(cell, work / f"{r}-{batched_round}", batched_round))
                train, whole = rows[batched_round][-1]
                print(f"round {r} {'batched' if batched_round else 'one by one'}: training loop {train:.0f} "
                      f"seed-steps/s, whole runs {whole:.0f} seed-steps/s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for i, what in enumerate(("training loop", "whole runs")):
        gains = [b[i] / u[i] for b, u in zip(rows[True], rows[False])]
        print(f"K = {args.k}, {what}: batched / one by one = " + ", ".join(f"{g:.2f}x" for g in gains)
              + f" (median {sorted(gains)[len(gains) // 2]:.2f}x)")


if __name__ == "__main__":
    main()
