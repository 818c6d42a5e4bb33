"""Test set-up: one CPU thread (bit-identical numbers), a private cache directory for the whole session."""
import os
import tempfile

import pytest
import torch

os.environ.setdefault("GANBENCH_CACHE", tempfile.mkdtemp(prefix="ganbench-test-cache-"))
torch.set_num_threads(1)

from ganbench.registry import load_builtins  # noqa: E402

load_builtins()


@pytest.fixture
def tiny_mlp():
    """Arch options of a small MLP for fast 2-D runs."""
    return {"g_hidden": 32, "g_layers": 2, "d_hidden": 32, "d_layers": 2, "d_act": "lrelu"}
