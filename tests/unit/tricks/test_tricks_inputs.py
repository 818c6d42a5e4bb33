"""Tricks on D's inputs (ganbench/tricks/inputs.py): instance noise and PacGAN's packing, each checked against its
paper's mechanism, not merely that it runs."""
import pytest
import torch
from torch import nn

from ganbench.build import build
from ganbench.data.base import BatchSampler
from ganbench.step import gan_step
from trickspecs import family_names, spec_with


def mech_instance_noise():
    s = build(spec_with(["instance-noise:sigma=0.2"]))
    x = torch.zeros(20000, 2)
    for progress, sigma in [(0.0, 0.2), (0.5, 0.1), (1.0, 0.0)]:
        r, f = s.tricks.d_inputs(x, x + 1, progress)
        assert r.std().item() == pytest.approx(sigma, abs=0.003) and (f - 1).std().item() == pytest.approx(sigma, abs=0.003)


def mech_pac():
    s = build(spec_with(["pac:m=3"]))
    first = s.D.body[1][0] if isinstance(s.D.body[1], nn.Sequential) else s.D.body[1]
    assert first.in_features == 6  # D is built for three 2-D points per input
    seen = []
    s.D.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    sampler = BatchSampler(s.data.x, s.batch_size, 0)
    gan_step(s, sampler, 0.0)
    assert s.batch_size == 48 and sampler.drawn == 1  # m x batch samples drawn, D sees 16 packs
    assert seen[0].shape == (32, 6)  # one mixed pass: 16 real packs then 16 fake packs
    x = torch.arange(12.0).view(6, 2)
    assert torch.equal(s.tricks.d_inputs(x, x, 0.0)[0], x.view(2, 6))  # consecutive samples form a pack


MECHANISMS = {
    "instance-noise": mech_instance_noise,
    "pac": mech_pac,
}


@pytest.mark.parametrize("name", family_names("inputs"))
def test_trick_mechanism(name):
    MECHANISMS[name]()
