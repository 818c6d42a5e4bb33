"""Each registered trick checked against its paper's mechanism, not merely that it runs."""
import pytest
import torch
from torch import nn

from ganbench.build import build
from ganbench.data.base import BatchSampler
from ganbench.errors import SpecError
from ganbench.spec import build_spec
from ganbench.tricks import TRICKS
from ganbench.tricks.base import make_trick
from ganbench.train import gan_step


def spec_with(tricks, loss="ns", **kw):
    fields = {"dataset": "ring8", "loss": loss, "tricks": tricks, "batch_size": 16,
              "arch_options": {"g_hidden": 16, "g_layers": 1, "d_hidden": 16, "d_layers": 2, "d_act": "lrelu"}}
    return build_spec({**fields, **kw})


def mech_gp():
    gp = make_trick("gp", {"lam": 10.0})
    # linear D(x) = w.x has gradient w everywhere: the penalty is lam * (||w|| - 1)^2
    D = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[3.0, 4.0]]))
    pen = gp.d_penalty(lambda x: D(x).squeeze(1), torch.randn(8, 2), torch.randn(8, 2))
    assert pen.item() == pytest.approx(10 * (5 - 1) ** 2)
    # minimising the penalty alone drives gradient norms at interpolates towards 1
    torch.manual_seed(0)
    D2 = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 1), nn.Flatten(0))
    opt = torch.optim.Adam(D2.parameters(), lr=1e-2)
    real, fake = torch.randn(256, 2) + 2, torch.randn(256, 2) - 2
    for _ in range(300):
        opt.zero_grad()
        gp.d_penalty(D2, real, fake).backward()
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


def mech_ttur():
    s = build(spec_with(["ttur"]))
    assert s.opt_d.param_groups[0]["lr"] == 4e-4 and s.opt_g.param_groups[0]["lr"] == 1e-4


def mech_d_steps():
    s = build(spec_with(["d-steps:k=3"]))
    counts = {"d": 0, "g": 0}
    s.opt_d.register_step_post_hook(lambda *a: counts.__setitem__("d", counts["d"] + 1))
    s.opt_g.register_step_post_hook(lambda *a: counts.__setitem__("g", counts["g"] + 1))
    sampler = BatchSampler(s.data.x, 16, 0)
    for _ in range(4):
        gan_step(s, sampler, 0.0)
    assert counts == {"d": 12, "g": 4} and sampler.drawn == 12


MECHANISMS = {"gp": mech_gp, "clip": mech_clip, "sn": mech_sn, "ttur": mech_ttur, "d-steps": mech_d_steps}


def test_every_trick_has_a_mechanism_test():
    assert set(MECHANISMS) == set(TRICKS.names())


@pytest.mark.parametrize("name", TRICKS.names())
def test_trick_mechanism(name):
    MECHANISMS[name]()


@pytest.mark.parametrize("name", TRICKS.names())
def test_trick_has_paper_and_description(name):
    assert "20" in TRICKS.entry(name).description  # cites a year


def test_conflicting_tricks_fail_at_spec_time():
    with pytest.raises(SpecError, match="cannot be combined"):
        spec_with(["gp", "clip"], loss="wasserstein")


def test_gp_refuses_batch_norm_in_d():
    with pytest.raises(SpecError, match="batch norm"):
        build_spec({"dataset": "digits", "loss": "wgan-gp", "arch_options": {"d_norm": "bn"}})


def test_bad_trick_parameters_are_refused():
    with pytest.raises(SpecError, match="has no parameter"):
        spec_with(["gp:lambda=5"])
    with pytest.raises(SpecError, match="must be at least 1"):
        spec_with(["d-steps:k=0"])


def test_trick_order_is_canonical():
    a = spec_with(["sn", "ttur", "d-steps"])
    b = spec_with(["d-steps", "sn", "ttur"])
    assert a.run_id == b.run_id and a.method == "ns+ttur+d-steps+sn"
    assert [t.name for t in a.tricks] == ["ttur", "d-steps", "sn"]
