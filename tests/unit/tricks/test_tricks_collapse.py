"""Tricks against mode collapse (ganbench/tricks/collapse.py): feature matching, minibatch discrimination, minibatch
standard deviation and unrolled GANs (first and second order), each checked against its paper's mechanism, not merely
that it runs."""
import copy

import pytest
import torch
from torch import nn

from ganbench.build import build
from ganbench.data.base import BatchSampler
from ganbench.errors import SpecError
from ganbench.losses import LOSSES
from ganbench.step import gan_step
from trickspecs import count_steps, digits_spec, family_names, spec_with


def mech_feature_matching():
    s = build(spec_with(["feature-matching"]))
    real, fake = s.data.x[:16], torch.randn(16, 2)
    ref = ((s.D.features(real).mean(0) - s.D.features(fake).mean(0)) ** 2).sum()
    assert s.tricks.g_objective(s.D, real, fake).item() == pytest.approx(ref.item(), rel=1e-6)
    s.tricks.g_objective(s.D, real, s.G(torch.randn(16, 2))).backward()
    assert all(p.grad is not None for p in s.G.parameters())


def mech_minibatch_discrimination():
    s0 = build(spec_with([]))
    s = build(spec_with(["minibatch-discrimination:kernels=3,kernel_dim=2"]))
    x = torch.randn(6, 2)
    # added with zero head weights: the same function as the plain D at the start
    assert torch.allclose(s.D(x), s0.D(x), atol=1e-6)
    layer = s.D.extras[0]
    f = s.D.body(x)
    m = layer.T(f).view(6, 3, 2)
    o = torch.stack([sum(torch.exp(-(m[i] - m[j]).abs().sum(1)) for j in range(6) if j != i) for i in range(6)])
    assert torch.allclose(layer(f)[:, -3:], o, atol=1e-6)
    same = layer(f[:1].expand(4, -1))[:, -3:]
    assert torch.allclose(same, torch.full_like(same, 3.0))  # identical samples: each close to the 3 others
    assert not s.d_joint


def mech_minibatch_stddev():
    s = build(digits_spec(["minibatch-stddev:group=4"]))
    layer = s.D.extras[0]
    f = torch.randn(8, 3, 2, 2)
    out = layer(f)
    assert out.shape == (8, 4, 2, 2)
    # groups are samples {i, i+2, i+4, i+6}: the feature-wise std over a group, averaged
    for i in range(8):
        grp = f[i % 2::2]
        expected = grp.std(0, unbiased=False).mean()
        assert torch.allclose(out[i, 3], torch.full((2, 2), expected.item()), atol=1e-4)
    assert layer(f[:1].expand(8, -1, -1, -1))[:, 3].abs().max() < 1e-3  # no variety, no spread
    c, h, w = s.D.feature_shape
    assert c == s.D.body[-2].out_channels + 1 and s.D.head.in_features == c * h * w and not s.d_joint


def mech_unrolled():
    s = build(spec_with(["unrolled:k=3"]))
    counts = count_steps(s)
    after_first = []
    s.opt_d.register_step_post_hook(lambda *a: after_first.append([p.detach().clone() for p in s.D.parameters()]))
    looked = []
    s.G.register_forward_pre_hook(lambda m, a: looked.append(len(after_first)))
    gan_step(s, BatchSampler(s.data.x, 16, 0), 0.0)
    assert counts == {"d": 4, "g": 1}  # one real D update, three look-ahead ones
    assert looked[-1] == 4  # G's update ran after the look-ahead
    # D is back to its weights after the real update (look-ahead undone), and its optimizer state too
    assert all(torch.equal(a, b) for a, b in zip(after_first[0], s.D.parameters()))
    assert s.opt_d.state_dict()["state"][0]["step"].item() == 1


def unrolled_objective(G, D, opt_state, real, z, k, lr, betas):
    """The paper's surrogate f(theta_G, theta_D^k) evaluated with torch's own Adam on a copy of D (no graph)."""
    D = copy.deepcopy(D)
    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    opt.load_state_dict(copy.deepcopy(opt_state))  # loading shares the tensors, which step() updates in place
    loss = LOSSES.get("mm")
    fake = G(z).detach()
    for _ in range(k):
        opt.zero_grad()
        loss.d_loss(D(real).squeeze(1), D(fake).squeeze(1)).backward()
        opt.step()
    with torch.no_grad():
        return loss.g_loss(None, D(fake).squeeze(1)).item()


def test_second_order_unrolling_differentiates_the_unrolled_objective():
    """Metz et al. 2017: G's gradient is d/d theta_G of f(theta_G, theta_D^k(theta_G)). Checked in float64 against
    central finite differences of that objective computed with torch.optim.Adam itself, from a D optimizer that
    already has state; and it differs from the first-order gradient (taken at theta_D^k held fixed)."""
    from ganbench.tricks.collapse import unrolled_g_loss

    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    D = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    real, z, k, lr, betas = torch.randn(32, 2, dtype=torch.float64), torch.randn(32, 3, dtype=torch.float64), 3, 0.05, (0.5, 0.9)
    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    for _ in range(2):  # non-trivial moments and step count
        opt.zero_grad()
        LOSSES.get("mm").d_loss(D(real).squeeze(1), D(G(z).detach()).squeeze(1)).backward()
        opt.step()
    state = copy.deepcopy(opt.state_dict())
    before = [p.detach().clone() for p in D.parameters()]
    squeezed = nn.Sequential(D, nn.Flatten(0))
    loss_g = unrolled_g_loss(squeezed, opt, LOSSES.get("mm"), real, G(z), k)
    grads = torch.autograd.grad(loss_g, list(G.parameters()))
    assert loss_g.item() == pytest.approx(unrolled_objective(G, D, state, real, z, k, lr, betas), rel=1e-9)
    assert all(torch.equal(a, b) for a, b in zip(before, D.parameters()))  # D itself untouched
    assert opt.state_dict()["state"][0]["step"].item() == 2  # and its optimizer too
    direction = [torch.randn_like(p) for p in G.parameters()]
    eps = 1e-6

    def shifted(sign):
        with torch.no_grad():
            for p, d in zip(G.parameters(), direction):
                p.add_(sign * eps * d)
        value = unrolled_objective(G, D, state, real, z, k, lr, betas)
        with torch.no_grad():
            for p, d in zip(G.parameters(), direction):
                p.sub_(sign * eps * d)
        return value

    fd = (shifted(1) - shifted(-1)) / (2 * eps)
    analytic = sum((g * d).sum() for g, d in zip(grads, direction)).item()
    assert analytic == pytest.approx(fd, rel=1e-5)
    # first order: the gradient at theta_D^k held fixed is a different number
    unrolled_d = copy.deepcopy(D)
    o = torch.optim.Adam(unrolled_d.parameters(), lr=lr, betas=betas)
    o.load_state_dict(copy.deepcopy(state))
    for _ in range(k):
        o.zero_grad()
        LOSSES.get("mm").d_loss(head_of(unrolled_d, real), head_of(unrolled_d, G(z).detach())).backward()
        o.step()
    first = torch.autograd.grad(LOSSES.get("mm").g_loss(None, head_of(unrolled_d, G(z))), list(G.parameters()))
    first_dir = sum((g * d).sum() for g, d in zip(first, direction)).item()
    assert abs(first_dir - analytic) > 1e-3 * abs(analytic)


def head_of(D, x):
    return D(x).squeeze(1)


def test_second_order_unrolling_trains_and_refuses_what_it_cannot_unroll():
    s = build(spec_with(["unrolled:k=2,second_order=true"], arch_options={"g_hidden": 16, "g_layers": 1, "g_bn": False,
                                                                          "d_hidden": 16, "d_layers": 2, "d_act": "tanh"}))
    before = [p.detach().clone() for p in s.G.parameters()]
    d_before = [p.detach().clone() for p in s.D.parameters()]
    gan_step(s, BatchSampler(s.data.x, 16, 0), 0.0)
    assert all(not torch.equal(a, b) for a, b in zip(before, s.G.parameters()))
    assert s.opt_d.state_dict()["state"][0]["step"].item() == 1  # one real D update; the unroll leaves no trace
    assert any(not torch.equal(a, b) for a, b in zip(d_before, s.D.parameters()))
    assert spec_with(["unrolled:second_order=true"]).method == "ns+unrolled(second_order=True)"
    with pytest.raises(SpecError, match="cannot be combined with gp"):
        spec_with(["unrolled:second_order=true", "gp"])
    with pytest.raises(SpecError, match="Adam"):
        spec_with(["unrolled:second_order=true"], optimizer="sgd")


def test_a_late_parameter_at_its_default_keeps_the_run_id():
    plain, explicit = spec_with(["unrolled"]), spec_with(["unrolled:second_order=false"])
    assert plain.run_id == explicit.run_id and "second_order" not in plain.canonical()
    assert spec_with(["unrolled:second_order=true"]).run_id != plain.run_id


MECHANISMS = {
    "feature-matching": mech_feature_matching,
    "minibatch-discrimination": mech_minibatch_discrimination,
    "minibatch-stddev": mech_minibatch_stddev,
    "unrolled": mech_unrolled,
}


@pytest.mark.parametrize("name", family_names("collapse"))
def test_trick_mechanism(name):
    MECHANISMS[name]()
