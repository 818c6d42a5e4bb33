"""ganbench.api, the notebook's door: a suite's runs and leaderboard as DataFrames equal to what its files hold, one
run from a spec (deterministic for a seed), one-line errors; and docs/api.md's session, run as written."""
import re

import pandas as pd
import pytest
import torch

from ganbench import api, store
from ganbench.bench import bench
from ganbench.errors import ConfigError, GanbenchError, ResultsError, SpecError
from ganbench.spec import build_spec
from helpers import REPO, tiny_suite

SMALL = {"dataset": "ring8", "loss": "ns", "steps": 30, "log_every": 10, "eval_samples": 200, "quality_samples": 100,
         "arch_options": {"g_hidden": 16, "g_layers": 1, "d_hidden": 16, "d_layers": 1}}


@pytest.fixture(scope="module")
def benched(tmp_path_factory):
    """The tiny suite (2 losses x 2 seeds of 20 steps) benched: its YAML and the results root."""
    root = tmp_path_factory.mktemp("api")
    suite = tiny_suite(root)
    lines = []
    assert bench(str(suite), root / "results", progress=False, echo=lines.append) == 0, lines
    return suite, root / "results"


def test_load_results_rows_are_the_runs_metrics_json(benched):
    suite, results = benched
    df = api.load_results(suite, results)
    runs = sorted(p.name for p in (results / "tiny" / "runs").iterdir())
    assert sorted(df.run_id) == runs and len(df) == 4
    for row in df.to_dict("records"):
        rec = store.read_json(results / "tiny" / "runs" / row["run_id"] / store.METRICS)
        spec = store.read_json(results / "tiny" / "runs" / row["run_id"] / store.SPEC)
        assert (row["dataset"], row["method"], row["seed"]) == (spec["dataset"], spec["method"], spec["seed"])
        assert row["health"] == rec["health"]["verdict"]
        assert {k: row[k] for k in rec["metrics"]} == rec["metrics"]  # every metric, exactly
    assert sorted(set(df.method)) == ["hinge", "ns"] and sorted(set(df.seed)) == [0, 1]


def test_leaderboard_is_leaderboard_csv(benched):
    suite, results = benched
    board = api.leaderboard(suite, results)
    csv = pd.read_csv(results / "tiny" / "leaderboard.csv")
    assert list(board.columns) == list(csv.columns) and len(board) == len(csv)
    pd.testing.assert_frame_equal(board.reset_index(drop=True), csv, check_dtype=False)
    runs = api.load_results(suite, results)
    row = board[(board.method == "ns") & (board.metric == "modes")].iloc[0]
    assert row["mean"] == pytest.approx(runs[runs.method == "ns"]["modes"].mean()) and row["n"] == 2


def test_suite_variants_and_mistakes(benched):
    suite, results = benched
    assert len(api.load_results(suite, results, seeds=1)) == 2  # seeds 0 of the suite's cells: reused runs
    with pytest.raises(ResultsError, match="no finished runs.*4 finished runs belong to an earlier version"):
        api.load_results(suite, results, sets={"steps": 5})
    with pytest.raises(SpecError, match="unknown suite"):
        api.load_results("no-such-suite-xyz", results)
    with pytest.raises(GanbenchError, match="unknown test .no-such-test."):
        api.leaderboard(suite, results, test="no-such-test")


def test_run_returns_metrics_json_and_is_deterministic(tmp_path):
    torch.set_num_threads(2)
    try:
        a = api.run(SMALL, out=tmp_path / "a", progress=False)
        assert torch.get_num_threads() == 2  # the caller's thread count is restored
    finally:
        torch.set_num_threads(1)
    assert a == store.read_json(tmp_path / "a" / store.METRICS)
    spec = build_spec(SMALL)
    assert a["run_id"] == spec.run_id and store.read_json(tmp_path / "a" / store.SPEC) == spec.to_json()
    b = api.run(spec, out=tmp_path / "b", progress=False)  # a RunSpec: the same run, trained again elsewhere
    assert b["metrics"] == a["metrics"] and b["health"] == a["health"]
    other = api.run({**SMALL, "seed": 1}, out=tmp_path / "c", progress=False)
    assert other["metrics"] != a["metrics"]


def test_run_default_directory_and_mistakes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rec = api.run({**SMALL, "steps": 5}, progress=False)
    assert (tmp_path / "results" / "runs" / rec["run_id"] / store.METRICS).is_file()  # as `ganbench run`
    with pytest.raises(SpecError, match="has no 'loss'"):
        api.run({"dataset": "ring8"})
    with pytest.raises(SpecError, match="did you mean hinge"):
        api.run({"dataset": "ring8", "loss": "hinj"})
    with pytest.raises(SpecError, match="RunSpec or a mapping"):
        api.run("ring8 ns")
    with pytest.raises(ConfigError, match="unknown execution option devise"):
        api.run(SMALL, devise="cpu")


def python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "docs" / page).read_text(), re.S)


def test_the_api_page_runs_as_written(benched, tmp_path, monkeypatch):
    """docs/api.md's code, every block in one namespace, against the tiny suite's results: its first line names
    the suite and the results directory, and is the only line changed."""
    suite, results = benched
    blocks = python_blocks("api.md")
    assert len(blocks) >= 4 and blocks[0].startswith('SUITE, RESULTS, SEEDS = "smoke", "results", 1\n')
    blocks[0] = blocks[0].replace('"smoke", "results", 1', f"{str(suite)!r}, {str(results)!r}, 2", 1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    scope: dict = {}
    exec(compile("\n".join(blocks), "docs/api.md", "exec"), scope)  # noqa: S102 - the page's own code
    runs, table = scope["runs"], scope["table"]
    assert len(runs) == 4 and set(table.index) == {"ns", "hinge"}
    for method in ("ns", "hinge"):  # the page's table: the mean over seeds of what the runs' metrics.json hold
        fds = [store.read_json(results / "tiny" / "runs" / r / store.METRICS)["metrics"]["fd [coords]"]
               for r in runs[runs.method == method].run_id]
        assert table.loc[method, ("fd [coords]", "mean")] == pytest.approx(sum(fds) / 2)
    assert (tmp_path / "fd_ring8.png").stat().st_size > 1000
    assert set(scope["board"].method) == {"ns", "hinge"}
    rec = scope["record"]
    assert rec == store.read_json(tmp_path / "results" / "runs" / "hinge-try" / store.METRICS)
    assert rec["metrics"]["modes"] == float(rec["metrics"]["modes"]) and rec["health"]["verdict"]
