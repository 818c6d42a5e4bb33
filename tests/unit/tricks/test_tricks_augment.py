"""Augmentation tricks (ganbench/tricks/augment.py): DiffAugment and consistency regularisation, each checked against
its paper's mechanism, not merely that it runs."""
import pytest
import torch

from ganbench.build import build
from ganbench.errors import SpecError
from ganbench.tricks.base import DBatch, make_trick
from trickspecs import digits_spec, family_names, spec_with


def mech_diffaugment():
    from ganbench.tricks.augment import augment, cutout, translation

    x = torch.zeros(500, 1, 8, 8)
    x[:, :, 4, 4] = 1.0
    t = translation(x)
    pos = t.flatten(1).argmax(1)
    dy, dx = pos // 8 - 4, pos % 8 - 4
    assert dy.abs().max() == 1 and dx.abs().max() == 1 and (t.sum((1, 2, 3)) == 1).all()  # 1/8 of 8 pixels
    c = cutout(torch.ones(200, 1, 8, 8))
    zeros = (c == 0).sum((1, 2, 3))
    assert zeros.max() == 16 and zeros.min() >= 4  # a 4x4 square, clipped at the border
    y = torch.rand(4, 1, 8, 8, requires_grad=True)
    augment(y, "color+translation+cutout").sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0  # differentiable, so G learns through it
    s = build(digits_spec(["diffaugment:policy=translation"]))
    real = s.data.x[:16]
    r, f = s.tricks.d_inputs(real, real, 0.0)
    assert not torch.equal(r, real) and not torch.equal(r, f)  # both sides augmented, independently


def mech_consistency():
    tr = make_trick("consistency", {"lam_real": 2.0, "lam_fake": 0.0})
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 4, 4] = 1.0
    invariant = lambda v: v.sum((1, 2, 3))  # noqa: E731  a shift of at most a pixel keeps the centre pixel inside
    assert tr.d_penalty(DBatch(invariant, x, x, invariant(x), invariant(x))).item() == pytest.approx(0.0)
    corner = lambda v: v[:, 0, 4, 4]  # noqa: E731
    pen = tr.d_penalty(DBatch(corner, x, x, corner(x), corner(x))).item()
    # the centre pixel stays put with probability 1/9 (dx = dy = 0): E(1 - D(T x))^2 = 8/9, times lam_real
    assert pen == pytest.approx(2.0 * 8 / 9, abs=0.35)
    with pytest.raises(SpecError, match="not an image data set"):
        spec_with(["consistency"])


MECHANISMS = {
    "diffaugment": mech_diffaugment,
    "consistency": mech_consistency,
}


@pytest.mark.parametrize("name", family_names("augment"))
def test_trick_mechanism(name):
    MECHANISMS[name]()
