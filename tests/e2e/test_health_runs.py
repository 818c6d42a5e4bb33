"""Training health on runs that really train (planted failures: a learning rate that diverges, a setting that
collapses, the same budget healthy), and `ganbench health` on finished runs: the verdict, the signal plots, and the
sample plots from the kept checkpoints."""
import pytest

from ganbench import diagnostics, health, store
from ganbench.errors import ResultsError
from ganbench.execute import execute
from ganbench.spec import build_spec
from ganbench.execution import ExecOptions
from helpers import gb


MLP = {"g_hidden": 128, "g_layers": 3, "d_hidden": 128, "d_layers": 2, "d_act": "lrelu", "init": "torch"}


def run(tmp_path, name, **fields):
    spec = build_spec({"dataset": "ring8", "loss": "ns", "batch_size": 128, "arch_options": MLP, "seed": 0, **fields})
    return execute(spec, tmp_path / name, ExecOptions(progress=False))


def test_planted_failures_are_detected(tmp_path):
    # a learning rate far too high: Adam at 10 blows up the weights within the first steps
    rec = run(tmp_path, "lr", lr_g=10.0, lr_d=10.0, steps=300)
    assert rec["health"]["verdict"] == "diverged" and rec["health"]["step"] <= 50, rec["health"]
    # a setting known to collapse on ring8: no batch norm in G and a 256-dimensional latent
    rec = run(tmp_path, "collapse", lr_g=1e-3, lr_d=1e-3, z_dim=256, steps=500,
              arch_options={**MLP, "g_bn": False})
    assert rec["health"]["verdict"] == "mode-collapse" and rec["metrics"]["modes"] <= 2
    probes = store.read_history(tmp_path / "collapse", store.QUALITY)
    onset = rec["health"]["step"]
    assert all(float(p["modes"]) <= 4 for p in probes if int(p["step"]) >= onset) and onset < 500
    assert rec["metrics"]["diversity"] < 0.3
    # the same budget with batch norm in G is healthy
    rec = run(tmp_path, "healthy", lr_g=1e-3, lr_d=1e-3, steps=500)
    assert rec["health"] == {"verdict": "ok", "step": None, "evidence": "", "version": health.DETECTORS_VERSION}
    assert rec["metrics"]["modes"] == 8
    assert rec["metrics"]["diversity"] > 0.9
    spectra = store.read_history(tmp_path / "healthy", store.SPECTRA)
    assert {r["step"] for r in spectra} >= {"-1", "0", "499"}  # at initialisation and at every logged step


@pytest.mark.slow(seconds=67)
def test_health_command_prints_the_verdict_and_plots_the_signals(tmp_path):
    rec = run(tmp_path, "lr", lr_g=10.0, lr_d=10.0, steps=120)
    r = gb("health", str(tmp_path / "lr"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("lr: diverged at step 0: the largest singular value") and rec["health"]["step"] == 0
    assert (tmp_path / "lr" / "health.png").stat().st_size > 10_000
    r = gb("health", str(tmp_path))
    assert r.returncode == 2 and "not a finished run directory" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow(seconds=46)
def test_health_command_writes_the_sample_plots(digits_run):
    path, _ = digits_run
    r = gb("health", str(path), "--checkpoint", "best")
    assert r.returncode == 0, r.stderr
    assert "modes covered" in r.stdout and (path / "modes.png").stat().st_size > 5_000
    assert (path / "neighbours.png").stat().st_size > 5_000
    (path / store.CHECKPOINT).rename(path / "moved.pt")
    try:
        r = gb("health", str(path))
        assert r.returncode == 0 and "has no checkpoint.pt" in r.stderr
        with pytest.raises(ResultsError, match="no checkpoint.pt"):
            diagnostics.run_samples(path)
    finally:
        (path / "moved.pt").rename(path / store.CHECKPOINT)
