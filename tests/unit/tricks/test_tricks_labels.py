"""Label tricks (ganbench/tricks/labels.py): one-sided smoothing, noisy and flipped labels, each checked against its
paper's mechanism, not merely that it runs."""
import pytest
import torch

from ganbench.build import build
from trickspecs import family_names, spec_with


def mech_label_smoothing():
    s = build(spec_with(["label-smoothing"]))
    t_real, t_fake = s.tricks.d_targets(5, 5, s.device)
    assert torch.equal(t_real, torch.full((5,), 0.9)) and torch.equal(t_fake, torch.zeros(5))
    # the D loss is the cross-entropy towards 0.9 for real: -0.9 log s(x) - 0.1 log(1 - s(x)); G's loss is unchanged
    x, y = torch.randn(5), torch.randn(5)
    ref = (-(0.9 * torch.log(torch.sigmoid(x)) + 0.1 * torch.log(1 - torch.sigmoid(x)))).mean() - torch.log(1 - torch.sigmoid(y)).mean()
    assert s.loss.d_loss_targets(x, y, t_real, t_fake).item() == pytest.approx(ref.item(), rel=1e-5)
    assert build(spec_with([])).tricks.d_targets(5, 5, s.device) is None  # no label trick: the loss's own targets


def mech_label_noise():
    s = build(spec_with(["label-noise:eps=0.1"]))
    t_real, t_fake = s.tricks.d_targets(20000, 20000, s.device)
    assert t_real.min() >= 0.9 and t_real.max() <= 1 and t_fake.min() >= 0 and t_fake.max() <= 0.1
    assert t_real.mean().item() == pytest.approx(0.95, abs=0.002) and t_fake.std().item() == pytest.approx(0.1 / 12 ** 0.5, rel=0.05)


def mech_label_flip():
    s = build(spec_with(["label-flip:p=0.1"]))
    t_real, t_fake = s.tricks.d_targets(20000, 20000, s.device)
    assert set(t_real.unique().tolist()) == {0.0, 1.0} and set(t_fake.unique().tolist()) == {0.0, 1.0}
    assert (t_real == 0).float().mean().item() == pytest.approx(0.1, abs=0.01)
    assert (t_fake == 1).float().mean().item() == pytest.approx(0.1, abs=0.01)


MECHANISMS = {
    "label-smoothing": mech_label_smoothing,
    "label-noise": mech_label_noise,
    "label-flip": mech_label_flip,
}


@pytest.mark.parametrize("name", family_names("labels"))
def test_trick_mechanism(name):
    MECHANISMS[name]()
