"""Penalty tricks (ganbench/tricks/penalties.py): gradient penalty, weight clipping, DRAGAN, R1, R2, orthogonal
regularisation and LeCam, each checked against its paper's mechanism, not merely that it runs."""
import pytest
import torch
from torch import nn

from ganbench.build import build
from ganbench.errors import SpecError
from ganbench.spec import build_spec
from ganbench.tricks.base import DBatch, make_trick
from trickspecs import family_names, spec_with


def batch(D, real, fake):
    """The DBatch a D update would hand to the penalties."""
    return DBatch(D, real, fake, D(real), D(fake))


def mech_gp():
    gp = make_trick("gp", {"lam": 10.0})
    # linear D(x) = w.x has gradient w everywhere: the penalty is lam * (||w|| - 1)^2
    D = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[3.0, 4.0]]))
    pen = gp.d_penalty(batch(lambda x: D(x).squeeze(1), torch.randn(8, 2), torch.randn(8, 2)))
    assert pen.item() == pytest.approx(10 * (5 - 1) ** 2)
    # minimising the penalty alone drives gradient norms at interpolates towards 1
    torch.manual_seed(0)
    D2 = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 1), nn.Flatten(0))
    opt = torch.optim.Adam(D2.parameters(), lr=1e-2)
    real, fake = torch.randn(256, 2) + 2, torch.randn(256, 2) - 2
    for _ in range(300):
        opt.zero_grad()
        gp.d_penalty(batch(D2, real, fake)).backward()
        opt.step()
    x = (0.5 * real + 0.5 * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(D2(x).sum(), x)
    assert (g.norm(dim=1) - 1).abs().mean() < 0.05


def mech_clip():
    s = build(spec_with(["clip:c=0.01"], loss="wasserstein"))
    with torch.no_grad():
        for p in s.D.parameters():
            p.mul_(100)
    s.tricks.after_d_step(s.G, s.D)
    assert all(p.abs().max() <= 0.01 + 1e-9 for p in s.D.parameters())
    assert any(p.abs().max() > 0.0099 for p in s.D.parameters())


def mech_dragan():
    tr = make_trick("dragan", {"lam": 10.0, "c": 0.5})
    D = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[3.0, 4.0]]))
    seen = []
    D.register_forward_pre_hook(lambda m, a: seen.append(a[0].detach()))
    real = torch.randn(500, 2)
    pen = tr.d_penalty(DBatch(lambda x: D(x).squeeze(1), real, real + 100, torch.zeros(500), torch.zeros(500)))
    assert pen.item() == pytest.approx(10 * (5 - 1) ** 2)  # linear D: gradient norm 5 everywhere
    delta = seen[-1] - real  # points perturbed from the real data, not from the fakes
    assert delta.min() >= 0 and delta.max() <= 0.5 * real.std() + 1e-6 and delta.max() > 0.3 * real.std()


def quadratic_d(x):
    return (x ** 2).sum(1)  # gradient 2x


def mech_r1():
    tr = make_trick("r1", {"gamma": 4.0})
    real, fake = torch.ones(8, 2), torch.zeros(8, 2)
    pen = tr.d_penalty(DBatch(quadratic_d, real, fake, quadratic_d(real), quadratic_d(fake)))
    assert pen.item() == pytest.approx(0.5 * 4.0 * 8.0)  # gamma/2 * ||2x||^2 = 2 * 8 on the real points


def mech_r2():
    tr = make_trick("r2", {"gamma": 4.0})
    real, fake = torch.zeros(8, 2), torch.ones(8, 2)
    pen = tr.d_penalty(DBatch(quadratic_d, real, fake, quadratic_d(real), quadratic_d(fake)))
    assert pen.item() == pytest.approx(0.5 * 4.0 * 8.0)  # the same, measured on the fakes


def mech_ortho_reg():
    tr = make_trick("ortho-reg", {"beta": 1.0})
    G = nn.Sequential(nn.Linear(3, 3, bias=False))
    with torch.no_grad():
        G[0].weight.copy_(torch.diag(torch.tensor([1.0, 2.0, 3.0])))
    assert tr.g_penalty(G, None, torch.zeros(1), torch.zeros(1)).item() == 0  # orthogonal rows of any norm: no penalty
    with torch.no_grad():
        G[0].weight.copy_(torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    w = G[0].weight
    gram = w @ w.T
    assert tr.g_penalty(G, None, torch.zeros(1), torch.zeros(1)).item() == pytest.approx(((gram - torch.diag(gram.diag())) ** 2).sum().item())


def mech_lecam():
    tr = make_trick("lecam", {"lam": 1.0, "decay": 0.9})
    D = lambda x: x.sum(1)  # noqa: E731
    r1, f1 = torch.tensor([1.0, 3.0]), torch.tensor([-1.0, -1.0])
    pen = tr.d_penalty(DBatch(D, torch.zeros(2, 1), torch.zeros(2, 1), r1, f1))
    # anchors start at the first means (a_R = 2, a_F = -1): E(D(x) - a_F)^2 + E(D(G(z)) - a_R)^2
    assert pen.item() == pytest.approx(((r1 + 1) ** 2).mean().item() + ((f1 - 2) ** 2).mean().item())
    tr.d_penalty(DBatch(D, torch.zeros(2, 1), torch.zeros(2, 1), torch.tensor([4.0, 4.0]), f1))
    assert tr.anchors["real"].item() == pytest.approx(0.9 * 2 + 0.1 * 4)


def test_gp_refuses_batch_norm_in_d():
    with pytest.raises(SpecError, match="batch norm"):
        build_spec({"dataset": "digits", "loss": "wgan-gp", "arch_options": {"d_norm": "bn"}})


MECHANISMS = {
    "gp": mech_gp,
    "clip": mech_clip,
    "dragan": mech_dragan,
    "r1": mech_r1,
    "r2": mech_r2,
    "ortho-reg": mech_ortho_reg,
    "lecam": mech_lecam,
}


@pytest.mark.parametrize("name", family_names("penalties"))
def test_trick_mechanism(name):
    MECHANISMS[name]()
