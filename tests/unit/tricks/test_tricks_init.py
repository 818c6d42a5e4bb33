"""Initialisation tricks (ganbench/tricks/init.py): orthogonal and Xavier initialisation, each checked against its
paper's mechanism, not merely that it runs."""
import pytest
import torch
from torch import nn

from ganbench.build import build
from trickspecs import family_names, spec_with


def mech_ortho_init():
    s = build(spec_with(["ortho-init"], arch_options={"g_hidden": 16, "g_layers": 2, "d_hidden": 16, "d_layers": 1, "d_act": "lrelu"}))
    for layer in [m for net in (s.G, s.D) for m in net.modules() if isinstance(m, nn.Linear)]:
        w = layer.weight.detach()
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        assert torch.allclose(gram, torch.eye(gram.shape[0]), atol=1e-5)
        assert layer.bias is None or not layer.bias.any()


def mech_xavier_init():
    s = build(spec_with(["xavier-init"]))
    for layer in [m for net in (s.G, s.D) for m in net.modules() if isinstance(m, nn.Linear)]:
        fan_out, fan_in = layer.weight.shape
        bound = (6 / (fan_in + fan_out)) ** 0.5
        assert bound * 0.7 < layer.weight.abs().max() <= bound
        assert layer.bias is None or not layer.bias.any()


MECHANISMS = {
    "ortho-init": mech_ortho_init,
    "xavier-init": mech_xavier_init,
}


@pytest.mark.parametrize("name", family_names("init"))
def test_trick_mechanism(name):
    MECHANISMS[name]()
