"""Benchmark: aggregate 10,000 synthetic run records into a leaderboard (CSV, Markdown, HTML, LaTeX).

    python tests/benchmarks/aggregate.py [--runs 10000] [--keep DIR]     (or: make bench-aggregate)

Writes a suite directory of finished runs as `ganbench bench` leaves them (spec.json, metrics.json with nine
metrics, their protocols and the health verdict, a 31-row history.csv), then times load_results + aggregation + every format. Not a
timed test: run it on a quiet machine; README reports the number."""
from __future__ import annotations

import argparse
import csv
import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

METRICS = {"modes": True, "hq": True, "kl_modes": False, "diversity": True, "fd [coords]": False,
           "precision [coords]": True, "recall [coords]": True, "ndb [coords]": False, "ndb_js [coords]": False}
DATASETS = ("ring8", "grid25", "moons", "spiral")


def methods(k: int) -> list[dict]:
    """The specs (as stored) of the trick-free baseline and k - 1 valid combinations of one or two registered
    tricks on ring8."""
    from ganbench.errors import SpecError
    from ganbench.registry import load_builtins
    from ganbench.spec import build_spec
    from ganbench.tricks import TRICKS

    load_builtins()
    names = TRICKS.names()
    out = []
    for combo in itertools.chain([[]], ([n] for n in names), (list(c) for c in itertools.combinations(names, 2))):
        try:
            out.append(build_spec({"dataset": "ring8", "loss": "ns", "tricks": combo, "steps": 1500}).to_json())
        except SpecError:  # e.g. an image-only trick
            continue
        if len(out) == k:
            break
    return out


def write_runs(root: Path, n_runs: int, seeds: int = 10) -> int:
    """n_runs finished runs under root/runs: data sets x methods x seeds, metrics drawn per method."""
    from ganbench import store
    from ganbench.health import DETECTORS_VERSION

    specs = methods(n_runs // (len(DATASETS) * seeds))
    rng = np.random.default_rng(0)
    history = [{"step": s * 50, "loss_d": 1.38, "loss_g": 0.69, "penalty_d": 0.0, "d_acc_real": 0.5,
                "d_acc_fake": 0.5, "wall_time": s * 0.5} for s in range(31)]
    count = 0
    for dataset in DATASETS:
        for i, spec in enumerate(specs):
            spec = {**spec, "dataset": dataset}
            effect = rng.normal(0, 1, size=len(METRICS))
            for seed in range(seeds):
                spec = {**spec, "seed": seed}
                d = root / "runs" / f"{dataset}-{i:04d}-s{seed}"
                d.mkdir(parents=True)
                store.write_json(d / store.SPEC, spec)
                values = {m: float(abs(e + rng.normal(0, 0.5))) for m, e in zip(METRICS, effect)}
                store.write_json(d / store.METRICS, {
                    "run_id": d.name, "metrics_version": 3, "metrics": values, "higher_is_better": METRICS,
                    "protocol": {m: {"features": "coords" if "[" in m else "none", "n_gen": 2500} for m in METRICS},
                    "main_metric": "modes", "diverged_at": None, "health": {"verdict": "ok", "step": None, "evidence": "", "version": DETECTORS_VERSION},
                    "cost": {"train_wall_s": 16.5, "device": "cpu", "device_model": "synthetic"}})
                with open(d / store.HISTORY, "w", newline="") as f:
                    w = csv.DictWriter(f, fieldnames=list(history[0]))
                    w.writeheader()
                    w.writerows(history)
                count += 1
    return count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--keep", type=Path, help="write the suite here and keep it")
    args = ap.parse_args()
    from ganbench.leaderboard import FORMATS, build_report, load_results, write_leaderboard

    root = args.keep or Path(tempfile.mkdtemp(prefix="ganbench-aggregate-")) / "synthetic"
    try:
        t = time.perf_counter()
        n = write_runs(root, args.runs)
        print(f"wrote {n} synthetic runs in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        res = load_results(root)
        t_load = time.perf_counter() - t
        t = time.perf_counter()
        agg, _ = build_report(root)
        t_report = time.perf_counter() - t
        t = time.perf_counter()
        paths = write_leaderboard(root, formats=FORMATS)
        t_all = time.perf_counter() - t
        print(f"{len(res.df)} runs, {len(agg)} aggregated rows ({agg.method.nunique()} methods x "
              f"{agg.dataset.nunique()} data sets x {agg.metric.nunique()} metrics)")
        print(f"load_results {t_load:.2f} s; build_report (load + aggregate + bootstrap + tests) {t_report:.2f} s; "
              f"write_leaderboard in {len(paths)} formats {t_all:.2f} s")
        return 0 if t_all < 10 else 1
    finally:
        if args.keep is None:
            shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
