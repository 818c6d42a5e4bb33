"""Test set-up: one CPU thread (bit-identical numbers), a private cache directory for the whole session, and a data
root holding a tiny copy of every paper-scale data set in its real on-disk format (downloads off)."""
import os
import tempfile
from pathlib import Path

import pytest
import torch

os.environ.setdefault("GANBENCH_CACHE", tempfile.mkdtemp(prefix="ganbench-test-cache-"))
torch.set_num_threads(1)

import datafixtures  # noqa: E402
from ganbench.data import vision  # noqa: E402
from ganbench.registry import load_builtins  # noqa: E402

DATA_ROOT = Path(tempfile.mkdtemp(prefix="ganbench-test-data-")) / "data"
IMAGE_FOLDER = datafixtures.build_data_root(DATA_ROOT)
os.environ["GANBENCH_DATA"] = str(DATA_ROOT)
os.environ["GANBENCH_DOWNLOAD"] = "0"
datafixtures.relax_checksums()
vision.STACKED_SIZE = 3000  # Stacked MNIST's construction at a fortieth of its 128,000 images

load_builtins()


@pytest.fixture
def tiny_mlp():
    """Arch options of a small MLP for fast 2-D runs."""
    return {"g_hidden": 32, "g_layers": 2, "d_hidden": 32, "d_layers": 2, "d_act": "lrelu"}
