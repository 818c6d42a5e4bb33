"""The command line end to end: the smoke suite, listings, and one-line errors for user mistakes (a suite that needs
missing data stops before its first run)."""
import os
import subprocess
import sys

import pytest

from helpers import REPO, gb, gb_here


@pytest.mark.parametrize("kind,expected", [
    ("losses", ["ns", "mm", "wasserstein", "ls", "hinge", "rsgan", "ragan", "wgan", "wgan-gp"]),
    ("tricks", ["gp", "clip", "sn", "ttur", "d-steps"]),
    ("archs", ["mlp", "dcgan"]),
    ("datasets", ["ring8", "grid25", "digits", "stacked-digits"]),
    ("suites", ["losses", "smoke", "budget-digits"]),
    ("distributions", ["uniform", "log_uniform", "int_uniform", "choice"]),
])
def test_list(kind, expected):
    r = gb_here("list", kind)
    assert r.returncode == 0, r.stderr
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert set(expected) <= set(names)
    assert all(len(line.split(None, 1)) == 2 for line in r.stdout.splitlines())  # every name has a description


@pytest.mark.parametrize("args,match", [
    (["run", "--dataset", "ring8", "--loss", "hinj"], "did you mean hinge"),
    (["run", "--dataset", "ring9", "--loss", "ns"], "did you mean ring8"),
    (["run", "--dataset", "ring8", "--loss", "ns", "--set", "lr=3"], "unknown run-spec key"),
    (["run", "--dataset", "ring8", "--loss", "wasserstein", "--trick", "gp", "--trick", "clip"], "cannot be combined"),
    (["run", "--dataset", "ring8", "--loss", "ns", "--plugin", "no_such_module_xyz"], "cannot import plugin"),
    (["bench", "nosuchsuite"], "unknown suite"),
    (["leaderboard", "smoke", "--results", "/nonexistent-ganbench"], "no finished runs"),
])
def test_user_mistakes_are_one_line_errors(args, match):
    r = gb_here(*args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert match in r.stderr


def test_run_dry_run_prints_resolved_spec():
    r = gb("run", "--dataset", "ring8", "--loss", "wgan-gp", "--set", "lr_d=3e-4", "--dry-run")
    assert r.returncode == 0 and '"lr_d": 0.0003' in r.stdout and '"optimizer": "adam"' in r.stdout


@pytest.mark.slow(seconds=252)
def test_smoke_bench_end_to_end(tmp_path):
    r = gb("bench", "smoke", "--results", str(tmp_path), "--workers", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    suite = tmp_path / "smoke"
    md = (suite / "leaderboard.md").read_text()
    assert "## ring8" in md and "## digits" in md and "wgan-gp" in md
    csv = (suite / "leaderboard.csv").read_text().splitlines()
    assert csv[0].startswith("dataset,method,metric,mean,std,median,n,ci_lo,ci_hi")
    plots = {p.name for p in (suite / "plots").iterdir()}
    assert {"metric_ring8.png", "curves_ring8.png", "samples_ring8.png", "metric_digits.png"} <= plots
    runs = sorted((suite / "runs").iterdir())
    assert len(runs) == 8 and all((p / "metrics.json").exists() for p in runs)

    # a re-run skips finished cells; a half-written run (checkpoint, no metrics.json) is resumed, not lost
    (runs[0] / "metrics.json").unlink()
    again = gb("bench", "smoke", "--results", str(tmp_path))
    assert again.returncode == 0 and "7 done, 1 interrupted; 1 to run" in again.stdout
    assert (runs[0] / "metrics.json").exists()

    # a finished run the suite no longer contains (its YAML changed) stays on disk but out of the tables
    import shutil

    stale = suite / "runs" / "ring8-ns-s0-0123456789"
    shutil.copytree(runs[-1], stale)
    r = gb("leaderboard", "smoke", "--results", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "1 finished runs under runs/ are from an earlier version" in (suite / "leaderboard.md").read_text()
    header, *body = (suite / "leaderboard.csv").read_text().splitlines()
    n = header.split(",").index("n")
    assert {line.split(",")[n] for line in body} == {"2"} and stale.exists()  # n: still the suite's two seeds
    shutil.rmtree(stale)

    # README's "Add a trick" tutorial, followed literally: its module, its commands, a new leaderboard row
    follow_add_a_trick_tutorial(tmp_path, suite)


def readme_blocks(section: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    body = text.split(f"## {section}")[1].split("\n## ")[0]
    return [b.split("\n", 1)[1] for b in body.split("```")[1::2]]


def follow_add_a_trick_tutorial(tmp_path, suite):
    blocks = readme_blocks("Add a trick")
    module = next(b for b in blocks if b.startswith("# my_tricks.py"))
    (tmp_path / "my_tricks.py").write_text(module)
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}"}

    def run(line, extra=()):
        args = line.split()[1:] + list(extra)
        return subprocess.run([sys.executable, "-m", "ganbench.cli", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)

    commands = [line for b in blocks if not b.startswith("#") for line in b.splitlines() if line.startswith("ganbench")]
    assert [c.split()[1] for c in commands] == ["list", "run", "bench"]
    listed = run(commands[0])
    assert listed.returncode == 0 and "gp0" in listed.stdout and "Thanh-Tung" in listed.stdout
    single = run(commands[1])
    assert single.returncode == 0, single.stderr[-2000:]
    # the tutorial's bench command on the smoke suite: only the new trick's cells run, the rest are reused
    bench = run(commands[2].replace(" tricks ", " smoke "), ["--results", str(tmp_path)])
    assert bench.returncode == 0, bench.stderr[-2000:]
    assert "8 done, 2 pending; 2 to run" in bench.stdout
    md = (suite / "leaderboard.md").read_text()
    assert "Change against the baseline" in md and "| ring8 (modes)" in md and "| Δ " in md
    assert any(line.startswith("| ns+gp0 ") for line in md.split("## ring8")[0].splitlines())  # its row in the Δ summary


PLUGIN = '''
import torch.nn.functional as F
from ganbench.losses import LOSSES, Loss, bce_d, bce_d_targets

LOSSES.register("ns-plugin", Loss(d_loss=bce_d, g_loss=lambda real, fake: F.softplus(-fake).mean(), d_loss_targets=bce_d_targets,
                                  doc="non-saturating loss registered from a plugin (README example)"))
'''


def test_plugin_module_registers_a_loss(tmp_path):
    (tmp_path / "my_losses.py").write_text(PLUGIN)
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}"}
    r = subprocess.run([sys.executable, "-m", "ganbench.cli", "list", "losses", "--plugin", "my_losses"],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ns-plugin" in r.stdout
    r = subprocess.run([sys.executable, "-m", "ganbench.cli", "run", "--plugin", "my_losses", "-d", "ring8", "-l", "ns-plugin",
                        "--steps", "5", "--set", "eval_samples=200", "--out", str(tmp_path / "run")],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "run" / "metrics.json").exists()
    assert "  health: " in r.stdout and "best.pt: step " in r.stdout and "on half B" in r.stdout


def test_report_rerenders_a_committed_report_and_refuses_in_one_line(tmp_path):
    """`ganbench report` rewrites reproduction.md from a committed leaderboard.csv (byte for byte what is
    committed: the report is a function of the CSV and the suite); a suite without a paper, or without results,
    is one line and exit 2."""
    import shutil

    shutil.copytree(REPO / "results" / "unrolled-ring", tmp_path / "unrolled-ring", ignore=shutil.ignore_patterns("plots"))
    r = gb("report", "unrolled-ring", "--results", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "unrolled-ring" / "reproduction.md").read_text() == (REPO / "results" / "unrolled-ring" / "reproduction.md").read_text()
    for args, words in ((("report", "losses"), "reproduces no paper"),
                        (("report", "unrolled-ring", "--results", str(tmp_path / "none")), "does not exist; run `ganbench bench unrolled-ring`")):
        r = gb(*args)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


@pytest.mark.slow(seconds=46)
def test_a_plugin_file_gives_its_row_with_two_workers(tmp_path):
    """`--plugin path/to/file.py` needs no PYTHONPATH, and every spawned worker loads it: the README's gp0 trick,
    added to a suite's tricks axis with --workers 2, trains in the workers and gets its leaderboard row."""
    module = next(b for b in readme_blocks("Add a trick") if b.startswith("# my_tricks.py"))
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "my_tricks.py").write_text(module)
    (tmp_path / "tiny.yaml").write_text("name: tiny\nseeds: 1\nbase: {dataset: ring8, loss: ns, steps: 20, "
                                        "eval_samples: 200, quality_every: 0}\ngrid: {tricks: [[]]}\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-m", "ganbench.cli", "bench", "tiny.yaml", "--plugin", "plugins/my_tricks.py",
                        "--add-trick", "gp0", "--workers", "2", "--results", "out"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "FAILED" not in r.stdout and "2 to run" in r.stdout
    md = (tmp_path / "out" / "tiny" / "leaderboard.md").read_text()
    assert any(line.startswith("| ns+gp0 ") for line in md.splitlines()), md


@pytest.mark.parametrize("source,said", [
    ("def broken(:\n", "syntax error at"),
    ("import math\nraise RuntimeError('boom')\n", "RuntimeError: boom"),
    ("from ganbench.losses import LOSSES, Loss, bce_d, bce_d_targets\nLOSSES.register('ns', Loss(d_loss=bce_d, "
     "g_loss=bce_d, d_loss_targets=bce_d_targets))\n", "already registered"),
])
def test_a_broken_plugin_is_one_line_naming_its_file_and_line(tmp_path, source, said):
    (tmp_path / "bad_plugin.py").write_text(source)
    r = gb("list", "losses", "--plugin", str(tmp_path / "bad_plugin.py"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert said in r.stderr and "bad_plugin.py" in r.stderr
    assert ":2" in r.stderr or ":1" in r.stderr  # the line in the plugin file


def test_a_suite_checks_its_data_before_any_run(tmp_path):
    """A suite whose last cell needs missing data stops before training its first cell, in one line."""
    suite = tmp_path / "two.yaml"
    suite.write_text("name: two\nbase: {loss: ns, steps: 2}\ngrid:\n  dataset: [ring8, cifar10]\n")
    empty = tmp_path / "empty-root"
    empty.mkdir()
    r = gb("bench", str(suite), "--results", str(tmp_path / "res"), "--data-root", str(empty), "--no-download")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "data set 'cifar10' is missing" in r.stderr and str(empty / "cifar-10-batches-py") in r.stderr
    assert "downloads are off" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "res" / "two" / "runs").exists()
