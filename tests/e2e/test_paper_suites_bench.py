"""The paper-scale suites' smoke scales run end to end through `bench` on the fixtures (scored in the MNIST
classifier's feature space, the offline stand-in for Inception, which the protocol records)."""
import pytest

from ganbench import store
from ganbench.bench import bench
from ganbench.spec import load_suite
from helpers import PAPER_SUITES


@pytest.mark.parametrize("name", PAPER_SUITES)
@pytest.mark.slow(seconds=81)
def test_smoke_scale_runs_end_to_end(name, tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_FEATURES", "ganbench-mnist")
    lines = []
    assert bench(name, tmp_path, scale="smoke", echo=lines.append) == 0, lines
    root = tmp_path / f"{name}-smoke"
    md = (root / "leaderboard.md").read_text()
    specs = load_suite(name, scale="smoke").expand()
    assert all(f"| {s.method} " in md for s in specs) and "Protocol:" in md
    rec = store.read_json(root / "runs" / specs[0].run_id / store.METRICS)
    fid = next(c for c in rec["metrics"] if c.startswith("fid ["))
    proto = rec["protocol"][fid]
    assert proto["features"].startswith("ganbench-mnist@") and proto["n_gen"] == specs[0].eval_samples
    assert proto["reference"] == "train" and proto["g_mode"] == "eval" and proto["generator"] == "G"
    cost = rec["cost"]
    assert cost["images_seen"] == specs[0].steps * specs[0].batch_size and cost["peak_memory_mib"] > 0
    assert {"device_model", "torch", "torchvision", "torch-fidelity", "numpy", "wall_s", "train_s", "eval_s", "peak_train_mib", "peak_eval_mib"} <= set(cost)
    assert cost["train_s"] + cost["eval_s"] <= cost["wall_s"] and cost["peak_memory_mib"] == max(cost["peak_train_mib"], cost["peak_eval_mib"])
    if name == "stacked-mnist":
        modes = next(c for c in rec["metrics"] if c.startswith("modes ["))
        assert modes.startswith("modes [ganbench-stacked-mnist@") and rec["protocol"][modes]["kl_reference"] == "uniform"
        assert rec["protocol"][modes]["num_modes"] == 1000
