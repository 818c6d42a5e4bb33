"""What the command line says: -q/-v on every command, progress off a terminal (a line per finished cell, a line per
tenth of a run's steps) and bars on one, `bench --set/--seeds` (its cells only in its leaderboard), and an example
at the end of every command's --help."""
import contextlib
import io
import re

import click
import pandas as pd
import pytest

from ganbench import cli, launch, progress, store
from ganbench.spec import build_spec
from helpers import gb_here, tiny_suite


class Terminal(io.StringIO):
    def isatty(self):
        return True


# ---------------------------------------------------------------- progress: lines off a terminal, bars on one

def test_progress_lines_off_a_terminal_and_a_bar_on_one():
    out = io.StringIO()
    p = progress.Progress(30, "ring8-ns-s0-abc", "step", True, every=progress.RUN_LINES, stream=out)
    for _ in range(30):
        p.update(1)
    p.close()
    lines = out.getvalue().splitlines()
    assert [re.sub(r", [\d.]+ s$", "", line) for line in lines] == \
        [f"ring8-ns-s0-abc: step {3 * k}/30 ({10 * k}%)" for k in range(1, 11)]
    out = io.StringIO()  # resumed at step 14: the lines go on from the next tenth
    p = progress.Progress(30, "r", "step", True, every=0.1, initial=14, stream=out)
    p.update(1)
    p.update(1)
    assert out.getvalue().startswith("r: step 15/30 (50%)") and len(out.getvalue().splitlines()) == 1
    out = io.StringIO()  # a suite: one line per finished cell, with its note
    p = progress.Progress(2, "runs", "run", True, stream=out)
    p.update(1, "ring8 ns s0: ok (1.2 s)")
    p.update(1)
    assert out.getvalue().splitlines() == ["[1/2] ring8 ns s0: ok (1.2 s)", "[2/2] runs"]
    for show in (None, False):  # None: a bar on a terminal only (a suite's runs in workers); False: nothing (-q)
        out = io.StringIO()
        p = progress.Progress(10, "r", "step", show, every=0.1, stream=out)
        p.update(10)
        p.close()
        assert out.getvalue() == ""
    tty = Terminal()
    p = progress.Progress(10, "r", "step", None, every=0.1, stream=tty, notes=True)
    p.update(5, "a note")
    p.close()
    assert "\r" in tty.getvalue() and "[5/10] a note" in tty.getvalue()  # tqdm's bar, the note above it


def _outcome(i):
    return launch.Outcome(f"run{i}", True, label=f"ring8 ns s{i}", seconds=1.5 + i, path=f"/r/run{i}")


def test_a_pool_writes_a_line_per_finished_job_off_a_terminal():
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        out = launch.pool_map(_outcome, [0, 1, 2], 1)
    assert [o.run_id for o in out] == ["run0", "run1", "run2"]
    assert err.getvalue().splitlines() == ["[1/3] ring8 ns s0: ok (1.5 s)", "[2/3] ring8 ns s1: ok (2.5 s)",
                                           "[3/3] ring8 ns s2: ok (3.5 s)"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        launch.pool_map(_outcome, [0], 1, verbose=True)
    assert err.getvalue() == "[1/1] ring8 ns s0: ok (1.5 s) /r/run0\n"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        launch.pool_map(_outcome, [0, 1], 1, show=False)
    assert err.getvalue() == ""
    spec = build_spec({"dataset": "ring8", "loss": "ns", "seed": 2, "tricks": ["sn"]})
    assert launch.cell_label(spec) == "ring8 ns+sn s2"
    failed = launch.Outcome("x", False, "ValueError: no", label="ring8 ns s0", seconds=12.4)
    assert failed.line() == "ring8 ns s0: failed (12 s)"


# ---------------------------------------------------------------- ganbench run: progress and -q/-v

def run_args(out, *extra):
    arch = "{g_hidden: 16, g_layers: 1, d_hidden: 16, d_layers: 1}"
    return ["run", "-d", "ring8", "-l", "ns", "--steps", "30", "--out", str(out), "--set", "eval_samples=200",
            "--set", "quality_samples=100", "--set", f"arch_options={arch}", *extra]


def test_run_progress_and_verbosity(tmp_path):
    r = gb_here(*run_args(tmp_path / "a"))
    assert r.returncode == 0, r.stderr
    steps = [re.sub(r", [\d.]+ s$", "", line.split(": ", 1)[1]) for line in r.stderr.splitlines()]
    assert steps == [f"step {3 * k}/30 ({10 * k}%)" for k in range(1, 11)]  # stderr is no terminal here: lines
    assert r.stdout.splitlines()[0].endswith(f"-> {tmp_path / 'a'}") and "  health: " in r.stdout
    rec = store.read_json(tmp_path / "a" / store.METRICS)
    q = gb_here("-q", *run_args(tmp_path / "b", "--seed", "1"))
    assert q.returncode == 0 and q.stderr == ""  # no progress
    assert not any("->" in line for line in q.stdout.splitlines())  # results only: the metrics and the verdict
    assert len(q.stdout.splitlines()) == len(rec["metrics"]) + 2  # metrics, health, best.pt
    v = gb_here(*run_args(tmp_path / "a", "-v"))  # finished: read back
    assert v.returncode == 0 and "  time: train " in v.stdout and "metrics.json" in v.stdout
    assert v.stdout.splitlines()[-1].startswith("ganbench run took ") and v.stderr == ""


@pytest.mark.parametrize("args", [["-q", "list", "-v", "archs"], ["list", "archs", "-q", "--verbose"]])
def test_quiet_and_verbose_together_is_one_line(args):
    r = gb_here(*args)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "contradict" in r.stderr


# ---------------------------------------------------------------- bench --set/--seeds

def leaderboard_rows(results):
    return pd.read_csv(results / "tiny" / "leaderboard.csv")


def test_bench_set_and_seeds_run_and_aggregate_their_own_cells(tmp_path):
    suite, results = tiny_suite(tmp_path), tmp_path / "res"
    r = gb_here("bench", str(suite), "--results", str(results), "--seeds", "1", "--set", "steps=10")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "suite tiny: 2 runs, 2 pending; 2 to run" in r.stdout and "wrote " in r.stdout
    cells = [re.sub(r" \([\d.]+ s\)$", "", line) for line in r.stderr.splitlines()]
    assert cells == ["[1/2] ring8 ns s0: ok", "[2/2] ring8 hinge s0: ok"]  # stderr is no terminal: a line per cell
    specs = [store.read_json(p / store.SPEC) for p in (results / "tiny" / "runs").iterdir()]
    assert sorted((s["loss"], s["steps"], s["seed"]) for s in specs) == [("hinge", 10, 0), ("ns", 10, 0)]
    board = leaderboard_rows(results)
    assert set(board.n) == {1} and set(board.method) == {"ns", "hinge"}
    assert "changed on the command line (`ganbench bench --set/--seeds`): steps=10; seed 0" in \
        (results / "tiny" / "leaderboard.md").read_text()

    # more seeds: seed 0 is reused, seed 1 runs; -q prints nothing on success
    q = gb_here("-q", "bench", str(suite), "--results", str(results), "--seeds", "2", "--set", "steps=10")
    assert q.returncode == 0 and q.stdout == "" and q.stderr == "", q.stdout + q.stderr
    assert len(list((results / "tiny" / "runs").iterdir())) == 4
    board = leaderboard_rows(results)
    assert set(board.n) == {2}
    row = board[(board.method == "hinge") & (board.metric == "modes")].iloc[0]
    runs = [store.read_json(p / store.METRICS) for p in (results / "tiny" / "runs").iterdir() if "hinge" in p.name]
    assert row["mean"] == pytest.approx(sum(r["metrics"]["modes"] for r in runs) / 2)

    # the suite's own cells (20 steps) never ran: its leaderboard has none of these runs
    own = gb_here("leaderboard", str(suite), "--results", str(results))
    assert own.returncode == 2 and "no finished runs" in own.stderr and "other --set/--seeds" in own.stderr
    st = gb_here("status", str(suite), "--results", str(results), "--set", "steps=10", "--seeds", "2")
    assert st.returncode == 0 and "4 cells: 4 done" in st.stdout
    v = gb_here("leaderboard", str(suite), "--results", str(results), "--set", "steps=10", "--seeds", "2", "-v")
    assert v.returncode == 0 and "wrote " in v.stdout
    assert v.stdout.splitlines()[-1].startswith("ganbench leaderboard took")
    assert gb_here("leaderboard", str(suite), "--results", str(results), "--set", "steps=10", "--seeds", "2",
                   "-q").stdout == ""


@pytest.mark.parametrize("args,match", [
    (["--set", "seed=1"], "--set seed: a suite's seeds are its own; run others with --seeds"),
    (["--set", "steps=0"], "--set: steps=0 is out of range"),
    (["--set", "lr=3"], "unknown run-spec key 'lr' in --set"),
    (["--set", "steps"], "write key=value"),
    (["--seeds", "0"], "'--seeds': 0 is not in the range"),
    (["--seeds", "two"], "'--seeds': 'two' is not a valid integer"),
])
def test_bench_set_and_seeds_mistakes_are_one_line(tmp_path, args, match):
    r = gb_here("bench", str(tiny_suite(tmp_path)), "--results", str(tmp_path / "res"), *args)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert match in r.stderr
    assert not (tmp_path / "res").exists()


def test_a_searched_field_cannot_be_set(tmp_path):
    suite = tmp_path / "searched.yaml"
    search = "search:\n  samples: 2\n  space: {lr_g: {log_uniform: [1.0e-4, 1.0e-2]}}\n"
    suite.write_text(tiny_suite(tmp_path).read_text() + search)
    r = gb_here("bench", str(suite), "--results", str(tmp_path / "res"), "--set", "lr_g=1e-3", "--dry-run")
    assert r.returncode == 2 and "--set lr_g: the suite's search draws lr_g" in r.stderr
    ok = gb_here("bench", str(suite), "--results", str(tmp_path / "res"), "--set", "lr_d=1e-3", "--dry-run")
    assert ok.returncode == 0 and "8 runs" in ok.stdout  # 2 cells x 2 seeds x 2 samples


def test_a_reproduction_report_names_what_the_command_line_changed():
    from ganbench.spec import load_suite

    suite = load_suite("unrolled-ring", given={"steps": 5}, seeds=1)
    assert suite.seeds == (0,) and suite.variant == "steps=5; seed 0"
    assert "changed on the command line: steps=5; seed 0" in suite.reproduces.variant
    assert suite.reproduces.differences[-1] == "changed on the command line: steps=5; seed 0"
    assert {c.steps for c in suite.expand()} == {5}
    plain = load_suite("unrolled-ring")
    assert plain.variant == "" and "command line" not in plain.reproduces.variant


# ---------------------------------------------------------------- every --help ends with an example

def commands(group: click.Group, path=()):
    yield path, group
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, path + (name,))
        else:
            yield path + (name,), command


@pytest.mark.parametrize("path", [p for p, _ in commands(cli.cli)], ids=lambda p: " ".join(p) or "ganbench")
def test_every_help_ends_with_an_example(path):
    r = gb_here(*path, "--help")
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1].strip()
    assert last.startswith("Example: ganbench " + " ".join(path)), last
    assert "-q, --quiet" in r.stdout and "-v, --verbose" in r.stdout
