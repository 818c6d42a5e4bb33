"""Executors and faults end to end: worker pools that survive a killed worker, a killed `ganbench bench` that takes
its workers with it, kill-and-rerun under both executors (local workers and Slurm arrays through submitit's local
executor) equal to the serial run, the Slurm command line, and failed cells left for --retry-failed."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganbench import launch, status, store
from ganbench.bench import bench
from ganbench.errors import GanbenchError
from ganbench.spec import load_suite
from helpers import REPO

GANBENCH = [sys.executable, "-m", "ganbench.cli"]

SUITE12 = """name: grid12
description: twelve small cells for the executor tests
seeds: 4
base:
  dataset: ring8
  steps: 400
  log_every: 50
  eval_samples: 500
  arch_options: {g_hidden: 32, g_layers: 2, d_hidden: 32, d_layers: 2, d_act: lrelu}
grid:
  loss: [ns, ls, hinge]
"""
# The kill-and-rerun tests: six cells, enough for two workers (and two Slurm array tasks of three) to be mid-run
SUITE6 = SUITE12.replace("name: grid12", "name: grid6").replace("twelve", "six").replace("seeds: 4", "seeds: 2")


# ---------------------------------------------------------------- helpers run inside pool workers

def _echo_device(job):
    return job, launch._WORKER_DEVICE


def _die_on(job):
    if job == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return job


def _metrics(root: Path) -> dict[str, dict]:
    return {p.name: json.loads((p / "metrics.json").read_text())["metrics"] for p in sorted((root / "runs").iterdir())}


def _kill_one_mid_run(proc: subprocess.Popen, runs: Path, timeout: float = 240) -> str:
    """SIGKILL the worker that holds the first run seen with a checkpoint but no metrics; returns its run id."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "the suite finished before a worker could be killed"
        for d in sorted(runs.iterdir()) if runs.is_dir() else []:
            claim, ckpt = d / store.CLAIM, d / store.CHECKPOINT
            if claim.exists() and ckpt.exists() and not (d / store.METRICS).exists():
                try:
                    pid = int(claim.read_text().split()[0])
                    os.kill(pid, signal.SIGKILL)
                except (OSError, ValueError, IndexError):
                    continue
                return d.name
        time.sleep(0.02)
    raise AssertionError("no run was seen mid-training")


@pytest.fixture(scope="module")
def serial_grid6(tmp_path_factory):
    """The 6-cell suite run serially in one process: the reference every parallel run must equal."""
    root = tmp_path_factory.mktemp("serial")
    (root / "grid6.yaml").write_text(SUITE6)
    assert bench(str(root / "grid6.yaml"), root / "results", workers=1, echo=lambda _: None, progress=False) == 0
    return root, _metrics(root / "results" / "grid6")


# ---------------------------------------------------------------- kill and rerun: equal to the serial run

@pytest.mark.slow
@pytest.mark.parametrize("how", [["--workers", "2"], ["--executor", "slurm", "--slurm-cluster", "local",
                                                       "--runs-per-task", "3"]], ids=["local-2-workers", "submitit-local"])
@pytest.mark.slow(seconds=153)
def test_killed_worker_then_rerun_equals_the_serial_run(serial_grid6, tmp_path, how):
    ref_dir, reference = serial_grid6
    suite = ref_dir / "grid6.yaml"
    assert len(reference) == 6
    cmd = GANBENCH + ["bench", str(suite), "--results", str(tmp_path), "--checkpoint-every", "50", *how]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    killed = _kill_one_mid_run(proc, tmp_path / "grid6" / "runs")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 1, out  # one cell is left interrupted, the others finished
    assert "INTERRUPTED" in out and killed in out
    cells = status.cells([(s, tmp_path / "grid6" / "runs" / s.run_id) for s in load_suite(suite).expand()])
    state = next(c for c in cells if c.spec.run_id == killed)
    assert state.state == "interrupted" and 0 < state.step < 400  # resumes from its checkpoint, not from 0
    left = [c for c in cells if c.state != "done"]
    assert 1 <= len(left) <= (3 if "slurm" in how else 1)  # a killed array task takes the rest of its pack with it
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(left)} to run" in again.stdout
    assert _metrics(tmp_path / "grid6") == reference  # cell for cell, bit for bit


# ---------------------------------------------------------------- the pool

@pytest.mark.slow(seconds=59)
def test_pool_replaces_a_killed_worker_and_finishes_the_rest():
    jobs = ["a", "b", "die", "c", "d"]
    out = launch.pool_map(_die_on, jobs, 2, show=False, on_death=lambda job, code: f"died:{job}:{code}")
    assert sorted(out) == ["a", "b", "c", "d", f"died:die:{-signal.SIGKILL}"]


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_workers_end_with_a_killed_bench(tmp_path, sig):
    """A `ganbench bench` killed from outside (SIGTERM or SIGKILL) takes its worker processes with it within
    seconds: none trains on unwatched, burning the CPU and its cells' claims."""
    (tmp_path / "long.yaml").write_text("name: long\nseeds: 2\nbase: {dataset: ring8, loss: ns, steps: 200000, "
                                        "eval_samples: 64}\ngrid: {loss: [ns]}\n")
    proc = subprocess.Popen([sys.executable, "-m", "ganbench.cli", "bench", str(tmp_path / "long.yaml"), "--workers",
                             "2", "--results", str(tmp_path / "out")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while len(_children(proc.pid)) < 2 and time.time() < deadline:
            time.sleep(0.2)
        workers = _children(proc.pid)
        assert len(workers) >= 2
        proc.send_signal(sig)
        proc.wait(timeout=30)
        deadline = time.time() + 15
        while any(os.path.exists(f"/proc/{w}") and "zombie" not in open(f"/proc/{w}/status").read().lower()
                  for w in workers) and time.time() < deadline:
            time.sleep(0.2)
        assert not [w for w in workers if os.path.exists(f"/proc/{w}")
                    and "zombie" not in open(f"/proc/{w}/status").read().lower()]
    finally:
        proc.kill()
        for w in _children(proc.pid):
            os.kill(w, signal.SIGKILL)


def test_pool_without_on_death_raises():
    with pytest.raises(GanbenchError, match="worker process died"):
        launch.pool_map(_die_on, ["die", "a"], 2, show=False)


def test_workers_are_pinned_to_devices_round_robin():
    out = launch.pool_map(_echo_device, list(range(6)), 2, show=False, devices=["cpu", "meta"])
    seen = {dev for _, dev in out}
    assert seen == {"cpu", "meta"}  # two workers, one per device


# ---------------------------------------------------------------- the slurm executor from the command line

def test_slurm_dry_run_prints_the_array(tmp_path):
    (tmp_path / "grid12.yaml").write_text(SUITE12)
    r = subprocess.run(GANBENCH + ["bench", str(tmp_path / "grid12.yaml"), "--results", str(tmp_path), "--executor",
                                   "slurm", "--dry-run", "--runs-per-task", "5", "--partition", "gpu", "--time", "90"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "slurm array of 3 tasks (5 run(s) per task)" in r.stdout and "slurm_partition=gpu" in r.stdout
    assert "timeout_min=90" in r.stdout and len([ln for ln in r.stdout.splitlines() if "  task " in ln]) == 3
    assert not (tmp_path / "grid12").exists() or not any((tmp_path / "grid12").rglob("metrics.json"))


def test_slurm_without_sbatch_is_a_one_line_error(tmp_path, monkeypatch):
    (tmp_path / "grid12.yaml").write_text(SUITE12)
    env = {**os.environ, "PATH": "/nonexistent"}
    r = subprocess.run(GANBENCH + ["bench", str(tmp_path / "grid12.yaml"), "--results", str(tmp_path),
                                   "--executor", "slurm"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "sbatch" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------- --retry-failed

def test_failed_cells_wait_for_retry_failed(tmp_path):
    (tmp_path / "s.yaml").write_text(SUITE12.replace("seeds: 4", "seeds: 1").replace("steps: 400", "steps: 30")
                                     .replace("[ns, ls, hinge]", "[ns, ls]"))
    specs = load_suite(tmp_path / "s.yaml").expand()
    failed = tmp_path / "res" / "grid12" / "runs" / specs[1].run_id
    failed.mkdir(parents=True)
    (failed / launch.FAILED).write_text("RuntimeError: boom\n")
    said: list[str] = []
    assert bench(str(tmp_path / "s.yaml"), tmp_path / "res", echo=said.append, progress=False) == 1
    assert any("1 failed cell(s) are not re-run" in s for s in said)
    assert not store.is_finished(failed) and store.is_finished(failed.parent / specs[0].run_id)
    said.clear()
    assert bench(str(tmp_path / "s.yaml"), tmp_path / "res", echo=said.append, progress=False,
                 retry_failed=True) == 0
    assert store.is_finished(failed) and not (failed / launch.FAILED).exists()
    assert "1 to run" in said[0]
