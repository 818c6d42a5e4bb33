"""Test set-up: one CPU thread (bit-identical numbers), a private cache directory for the whole session, and a data
root holding a tiny copy of every paper-scale data set in its real on-disk format (downloads off).

Tests live in tests/unit (in-process, fast) and tests/e2e (the command line, whole suites, worker processes and
kills, the browser, real training); everything under tests/e2e is marked `e2e` here, so `-m "not e2e"` selects the
unit tests wherever they are collected from. Under pytest-xdist every worker process runs this module: each gets its
own data root and its own cache directory (a subfolder of $GANBENCH_CACHE named after the worker, so that workers
never see each other's half-written or deleted cache files)."""
import os
import tempfile
from pathlib import Path

import pytest
import torch

os.environ.setdefault("GANBENCH_CACHE", tempfile.mkdtemp(prefix="ganbench-test-cache-"))
if os.environ.get("PYTEST_XDIST_WORKER"):  # the controller's (or the caller's) cache, one subfolder per worker
    os.environ["GANBENCH_CACHE"] = os.path.join(os.environ["GANBENCH_CACHE"], os.environ["PYTEST_XDIST_WORKER"])
torch.set_num_threads(1)

import datafixtures  # noqa: E402
from ganbench.data import vision  # noqa: E402
from ganbench.registry import load_builtins  # noqa: E402

DATA_ROOT: Path | None = None  # set by pytest_configure (tests read conftest.DATA_ROOT and conftest.IMAGE_FOLDER)
IMAGE_FOLDER: Path | None = None
E2E = Path(__file__).resolve().parent / "e2e"


def xdist_controller(config) -> bool:
    """Whether this process is pytest-xdist's controller, which hands the tests to its workers and runs none."""
    return (not hasattr(config, "workerinput") and not config.getoption("collectonly")
            and config.getoption("dist", "no") != "no" and bool(config.getoption("tx", None)))


def pytest_configure(config):
    """The data root and the registries, before any test module is imported; not in the xdist controller, whose
    fixtures would never be read (about 9 s saved before the workers start)."""
    global DATA_ROOT, IMAGE_FOLDER
    if xdist_controller(config):
        return
    DATA_ROOT = Path(tempfile.mkdtemp(prefix="ganbench-test-data-")) / "data"
    IMAGE_FOLDER = datafixtures.build_data_root(DATA_ROOT)
    os.environ["GANBENCH_DATA"] = str(DATA_ROOT)
    os.environ["GANBENCH_DOWNLOAD"] = "0"
    datafixtures.relax_checksums()
    vision.STACKED_SIZE = 3000  # Stacked MNIST's construction at a fortieth of its 128,000 images
    load_builtins()


def expected_seconds(item) -> float:
    """How long a test marked `slow(seconds=N)` takes (0 for the others)."""
    mark = item.get_closest_marker("slow")
    return float(mark.kwargs.get("seconds", 0)) if mark else 0.0


def pytest_collection_modifyitems(config, items):
    """Every test under tests/e2e carries the `e2e` marker (registered in pyproject.toml); the tests marked slow come
    first, longest first (the rest keep their order). pytest-xdist's worksteal hands each worker a contiguous share
    of this order and an idle worker steals from the end of another's: with the long tests at the front, the last
    tests to run are short ones, and neither worker waits long for the other to finish one."""
    for item in items:
        if E2E in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: -expected_seconds(item))


@pytest.fixture
def tiny_mlp():
    """Arch options of a small MLP for fast 2-D runs."""
    return {"g_hidden": 32, "g_layers": 2, "d_hidden": 32, "d_layers": 2, "d_act": "lrelu"}


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A finished 60-step digits run: its directory and its metrics record (once per test module that uses it)."""
    from ganbench.execute import execute
    from ganbench.spec import build_spec
    from ganbench.execution import ExecOptions

    path = tmp_path_factory.mktemp("diag") / "digits"
    spec = build_spec({"dataset": "digits", "loss": "ns", "steps": 60, "log_every": 10, "eval_samples": 500,
                       "quality_samples": 300, "arch_options": {"width": 8}})
    return path, execute(spec, path, ExecOptions(progress=False))
