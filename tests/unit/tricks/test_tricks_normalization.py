"""Normalisation tricks (ganbench/tricks/normalization.py): spectral norm in D, and in G too, each checked against its
paper's mechanism, not merely that it runs."""
import pytest
import torch
from torch import nn

from ganbench.build import build
from ganbench.data.base import BatchSampler
from ganbench.step import gan_step
from trickspecs import family_names, spec_with


def mech_sn():
    s = build(spec_with(["sn"]))
    sampler = BatchSampler(s.data.x, 16, 0)
    for _ in range(30):  # power iteration converges over training steps
        gan_step(s, sampler, 0.0)
    layers = [m for m in s.D.modules() if isinstance(m, nn.Linear)]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    with torch.no_grad():
        for _ in range(50):  # each training-mode forward is one more power iteration on the final weights
            s.D(s.data.x[:16])
        s.D.eval()
        for m in layers:
            sigma = torch.linalg.matrix_norm(m.weight, ord=2).item()
            assert sigma == pytest.approx(1.0, abs=0.02)


def mech_sn_g():
    s = build(spec_with(["sn-g"]))
    sampler = BatchSampler(s.data.x, 16, 0)
    for _ in range(30):
        gan_step(s, sampler, 0.0)
    with torch.no_grad():
        for _ in range(50):
            s.D(s.data.x[:16])
            s.G(torch.randn(16, 2))
    for net in (s.G, s.D):
        layers = [m for m in net.modules() if isinstance(m, nn.Linear)]
        assert layers and all(hasattr(m, "parametrizations") for m in layers)
        for m in layers:
            assert torch.linalg.matrix_norm(m.weight, ord=2).item() == pytest.approx(1.0, abs=0.03)


MECHANISMS = {
    "sn": mech_sn,
    "sn-g": mech_sn_g,
}


@pytest.mark.parametrize("name", family_names("normalization"))
def test_trick_mechanism(name):
    MECHANISMS[name]()
