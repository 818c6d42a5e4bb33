"""Launch settings and Slurm packs, claims with heartbeats, checksummed checkpoints with a fallback, `ganbench
status` (worker pools, killed workers and benches, the Slurm command line and --retry-failed: tests/e2e/test_executors.py)."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganbench import launch, status, store
from ganbench.bench import make_launch
from ganbench.errors import SpecError
from ganbench.execute import execute
from ganbench.spec import build_spec
from ganbench.execution import ExecOptions

# ---------------------------------------------------------------- launch settings and slurm packs

def test_launch_section_and_command_line():
    got = make_launch({"partition": "gpu", "time_min": 60, "runs_per_task": 4}, {"time_min": 30, "devices": "cuda:0,cuda:1",
                                                                                "workers": None}, "suite x")
    assert (got.partition, got.time_min, got.runs_per_task, got.devices, got.workers) == \
        ("gpu", 30, 4, ("cuda:0", "cuda:1"), 1)
    with pytest.raises(SpecError, match="unknown launch key partitoin"):
        make_launch({"partitoin": "gpu"}, {}, "suite x")
    with pytest.raises(SpecError, match="positive integer"):
        make_launch({"runs_per_task": 0}, {}, "suite x")
    assert make_launch({"batch_seeds": True}, {}, "suite x").batch_seeds is True
    assert make_launch({}, {}, "suite x").batch_seeds is False
    with pytest.raises(SpecError, match="launch batch_seeds must be true or false, not 'yes please'"):
        make_launch({"batch_seeds": "yes please"}, {}, "suite x")


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


# ---------------------------------------------------------------- status

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
