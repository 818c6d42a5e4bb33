"""Figures never cost a leaderboard: a damaged per-run figure file loses that figure's row, nothing more."""
import pandas as pd
import pytest
import torch

from ganbench import plots, store


def test_a_damaged_probe_points_file_costs_only_its_row_of_the_trajectory_plot(tmp_path):
    runs = tmp_path / "runs"
    df = pd.DataFrame({"dataset": ["ring8", "ring8"], "method": ["ns", "hinge"], "seed": [0, 0], "run_id": ["a", "b"]})
    (runs / "a").mkdir(parents=True)
    (runs / "b").mkdir()
    store.save_torch(runs / "a" / store.PROBE_POINTS, {"step": torch.tensor([10, 20]), "points": torch.randn(2, 50, 2)})
    (runs / "b" / store.PROBE_POINTS).write_bytes(b"truncated")
    with pytest.warns(UserWarning, match="left out of the trajectory plot"):
        out = plots.trajectory_plot(tmp_path, df, "ring8", tmp_path / "plots")
    assert out is not None and out.exists()
    (runs / "a" / store.PROBE_POINTS).write_bytes(b"")
    with pytest.warns(UserWarning):
        assert plots.trajectory_plot(tmp_path, df, "ring8", tmp_path / "plots2") is None
