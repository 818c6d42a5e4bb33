"""Helpers shared by tests in tests/unit and tests/e2e (tests/ is on pytest's `pythonpath`): the repository root,
the reproduction and paper-scale suites, the command line in a subprocess, and hand-made finished runs."""
import os
import subprocess
import sys
from pathlib import Path

import yaml

from ganbench import store
from ganbench.spec import build_spec

REPO = Path(__file__).resolve().parent.parent
REPRODUCTIONS = sorted(p.stem for p in (REPO / "suites").glob("*.yaml") if "reproduces" in yaml.safe_load(p.read_text()))
PAPER_SUITES = ["losses-mnist", "losses-cifar10", "losses-celeba", "tricks-cifar10", "stacked-mnist"]


def gb(*args, cwd=REPO):
    """`ganbench ARGS` in a fresh process (this checkout's code first on its path)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "ganbench.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def fake_run(root, tricks, seed, modes, hq):
    """A finished ring8 run under root/runs with the given metric values (no training)."""
    spec = build_spec({"dataset": "ring8", "loss": "ns", "tricks": tricks, "seed": seed})
    d = root / "runs" / spec.run_id
    d.mkdir(parents=True)
    store.write_json(d / store.SPEC, spec.to_json())
    store.write_json(d / store.METRICS, {
        "run_id": spec.run_id, "metrics": {"modes": modes, "hq": hq},
        "higher_is_better": {"modes": True, "hq": True}, "main_metric": "modes"})
    return spec.run_id
