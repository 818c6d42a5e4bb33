"""Executors and faults: worker pools that survive a killed worker, Slurm arrays through submitit's local executor,
claims with heartbeats, checksummed checkpoints with a fallback, `ganbench status`, --retry-failed."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganbench import launch, status, store
from ganbench.bench import bench, make_launch
from ganbench.errors import GanbenchError, SpecError
from ganbench.execute import execute
from ganbench.spec import build_spec, load_suite
from ganbench.execution import ExecOptions

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
def serial_grid12(tmp_path_factory):
    """The 12-cell suite run serially in one process: the reference every parallel run must equal."""
    root = tmp_path_factory.mktemp("serial")
    (root / "grid12.yaml").write_text(SUITE12)
    assert bench(str(root / "grid12.yaml"), root / "results", workers=1, echo=lambda _: None, progress=False) == 0
    return root, _metrics(root / "results" / "grid12")


# ---------------------------------------------------------------- the acceptance test

@pytest.mark.slow
@pytest.mark.parametrize("how", [["--workers", "2"], ["--executor", "slurm", "--slurm-cluster", "local",
                                                       "--runs-per-task", "3"]], ids=["local-2-workers", "submitit-local"])
def test_killed_worker_then_rerun_equals_the_serial_run(serial_grid12, tmp_path, how):
    ref_dir, reference = serial_grid12
    suite = ref_dir / "grid12.yaml"
    assert len(reference) == 12
    cmd = GANBENCH + ["bench", str(suite), "--results", str(tmp_path), "--checkpoint-every", "50", *how]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    killed = _kill_one_mid_run(proc, tmp_path / "grid12" / "runs")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 1, out  # one cell is left interrupted, the others finished
    assert "INTERRUPTED" in out and killed in out
    cells = status.cells([(s, tmp_path / "grid12" / "runs" / s.run_id) for s in load_suite(suite).expand()])
    state = next(c for c in cells if c.spec.run_id == killed)
    assert state.state == "interrupted" and 0 < state.step < 400  # resumes from its checkpoint, not from 0
    left = [c for c in cells if c.state != "done"]
    assert 1 <= len(left) <= (3 if "slurm" in how else 1)  # a killed array task takes the rest of its pack with it
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(left)} to run" in again.stdout
    assert _metrics(tmp_path / "grid12") == reference  # cell for cell, bit for bit


# ---------------------------------------------------------------- the pool

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


# ---------------------------------------------------------------- launch settings and the slurm executor

def test_launch_section_and_command_line():
    got = make_launch({"partition": "gpu", "time_min": 60, "runs_per_task": 4}, {"time_min": 30, "devices": "cuda:0,cuda:1",
                                                                                "workers": None}, "suite x")
    assert (got.partition, got.time_min, got.runs_per_task, got.devices, got.workers) == \
        ("gpu", 30, 4, ("cuda:0", "cuda:1"), 1)
    with pytest.raises(SpecError, match="unknown launch key partitoin"):
        make_launch({"partitoin": "gpu"}, {}, "suite x")
    with pytest.raises(SpecError, match="positive integer"):
        make_launch({"runs_per_task": 0}, {}, "suite x")


def test_packs_balance_and_cover_every_job(tiny_mlp, tmp_path):
    specs = [build_spec({"dataset": "ring8", "loss": "ns", "seed": i, "steps": 10 * (i + 1), "arch_options": tiny_mlp})
             for i in range(7)]
    jobs = [(s, tmp_path / s.run_id) for s in specs]
    packs = launch.packs(jobs, launch.Launch(runs_per_task=3), ExecOptions())
    assert len(packs) == 3 and sorted(len(p.jobs) for p in packs) == [2, 2, 3]
    assert sorted(s.run_id for p in packs for s, _, _ in p.jobs) == sorted(s.run_id for s in specs)
    assert packs[0].jobs[0][0].steps == 70  # the longest first
    params = launch.slurm_parameters(launch.Launch(partition="gpu", gpus_per_task=2, extra={"slurm_mem": "8G"}))
    assert params["slurm_partition"] == "gpu" and params["gpus_per_node"] == 2 and params["slurm_mem"] == "8G"
    assert hasattr(packs[0], "checkpoint")  # submitit requeues a preempted pack


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


# ---------------------------------------------------------------- claims

def test_claim_from_another_host_is_live_until_its_heartbeat_stops(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / store.CLAIM).write_text(f"123 {time.time():.0f} some-other-host\n")
    with pytest.raises(store.ClaimHeld, match="some-other-host"):
        with store.claim(d):
            pass
    old = time.time() - store.CLAIM_TIMEOUT_S - 5
    os.utime(d / store.CLAIM, (old, old))  # the node went away: no heartbeat for longer than the timeout
    with store.claim(d):
        assert (d / store.CLAIM).read_text().split()[2] == socket.gethostname()
    assert not (d / store.CLAIM).exists()


def test_claim_heartbeat_touches_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "HEARTBEAT_S", 0.05)
    d = tmp_path / "r"
    with store.claim(d):
        old = time.time() - 100
        os.utime(d / store.CLAIM, (old, old))
        time.sleep(0.3)
        assert time.time() - (d / store.CLAIM).stat().st_mtime < 5


def test_a_reused_pid_is_not_an_owner(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        d = tmp_path / "r"
        d.mkdir()
        (d / store.CLAIM).write_text(f"{proc.pid} {time.time() - 3600:.0f} {socket.gethostname()}\n")
        assert store.claim_owner(d) is None  # that process started after the claim was written: not its owner
        (d / store.CLAIM).write_text(f"{proc.pid} {time.time() + 1:.0f} {socket.gethostname()}\n")
        assert store.claim_owner(d)["pid"] == proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_a_busy_cell_is_left_to_its_owner(tmp_path, tiny_mlp):
    spec = build_spec({"dataset": "ring8", "loss": "ns", "steps": 20, "arch_options": tiny_mlp})
    path = tmp_path / spec.run_id
    path.mkdir()
    (path / store.CLAIM).write_text(f"1 {time.time():.0f} another-node\n")
    out = launch.run_one((spec, path, ExecOptions(progress=False)))
    assert out.status == "busy" and out.ok and not (path / launch.FAILED).exists()


# ---------------------------------------------------------------- checkpoints

def _flip_a_byte(f: Path) -> None:
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path, tiny_mlp, damage):
    spec = build_spec({"dataset": "ring8", "loss": "ns", "steps": 60, "log_every": 10, "eval_samples": 500,
                       "arch_options": tiny_mlp})
    clean = execute(spec, tmp_path / "clean", ExecOptions(progress=False))
    path = tmp_path / "r"
    execute(spec, path, ExecOptions(progress=False, ckpt_every=20, stop_after=45))
    assert store.load_checkpoint(path)["step"] == 45 and (path / store.PREVIOUS).exists()
    ckpt = path / store.CHECKPOINT
    if damage == "truncate":
        ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    else:  # a flipped byte in the tensor data still loads without a checksum: only the digest catches it
        _flip_a_byte(ckpt)
    with pytest.warns(UserWarning, match="kept as"):
        assert store.load_checkpoint(path)["step"] == 40
    assert any(p.name.startswith("checkpoint.pt.bad-") for p in path.iterdir())
    rec = execute(spec, path, ExecOptions(progress=False, ckpt_every=20))
    assert rec["metrics"] == clean["metrics"]


def test_checkpoints_load_with_weights_only(tmp_path):
    f = tmp_path / store.CHECKPOINT
    store.save_checkpoint(f, {"step": 3, "w": torch.ones(2)})
    assert store.load_verified(f)["step"] == 3
    import pickle

    import hashlib

    data = pickle.dumps({"step": 5, "x": print})  # an arbitrary pickle, with a matching checksum, is refused, never run
    f.write_bytes(data)
    (tmp_path / (store.CHECKPOINT + store.DIGEST)).write_text(hashlib.sha256(data).hexdigest() + "  checkpoint.pt\n")
    with pytest.raises(pickle.UnpicklingError):
        store.load_verified(f)


# ---------------------------------------------------------------- status and --retry-failed

def test_status_names_each_state_and_gives_an_eta(tmp_path, tiny_mlp):
    specs = [build_spec({"dataset": "ring8", "loss": "ns", "seed": i, "steps": 40, "log_every": 10,
                         "eval_samples": 500, "arch_options": tiny_mlp}) for i in range(5)]
    paths = [tmp_path / s.run_id for s in specs]
    execute(specs[0], paths[0], ExecOptions(progress=False))  # done
    execute(specs[1], paths[1], ExecOptions(progress=False, ckpt_every=10, stop_after=20))  # interrupted
    paths[2].mkdir()
    (paths[2] / launch.FAILED).write_text("Traceback (most recent call last):\nRuntimeError: out of memory\n")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        paths[3].mkdir()
        (paths[3] / store.CLAIM).write_text(f"{proc.pid} {time.time() + 1:.0f} {socket.gethostname()}\n")
        cells = status.cells(list(zip(specs, paths)))
        assert [c.state for c in cells] == ["done", "interrupted", "failed", "running", "pending"]
        assert cells[1].step == 20 and cells[2].detail == "RuntimeError: out of memory"
        lines = status.report("t", cells, workers=2)
    finally:
        proc.kill()
        proc.wait()
    assert lines[0] == "suite t: 5 cells: 1 done, 1 running, 1 failed, 1 interrupted, 1 pending"
    assert any("RuntimeError: out of memory" in ln for ln in lines)
    eta = status.eta_seconds(cells, workers=1)
    wall = json.loads((paths[0] / "metrics.json").read_text())["cost"]["wall_s"]
    assert eta == pytest.approx(wall * (0.5 + 3), rel=1e-6)  # half of one run left, three whole ones
    assert any(ln.startswith("ETA with 2 worker(s): ") for ln in lines)


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
