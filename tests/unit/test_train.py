"""Training: determinism, resume to identical numbers, checkpoints, run directories."""
import json

import pytest
import torch

from ganbench import store
from ganbench.errors import ResultsError
from ganbench.execute import execute
from ganbench.spec import build_spec
from ganbench.execution import ExecOptions


def small_spec(tiny_mlp, **kw):
    return build_spec({"dataset": "ring8", "loss": "ns", "steps": 60, "log_every": 10, "eval_samples": 500,
                       "arch_options": tiny_mlp, **kw})


def test_same_spec_and_seed_give_identical_numbers(tmp_path, tiny_mlp):
    spec = small_spec(tiny_mlp)
    a = execute(spec, tmp_path / "a", ExecOptions(progress=False))
    b = execute(spec, tmp_path / "b", ExecOptions(progress=False))
    assert a["metrics"] == b["metrics"]
    other = execute(small_spec(tiny_mlp, seed=1), tmp_path / "c", ExecOptions(progress=False))
    assert other["metrics"] != a["metrics"]


@pytest.mark.parametrize("loss", ["ns", "wgan-gp"])
def test_killed_run_resumes_to_identical_metrics(tmp_path, tiny_mlp, loss):
    spec = small_spec(tiny_mlp, loss=loss)
    clean = execute(spec, tmp_path / "clean", ExecOptions(progress=False, ckpt_every=1000))
    path = tmp_path / "killed"
    assert execute(spec, path, ExecOptions(progress=False, ckpt_every=20, stop_after=45)) is None
    assert not (path / store.METRICS).exists() and torch.load(path / store.CHECKPOINT, weights_only=True)["step"] == 45
    resumed = execute(spec, path, ExecOptions(progress=False, ckpt_every=20))
    assert resumed["metrics"] == clean["metrics"]
    hist = (path / store.HISTORY).read_text().splitlines()
    assert [r.split(",")[0] for r in hist[1:]] == ["0", "10", "20", "30", "40", "50", "59"]


def test_run_directory_layout(tmp_path, tiny_mlp):
    spec = small_spec(tiny_mlp)
    rec = execute(spec, tmp_path / "r", ExecOptions(progress=False))
    files = {p.name for p in (tmp_path / "r").iterdir()}
    assert {"spec.json", "history.csv", "spectra.csv", "quality.csv", "metrics.json", "samples.png", "checkpoint.pt",
            "best.pt"} <= files
    assert json.loads((tmp_path / "r" / "spec.json").read_text()) == spec.to_json()
    assert rec["main_metric"] == "modes" and rec["protocol"]["fd [coords]"]["features"] == "coords"
    header = (tmp_path / "r" / "history.csv").read_text().splitlines()[0]
    assert header == ("step,loss_d,loss_g,penalty_d,d_acc_real,d_acc_fake,grad_norm_d,grad_norm_g,sigma0_d,sigma0_g,"
                      "wall_time")
    assert rec["health"]["verdict"] in ("ok", "mode-collapse")


def test_finished_run_is_not_recomputed(tmp_path, tiny_mlp):
    spec = small_spec(tiny_mlp)
    execute(spec, tmp_path / "r", ExecOptions(progress=False))
    mtime = (tmp_path / "r" / "metrics.json").stat().st_mtime_ns
    execute(spec, tmp_path / "r", ExecOptions(progress=False))
    assert (tmp_path / "r" / "metrics.json").stat().st_mtime_ns == mtime


def test_a_different_spec_in_the_directory_is_never_overwritten(tmp_path, tiny_mlp):
    path = tmp_path / "r"
    execute(small_spec(tiny_mlp), path, ExecOptions(progress=False, stop_after=5))
    before = (path / "spec.json").read_text()
    with pytest.raises(ResultsError, match="different"):
        execute(small_spec(tiny_mlp, seed=3), path, ExecOptions(progress=False))
    assert (path / "spec.json").read_text() == before


def test_corrupt_checkpoint_is_kept_aside_and_run_redone(tmp_path, tiny_mlp):
    spec = small_spec(tiny_mlp)
    clean = execute(spec, tmp_path / "clean", ExecOptions(progress=False))
    path = tmp_path / "r"
    execute(spec, path, ExecOptions(progress=False, stop_after=30))
    (path / store.CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="kept as"):
        rec = execute(spec, path, ExecOptions(progress=False))
    assert rec["metrics"] == clean["metrics"]
    assert any(p.name.startswith("checkpoint.pt.bad-") for p in path.iterdir())


def test_a_checkpoint_without_its_checksum_is_never_used(tmp_path, tiny_mlp):
    """checkpoint.pt whose .sha256 is gone cannot be verified: it is set aside like a corrupt one (the run resumes
    from the previous checkpoint or restarts, with the same numbers), and best.pt is refused in one line."""
    spec = small_spec(tiny_mlp)
    clean = execute(spec, tmp_path / "clean", ExecOptions(progress=False))
    path = tmp_path / "r"
    execute(spec, path, ExecOptions(progress=False, stop_after=30))
    (path / (store.CHECKPOINT + store.DIGEST)).unlink()
    with pytest.warns(UserWarning, match="no readable checksum"):
        rec = execute(spec, path, ExecOptions(progress=False))
    assert rec["metrics"] == clean["metrics"]
    best = tmp_path / "clean" / store.BEST
    if best.exists():
        (best.with_name(best.name + store.DIGEST)).unlink()
        with pytest.raises(ResultsError, match="cannot be verified"):
            store.load_verified(best)


def test_a_cell_finished_by_another_process_meanwhile_is_not_run_again(tmp_path, tiny_mlp, monkeypatch):
    """The check before the claim can be stale: after taking the claim, execute looks again."""
    spec = small_spec(tiny_mlp)
    path = tmp_path / "r"
    first = execute(spec, path, ExecOptions(progress=False))
    real, calls = store.is_finished, []

    def stale_once(p):
        calls.append(p)
        return False if len(calls) == 1 else real(p)

    monkeypatch.setattr(store, "is_finished", stale_once)
    monkeypatch.setattr("ganbench.execute.build", lambda *a, **k: pytest.fail("evaluated twice"))
    assert execute(spec, path, ExecOptions(progress=False)) == first


def test_claim_refuses_a_live_owner(tmp_path):
    import os
    import subprocess
    import sys
    import time

    (tmp_path / "r").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.05)  # the claim is written after its owner started, as a real claim is
        (tmp_path / "r" / ".claim").write_text(f"{proc.pid} {time.time():.3f}\n")
        with pytest.raises(ResultsError, match="being run"):
            with store.claim(tmp_path / "r"):
                pass
    finally:
        proc.kill()
        proc.wait()
    with store.claim(tmp_path / "r"):  # the owner is dead: the stale claim is taken over
        assert (tmp_path / "r" / ".claim").read_text().split()[0] == str(os.getpid())


def test_atomic_writes_leave_ordinary_file_permissions(tmp_path):
    import os

    store.write_text(tmp_path / "a.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~umask
    assert not list(tmp_path.glob(".a.txt.*"))  # no temporary file left


def test_live_curves_get_every_logged_statistic_and_probe(tmp_path, tiny_mlp, monkeypatch):
    """--tensorboard: each logged step's row of history.csv and each probe's scores become scalars under
    DIR/<run_id>, the same numbers as the run's files; the numbers of the run do not change."""
    from ganbench import monitor

    written = []

    class Writer:  # torch.utils.tensorboard.SummaryWriter's interface, recording what it is given
        def __init__(self, log_dir, flush_secs):
            self.log_dir = log_dir

        def add_scalar(self, tag, value, step):
            written.append((self.log_dir, tag, value, step))

        def close(self):
            written.append((self.log_dir, "closed", None, None))

    monkeypatch.setattr(monitor, "summary_writer", lambda: Writer)
    spec = small_spec(tiny_mlp, quality_every=30, quality_samples=200)
    rec = execute(spec, tmp_path / "run", ExecOptions(progress=False, tensorboard=str(tmp_path / "tb")))
    plain = execute(spec, tmp_path / "plain", ExecOptions(progress=False))
    assert rec["metrics"] == plain["metrics"]
    assert {w[0] for w in written} == {str(tmp_path / "tb" / spec.run_id)} and written[-1][1] == "closed"
    history = store.read_history(tmp_path / "run")
    for row in history:
        got = {tag[6:]: v for _, tag, v, st in written if tag.startswith("train/") and st == int(row["step"])}
        assert got == {k: pytest.approx(float(v)) for k, v in row.items() if k not in ("step", "wall_time") and v != ""}
    probes = store.read_history(tmp_path / "run", store.QUALITY)
    assert [st for _, tag, _, st in written if tag == "probe/select"] == [int(r["step"]) for r in probes] == [30, 60]


def test_live_curves_without_tensorboard_are_one_line():
    from ganbench import monitor
    from ganbench.errors import ConfigError

    try:
        import tensorboard  # noqa: F401
        pytest.skip("tensorboard is installed here")
    except ImportError:
        pass
    with pytest.raises(ConfigError, match="needs the tensorboard package: pip install tensorboard"):
        monitor.Live("/tmp/never", "run")
