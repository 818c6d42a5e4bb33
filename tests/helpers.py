"""Helpers shared by tests in tests/unit and tests/e2e (tests/ is on pytest's `pythonpath`): the repository root,
the reproduction and paper-scale suites, the command line in a subprocess (gb) or in this process (gb_here),
hand-made finished runs, and a tiny suite."""
import contextlib
import io
import os
import subprocess
import sys
from unittest import mock
from pathlib import Path

import yaml

from ganbench import cli, store
from ganbench.spec import build_spec

REPO = Path(__file__).resolve().parent.parent
REPRODUCTIONS = sorted(p.stem for p in (REPO / "suites").glob("*.yaml") if "reproduces" in yaml.safe_load(p.read_text()))
PAPER_SUITES = ["losses-mnist", "losses-cifar10", "losses-celeba", "tricks-cifar10", "stacked-mnist"]


def gb(*args, cwd=REPO):
    """`ganbench ARGS` in a fresh process (this checkout's code first on its path)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "ganbench.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def gb_here(*args):
    """`ganbench ARGS` through the same entry point (ganbench.cli.main: exit status, one-line errors) in this
    process: a CompletedProcess with its exit status, stdout and stderr. For the many short commands whose interest is
    what they print; the tests that need a fresh process (plugins, kills, workers) use gb."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with mock.patch.object(sys, "argv", ["ganbench", *args]), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        try:
            cli.main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return subprocess.CompletedProcess(["ganbench", *args], code, out.getvalue(), err.getvalue())


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


TINY_SUITE = """\
name: tiny
description: two losses on ring8, a few steps (tests of ganbench.api and bench --set/--seeds)
seeds: 2
base:
  dataset: ring8
  steps: 20
  log_every: 5
  eval_samples: 200
  quality_samples: 100
  arch_options: {g_hidden: 16, g_layers: 1, d_hidden: 16, d_layers: 1}
grid:
  loss: [ns, hinge]
"""


def tiny_suite(folder):
    """TINY_SUITE written to folder/tiny.yaml: its path."""
    path = folder / "tiny.yaml"
    path.write_text(TINY_SUITE)
    return path
