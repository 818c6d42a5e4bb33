"""Data sets: protocol constants and real content."""
import math

import pytest
import torch

from ganbench.data import DATASETS, get_dataset
from ganbench.data.base import BatchSampler
from ganbench.files import load_torch
from datafixtures import case_id, dataset_cases


@pytest.mark.parametrize("name", dataset_cases(), ids=case_id)
def test_dataset_contract(name):
    """Every data set (paper-scale ones from their fixtures, through the loader a real download takes)."""
    from ganbench.metrics import METRICS

    d = get_dataset(name)
    assert d.kind in ("points", "image") and len(d) >= 8
    assert d.main_metric and d.metrics and {"arch", "batch_size", "z_dim", "eval_samples"} <= set(d.defaults)
    assert all(m in METRICS for m in d.metrics)
    x = d.floats()
    assert x.dtype == torch.float32 and torch.isfinite(x).all()
    if d.kind == "image":
        assert x.min() >= -1 and x.max() <= 1 and x.dim() == 4 and d.x.dtype in (torch.float32, torch.uint8)
    if d.labels is not None:
        assert len(d.labels) == len(d) and d.labels.min() >= 0


def test_ring8_protocol():
    d = get_dataset("ring8")
    c = d.info["centres"]
    assert len(c) == 8 and len(torch.unique(c.round(decimals=4), dim=0)) == 8  # no repeated end point
    assert torch.allclose(c.norm(dim=1), torch.ones(8))
    assert d.info["std"] == 0.01 and len(d) == 100_000
    nearest = torch.cdist(d.x, c).argmin(1)
    assert torch.equal(nearest, d.labels)
    resid = d.x - c[d.labels]
    assert resid.std().item() == pytest.approx(0.01, rel=0.02)
    assert torch.bincount(d.labels).min() > 100_000 / 8 * 0.95


def test_grid25_protocol():
    d = get_dataset("grid25")
    c = d.info["centres"]
    assert sorted(set(c[:, 0].tolist())) == [-4, -2, 0, 2, 4] and len(c) == 25
    assert d.info["std"] == 0.05
    assert (d.x - c[d.labels]).std().item() == pytest.approx(0.05, rel=0.02)


def test_digits_are_sklearns():
    d = get_dataset("digits")
    assert d.x.shape == (1797, 1, 8, 8) and set(d.labels.tolist()) == set(range(10))
    assert d.x.min() == -1 and d.x.max() == 1


def test_digits_cache_holds_sklearns_conversion_bit_for_bit(tmp_path, monkeypatch):
    """The digits are converted from scikit-learn's copy once and kept in the cache; a later process reads the cached
    tensors (without importing scikit-learn: a subprocess checks) and they equal the conversion bit for bit; a
    damaged cache file is converted again."""
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    from ganbench.data import digits

    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path))
    x, y = digits.load_digits_tensor()
    path = digits.cached_path()
    assert path.parent.parent == tmp_path and path.exists()
    d = load_digits()
    assert torch.equal(x, torch.from_numpy(d.images).float().div(16.0).mul(2.0).sub(1.0).unsqueeze(1))
    assert torch.equal(y, torch.from_numpy(d.target).long())
    code = ("import sys; from ganbench.data.digits import load_digits_tensor; x, y = load_digits_tensor(); "
            "print('sklearn' in sys.modules, float(x.double().sum()), int(y.sum()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "GANBENCH_CACHE": str(tmp_path)}).stdout.split()
    assert out == ["False", repr(float(x.double().sum())), str(int(y.sum()))]
    path.write_bytes(b"not a tensor file")
    x2, y2 = digits.load_digits_tensor()
    assert torch.equal(x2, x) and torch.equal(y2, y) and load_torch(path)["x"].shape == x.shape


def test_stacked_digits_has_1000_modes():
    d = get_dataset("stacked-digits")
    assert d.x.shape[1:] == (3, 8, 8)
    assert len(torch.unique(d.labels)) == 1000
    digits = get_dataset("digits")
    # channel 0 of the first image is one of the real digits, label digit matches
    matches = (digits.x[:, 0] == d.x[0, 0]).flatten(1).all(1)
    assert matches.any() and digits.labels[matches][0] == d.labels[0] // 100


def test_batch_sampler_is_epoch_based_and_resumable():
    x = torch.arange(10).float().unsqueeze(1)
    s = BatchSampler(x, 3, seed=1)
    first_epoch = torch.cat([s.next() for _ in range(3)])
    assert len(torch.unique(first_epoch)) == 9  # without replacement within an epoch
    later = [s.next() for _ in range(4)]
    resumed = BatchSampler(x, 3, seed=1, drawn=3)
    assert all(torch.equal(a, resumed.next()) for a in later)
    assert not math.isnan(first_epoch.sum().item())
