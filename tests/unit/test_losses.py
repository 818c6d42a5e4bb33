"""Every registered loss against its paper's formula, on known logits."""
import math

import pytest
import torch

from ganbench.losses import LOSSES, d_accuracy

R = torch.tensor([2.0, -0.5, 1.0])
F = torch.tensor([-1.0, 0.3, 0.5])


def sig(x):
    return 1 / (1 + math.exp(-x))


def mean(xs):
    return sum(xs) / len(xs)


r, f = R.tolist(), F.tolist()
mr, mf = mean(r), mean(f)
# (D loss, G loss) written out from each paper's definition, element by element.
REFERENCE = {
    "ns": (mean([-math.log(sig(a)) for a in r]) + mean([-math.log(1 - sig(b)) for b in f]),
           mean([-math.log(sig(b)) for b in f])),
    "mm": (mean([-math.log(sig(a)) for a in r]) + mean([-math.log(1 - sig(b)) for b in f]),
           mean([math.log(1 - sig(b)) for b in f])),
    "wasserstein": (mf - mr, -mf),
    "ls": (0.5 * mean([(a - 1) ** 2 for a in r]) + 0.5 * mean([b**2 for b in f]), 0.5 * mean([(b - 1) ** 2 for b in f])),
    "hinge": (mean([max(0, 1 - a) for a in r]) + mean([max(0, 1 + b) for b in f]), -mf),
    "rsgan": (mean([-math.log(sig(a - b)) for a, b in zip(r, f)]), mean([-math.log(sig(b - a)) for a, b in zip(r, f)])),
    "ragan": (mean([-math.log(sig(a - mf)) for a in r]) + mean([-math.log(1 - sig(b - mr)) for b in f]),
              mean([-math.log(sig(b - mr)) for b in f]) + mean([-math.log(1 - sig(a - mf)) for a in r])),
}


def test_every_loss_has_a_reference():
    assert set(REFERENCE) == set(LOSSES.names())


@pytest.mark.parametrize("name", LOSSES.names())
def test_loss_matches_formula(name):
    loss = LOSSES.get(name)
    d_ref, g_ref = REFERENCE[name]
    assert loss.d_loss(R, F).item() == pytest.approx(d_ref, rel=1e-5)
    assert loss.g_loss(R if loss.g_needs_real else None, F).item() == pytest.approx(g_ref, rel=1e-5)


@pytest.mark.parametrize("name", LOSSES.names())
def test_g_gains_by_raising_fake_scores_and_d_by_separating(name):
    """Below every loss's real target and above its fake target, D pushes real up and fake down."""
    loss = LOSSES.get(name)
    R, F = torch.tensor([0.2, -0.5, 0.9]), torch.tensor([0.1, 0.3, 0.5])
    fake = F.clone().requires_grad_(True)
    loss.g_loss(R if loss.g_needs_real else None, fake).backward()
    assert (fake.grad <= 0).all() and (fake.grad < 0).any()  # G wants D(G(z)) higher
    real = R.clone().requires_grad_(True)
    fake = F.clone().requires_grad_(True)
    loss.d_loss(real, fake).backward()
    assert (real.grad <= 0).all() and (fake.grad >= 0).all()  # D wants real up, fake down


def test_d_accuracy_threshold():
    ns, wass = LOSSES.get("ns"), LOSSES.get("wasserstein")
    acc_r, acc_f = d_accuracy(ns, torch.tensor([1.0, -1.0]), torch.tensor([-2.0, -3.0]))
    assert (acc_r.item(), acc_f.item()) == (0.5, 1.0)
    acc_r, acc_f = d_accuracy(wass, torch.tensor([10.0, 11.0]), torch.tensor([9.0, 8.0]))  # midpoint 9.5
    assert (acc_r.item(), acc_f.item()) == (1.0, 1.0)
