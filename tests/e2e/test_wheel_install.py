"""A user's first hour from a wheel: ganbench built into a wheel from this checkout, installed into a fresh virtual
environment outside the checkout, runs its shipped smoke suite by name from a directory that has no suites/.

The fresh environment installs no dependency (offline, and CI's time is budgeted): torch and the rest are found in
the running interpreter's site-packages, which a .pth file puts on the new environment's path after its own, so the
wheel's ganbench is the one imported (the running environment's editable install is never activated there: .pth
files of a directory named in a .pth line are not read)."""
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from helpers import REPO

# What a wheel is built from: the project's metadata, its code and its suites (copied, so that the build writes
# neither build/ nor *.egg-info into the checkout and no stale build/lib reaches the wheel).
SOURCES = ["pyproject.toml", "README.md", "ganbench", "suites"]


def build_wheel(out: Path) -> Path:
    """The wheel of this checkout's sources, built offline with the running interpreter's setuptools."""
    src = out / "src"
    src.mkdir(parents=True)
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-build-isolation", "-q",
         "-w", str(out / "dist"), str(src)], cwd=out)
    (wheel,) = (out / "dist").glob("ganbench-*.whl")
    return wheel


def fresh_venv(path: Path, wheel: Path) -> Path:
    """A new virtual environment holding the wheel (no pip of its own, no dependency installed) that borrows the
    running interpreter's site-packages after its own; its python."""
    run([sys.executable, "-m", "venv", "--without-pip", str(path)], cwd=path.parent)
    python = path / "bin" / "python"
    purelib = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       cwd=path).stdout.strip())
    borrowed = dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"]])
    (purelib / "zz-ganbench-test-deps.pth").write_text("".join(f"{p}\n" for p in borrowed))
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        cwd=path.parent)
    return python


def clean_env() -> dict[str, str]:
    """This process's environment (its cache and data root) without what would put the checkout's code first."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}


def run(cmd: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """A command that must succeed; its output on failure."""
    r = subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.mark.slow(seconds=85)
def test_wheel_in_a_fresh_venv_runs_the_shipped_smoke_suite(tmp_path):
    assert not tmp_path.resolve().is_relative_to(REPO)
    wheel = build_wheel(tmp_path / "build")
    venv = tmp_path / "venv"
    python = fresh_venv(venv, wheel)
    home = tmp_path / "home"  # the user's working directory: no suites/ folder, far from the checkout
    home.mkdir()
    where = run([str(python), "-c", "import ganbench; from ganbench.spec import find_suite, list_suites; "
                 "print(ganbench.__file__, find_suite('losses'), *list_suites())"], cwd=home).stdout.split()
    assert [Path(p).resolve().is_relative_to(venv.resolve()) for p in where[:2]] == [True, True], where
    assert {"smoke", "losses", "tricks", "lucic2018"} <= set(where[2:])
    # one seed of each cell (4 runs): the install is under test here; tests/e2e/test_cli.py runs the whole suite
    run([str(venv / "bin" / "ganbench"), "bench", "smoke", "--seeds", "1", "--results", str(tmp_path / "results"),
         "--workers", "2"], cwd=home)
    md = (tmp_path / "results" / "smoke" / "leaderboard.md").read_text()
    assert "## ring8" in md and "## digits" in md
