"""Each registered trick checked against its paper's mechanism, not merely that it runs."""
import copy

import pytest
import torch
from torch import nn

from ganbench.build import build
from ganbench.data.base import BatchSampler
from ganbench.errors import SpecError
from ganbench.losses import LOSSES
from ganbench.spec import build_spec
from ganbench.tricks import TRICKS
from ganbench.tricks.base import DBatch, make_trick
from ganbench.train import gan_step


def spec_with(tricks, loss="ns", **kw):
    fields = {"dataset": "ring8", "loss": loss, "tricks": tricks, "batch_size": 16,
              "arch_options": {"g_hidden": 16, "g_layers": 1, "d_hidden": 16, "d_layers": 2, "d_act": "lrelu"}}
    return build_spec({**fields, **kw})


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


def _one_step(tricks, lr_g, lr_d):
    """G's and D's parameters after one training step from the same initial state and batch."""
    from ganbench.train import simultaneous_step

    s = build(spec_with(tricks, optimizer="sgd", lr_g=lr_g, lr_d=lr_d))
    torch.manual_seed(0)
    step = simultaneous_step if s.tricks.simultaneous else gan_step
    step(s, BatchSampler(s.data.x, 16, 0), 0.0)
    flat = lambda net: torch.cat([p.detach().flatten() for p in net.parameters()])  # noqa: E731
    return flat(s.G), flat(s.D)


def mech_simultaneous():
    # simultaneous: G's step does not depend on D's learning rate (it saw D before D's update), and D's step does
    # not depend on G's (it saw G's samples before G's update)
    g_a, d_a = _one_step(["simultaneous"], lr_g=0.1, lr_d=0.5)
    g_b, _ = _one_step(["simultaneous"], lr_g=0.1, lr_d=0.0)
    _, d_c = _one_step(["simultaneous"], lr_g=0.0, lr_d=0.5)
    assert torch.equal(g_a, g_b) and torch.equal(d_a, d_c)
    g0, d0 = _one_step(["simultaneous"], lr_g=0.0, lr_d=0.0)
    assert not torch.equal(g_a, g0) and not torch.equal(d_a, d0)  # both did move
    # alternating (the default): G's step is taken against the updated D, so it depends on D's learning rate
    g_alt, _ = _one_step([], lr_g=0.1, lr_d=0.5)
    g_alt0, _ = _one_step([], lr_g=0.1, lr_d=0.0)
    assert not torch.equal(g_alt, g_alt0)
    with pytest.raises(SpecError, match="cannot be combined"):
        spec_with(["simultaneous", "d-steps"])
    with pytest.raises(SpecError, match="second_order"):
        spec_with(["simultaneous", "unrolled"], loss="mm")


def digits_spec(tricks, loss="ns", **kw):
    fields = {"dataset": "digits", "loss": loss, "tricks": tricks, "batch_size": 16, "z_dim": 8,
              "arch_options": {"width": 8}}
    return build_spec({**fields, **kw})


def count_steps(s):
    counts = {"d": 0, "g": 0}
    s.opt_d.register_step_post_hook(lambda *a: counts.__setitem__("d", counts["d"] + 1))
    s.opt_g.register_step_post_hook(lambda *a: counts.__setitem__("g", counts["g"] + 1))
    return counts


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


def mech_g_steps():
    s = build(spec_with(["g-steps:k=3"]))
    counts = count_steps(s)
    for _ in range(2):
        gan_step(s, BatchSampler(s.data.x, 16, 0), 0.0)
    assert counts == {"d": 2, "g": 6}


def mech_sgd_d():
    s = build(spec_with(["sgd-d:lr=0.05"]))
    assert isinstance(s.opt_d, torch.optim.SGD) and s.opt_d.param_groups[0]["lr"] == 0.05
    assert s.opt_d.param_groups[0]["momentum"] == 0.0 and isinstance(s.opt_g, torch.optim.Adam)


def mech_adam_beta1():
    s = build(spec_with(["adam-beta1"]))
    assert s.opt_d.param_groups[0]["betas"] == (0.9, 0.999) and s.opt_g.param_groups[0]["betas"] == (0.9, 0.999)
    with pytest.raises(SpecError, match="already uses beta1"):
        spec_with(["adam-beta1:beta1=0.5"])


def mech_large_batch():
    s = build(spec_with(["large-batch"]))
    seen = []
    s.G.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[0]))
    sampler = BatchSampler(s.data.x, s.batch_size, 0)
    gan_step(s, sampler, 0.0)
    assert s.batch_size == 128 and seen == [128, 128]


def mech_separate_batches():
    calls = {}
    for tricks in ([], ["separate-batches"]):
        s = build(digits_spec(tricks, arch_options={"width": 8, "d_norm": "bn"}))
        sizes = []
        s.D.register_forward_pre_hook(lambda m, args: sizes.append(args[0].shape[0]))
        gan_step(s, BatchSampler(s.data.x, 16, 0), 0.0)
        calls[bool(tricks)] = sizes
    assert calls[False] == [32, 16] and calls[True] == [16, 16, 16]  # mixed pass vs real-only and fake-only passes
    with pytest.raises(SpecError, match="batch norm"):
        digits_spec(["separate-batches"])


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


def mech_latent():
    s = build(spec_with(["latent:r=2"]))
    for train in (True, False):
        z = s.latent(20000, None, train=train)
        assert z.min() >= -2 and z.max() <= 2 and z.var().item() == pytest.approx(4 / 3, rel=0.03)


def mech_truncation():
    s = build(spec_with(["truncation:psi=0.5"], z_dim=4))
    g = torch.Generator().manual_seed(0)
    z = s.latent(5000, g, train=False)
    assert z.abs().max() <= 0.5 and z.std().item() < 0.3  # truncated normal on [-0.5, 0.5]: std 0.28
    assert s.latent(5000, train=True).abs().max() > 2  # training latents are untouched


def test_truncation_run_records_the_fidelity_variety_curve(tmp_path):
    import pandas as pd

    from ganbench.execute import execute

    from ganbench.plots import write_plots

    spec = spec_with(["truncation:psi=0.5"], steps=20, eval_samples=500)
    rec = execute(spec, tmp_path / "runs" / spec.run_id)
    curve = pd.read_csv(tmp_path / "runs" / spec.run_id / "truncation.csv")
    assert "truncation_ring8.png" in {p.name for p in write_plots(tmp_path, [spec.run_id])}
    assert list(curve.psi) == [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0] and "recall [coords]" in curve.columns
    assert curve.loc[curve.psi == 0.5, "fd [coords]"].item() == pytest.approx(rec["metrics"]["fd [coords]"])
    assert rec["sampling"]["latent"] == {"trick": "truncation", "psi": 0.5}


def ema_after(trick: str, values: list[float]):
    s = build(spec_with([trick]))
    ema = s.tricks.tricks[0]
    with torch.no_grad():
        for p in s.G.parameters():
            p.zero_()
        for p in ema.G_ema.parameters():
            p.zero_()
        for v in values:
            for p in s.G.parameters():
                p.fill_(v)
            s.tricks.after_g_step(s.G, s.D)
    return s, ema


def mech_ema():
    history = [1.0, 2.0, 3.0, 4.0, 5.0]
    s, ema = ema_after("ema:beta=0.9,warmup=0", history)
    expected = sum((1 - 0.9) * 0.9 ** (5 - i) * v for i, v in enumerate(history, start=1))  # analytic EMA from 0
    for p in ema.G_ema.parameters():
        assert torch.allclose(p, torch.full_like(p, expected), atol=1e-6)
    assert s.eval_generator() is ema.G_ema and s.eval_generator() is not s.G
    # with the default warm-up the decay is min(beta, (1+t)/(10+t)): 2/11, 3/12, ... then beta
    _, ema = ema_after("ema:beta=0.3", history)
    expected = 0.0
    for t, v in enumerate(history, start=1):
        b = min(0.3, (1 + t) / (10 + t))
        expected = b * expected + (1 - b) * v
    assert [ema.decay(t) for t in (1, 2, 3)] == [2 / 11, 0.25, 0.3]
    for p in ema.G_ema.parameters():
        assert torch.allclose(p, torch.full_like(p, expected), atol=1e-6)
    assert ema.state_dict()["updates"] == 5


def mech_historical_averaging():
    s = build(spec_with(["historical-averaging:lam=0.5"]))
    ha = s.tricks.tricks[0]
    assert s.tricks.g_penalty(s.G, s.D, torch.zeros(1), torch.zeros(1)) is None  # no history yet
    values = [1.0, 2.0, 6.0]
    with torch.no_grad():
        for v in values:
            for p in s.G.parameters():
                p.fill_(v)
            ha.after_g_step(s.G, s.D)
        for p in s.G.parameters():
            p.fill_(0.0)
    n = sum(p.numel() for p in s.G.parameters())
    assert s.tricks.g_penalty(s.G, s.D, torch.zeros(1), torch.zeros(1)).item() == pytest.approx(0.5 * n * 3.0 ** 2)  # mean 3


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


def mech_d_dropout():
    s = build(spec_with(["d-dropout:p=0.5"]))
    drops = [m for m in s.D.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 2 and all(m.p == 0.5 for m in drops)  # after each of D's two hidden layers
    x = s.data.x[:64]
    assert not torch.equal(s.D(x), s.D(x))  # training: a fresh mask per pass
    s.D.eval()
    assert torch.equal(s.D(x), s.D(x))


def mech_leaky_relu():
    s = build(digits_spec(["leaky-relu"]))
    acts = [m for m in s.G.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))]
    assert acts and all(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2 for m in acts)
    assert any(isinstance(m, nn.ReLU) for m in build(digits_spec([])).G.modules())


def mech_upsample_conv():
    s = build(digits_spec(["upsample-conv"]))
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in s.G.modules())
    ups = [m for m in s.G.modules() if isinstance(m, nn.Upsample)]
    assert len(ups) == 2 and all(u.mode == "nearest" and u.scale_factor == 2 for u in ups)
    assert s.G(torch.randn(4, 8)).shape == (4, 1, 8, 8)


def mech_self_attention():
    from ganbench.models.dcgan import SelfAttention

    s = build(digits_spec(["self-attention:res=4"]))
    sizes = []
    for net in (s.G, s.D):
        blocks = [m for m in net.modules() if isinstance(m, SelfAttention)]
        assert len(blocks) == 1
        blocks[0].register_forward_pre_hook(lambda m, a: sizes.append(a[0].shape[-1]))
    x = torch.randn(3, blocks[0].v.in_channels, 4, 4)
    assert torch.equal(blocks[0](x), x)  # gamma starts at 0: the block is the identity at initialisation
    sizes.clear()
    s.D(s.G(torch.randn(3, 8)))
    assert sizes == [4, 4]
    with torch.no_grad():
        blocks[0].gamma.fill_(1.0)
    y = blocks[0](x)
    attn = torch.softmax(blocks[0].q(x).flatten(2).transpose(1, 2) @ blocks[0].k(x).flatten(2), -1)
    assert torch.allclose(y, x + (blocks[0].v(x).flatten(2) @ attn.transpose(1, 2)).view_as(x), atol=1e-5)


def mech_patch_d():
    s = build(digits_spec(["patch-d"]))
    out = s.D(s.data.x[:5])
    assert out.shape == (5, 4)  # one logit per position of the 2x2 last feature map of an 8x8 input
    stats = gan_step(s, BatchSampler(s.data.x, 16, 0), 0.0)
    assert all(torch.isfinite(v).all() for v in stats.values())
    with pytest.raises(SpecError, match="cannot be combined"):
        digits_spec(["patch-d", "minibatch-stddev"])


def mech_width():
    s = build(digits_spec(["width:factor=2"]))
    assert s.D.body[0].out_channels == 16  # width 8 -> 16
    s2 = build(spec_with(["width:factor=0.5"]))
    assert s2.D.body[1].out_features == 8 if isinstance(s2.D.body[1], nn.Linear) else s2.D.body[1][0].out_features == 8


def mech_vbn():
    from ganbench.models.base import VirtualBatchNorm

    for spec in (spec_with(["vbn:ref=16"]), digits_spec(["vbn:ref=16"])):
        s = build(spec)
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in s.G.modules())
        assert any(isinstance(m, VirtualBatchNorm) for m in s.G.modules()) and len(s.G.z_ref) == 16
        z = torch.randn(3, spec.z_dim)
        a, b = s.G(z[:2]), s.G(torch.stack([z[0], z[2]]))
        assert torch.allclose(a[0], b[0], atol=1e-6)  # a sample does not depend on its batch mates
        s.G.eval()
        assert torch.allclose(s.G(z[:1])[0], a[0], atol=1e-6)  # nor on train/eval mode
    layer = VirtualBatchNorm(2)
    layer.n_ref = 3
    ref, x = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]]), torch.tensor([[8.0, 2.0]])
    mean = 0.25 * x + 0.75 * ref.mean(0)
    var = 0.25 * x ** 2 + 0.75 * (ref ** 2).mean(0) - mean ** 2
    assert torch.allclose(layer(torch.cat([ref, x]))[3], ((x - mean) / torch.sqrt(var + 1e-5))[0], atol=1e-5)



def labelled_sampler(s, seed=0):
    return BatchSampler(s.data.x, s.batch_size, seed, labels=s.data.labels if s.needs_labels else None)


def record_d_labels(D):
    """Every (input, labels) pair D is called with."""
    calls = []
    D.register_forward_pre_hook(lambda m, args: calls.append(args))
    return calls


def check_label_codes(s, k):
    z = s.latent(4000)
    codes = z[:, s.spec.z_dim:]
    assert codes.shape[1] == k and torch.equal(codes.sum(1), torch.ones(4000)) and set(codes.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(s.fake_labels(z), codes.argmax(1))
    freq = torch.bincount(codes.argmax(1), minlength=k).float() / 4000
    prior = torch.bincount(s.data.labels, minlength=k).float() / len(s.data)
    assert (freq - prior).abs().max() < 0.03  # generated classes follow the data's class frequencies


def check_real_labels_reach_d(s):
    """In a training step D gets each real sample with its own label and each fake one with the class G was given."""
    calls = record_d_labels(s.D)
    ref = labelled_sampler(s)
    gan_step(s, labelled_sampler(s), 0.0)
    x_real, y_real = ref.next_labelled()
    x, y = calls[0]
    n = x_real.shape[0]
    assert torch.equal(x[:n], x_real) and torch.equal(y[:n], y_real)
    assert torch.equal(y_real, s.data.labels[[int((s.data.x == r).flatten(1).all(1).nonzero()[0]) for r in x_real]])
    return calls


def trained_toy(trick):
    """A run of `trick` on ring8 at the tricks suite's learning rate, after `steps` steps."""
    s = build(spec_with([trick], lr_d=1e-3, lr_g=1e-3, arch_options={
        "g_hidden": 16, "g_layers": 1, "d_hidden": 16, "d_layers": 2, "d_act": "lrelu", "init": "torch"}))
    return s


def mech_cgan():
    s = build(spec_with(["cgan"]))
    check_label_codes(s, 8)
    assert s.G[0].in_features == s.spec.z_dim + 8  # G sees z and the one-hot class
    # D judges (x, y) pairs: its body reads the point followed by the one-hot label
    x, y = s.data.x[:5], torch.tensor([0, 1, 2, 3, 7])
    direct = s.D.head(s.D.body(torch.cat([x, torch.nn.functional.one_hot(y, 8).float()], 1))).flatten()
    assert torch.allclose(s.D(x, y), direct) and not torch.allclose(s.D(x, y), s.D(x, (y + 1) % 8))
    with pytest.raises(ValueError, match="call it with labels"):
        s.D(x)
    check_real_labels_reach_d(s)
    # many classes: a learned 50-dimensional embedding as constant channels
    st = build(digits_spec(["cgan"], dataset="stacked-digits"))
    assert st.D.body[0].in_channels == 1 * 3 + 50 and st.D.label_input.embed.num_embeddings == 1000
    img = st.data.x[:2]
    assert torch.equal(st.D.label_input(img, torch.tensor([5, 5]))[:, 3:, 0, 0], st.D.label_input.embed.weight[[5, 5]])


def mech_projection():
    from ganbench.tricks.conditioning import ConditionalBatchNorm

    s = build(spec_with(["projection"]))
    check_label_codes(s, 8)
    x, y = s.data.x[:6], torch.tensor([0, 1, 2, 3, 4, 7])
    h = s.D.features(x).flatten(1)
    # D(x, y) = psi(phi(x)) + embed(y) . phi(x)
    assert torch.allclose(s.D(x, y), s.D.head(h).flatten() + (s.D.projection.weight[y] * h).sum(1), atol=1e-6)
    # G's batch norms are conditional: gamma_y * BN(x) + beta_y
    cbns = [m for m in s.G.modules() if isinstance(m, ConditionalBatchNorm)]
    assert cbns and not any(isinstance(m, torch.nn.BatchNorm1d) and m.affine for m in s.G.modules())
    cbn = cbns[0]
    with torch.no_grad():
        cbn.gain.weight[3].fill_(2.0)
        cbn.bias.weight[3].fill_(0.5)
    feats = torch.randn(32, cbn.bn.num_features)
    cbn.labels = torch.full((32,), 3)
    bn = (feats - feats.mean(0)) / torch.sqrt(feats.var(0, unbiased=False) + cbn.bn.eps)
    assert torch.allclose(cbn(feats), 2.0 * bn + 0.5, atol=1e-5)
    z = s.latent(32)
    z2 = z.clone()
    z2[:, s.spec.z_dim:] = torch.nn.functional.one_hot((z[:, s.spec.z_dim:].argmax(1) + 3) % 8, 8).float()
    assert not torch.allclose(s.G(z), s.G(z2))  # the class alone changes the sample
    check_real_labels_reach_d(s)


def mech_acgan():
    import torch.nn.functional as F

    from ganbench.tricks.conditioning import classify

    s = build(spec_with(["acgan"]))
    ac = s.tricks.tricks[0]
    check_label_codes(s, 8)
    x, y = s.data.x[:6], torch.tensor([0, 1, 2, 3, 4, 7])
    assert torch.equal(s.D(x, y), s.D(x, (y + 1) % 8))  # the real/fake logit is unconditional
    assert s.D.aux.out_features == 8
    real, y_real = s.data.x[:16], s.data.labels[:16]
    z = s.latent(16)
    fake = s.G(z).detach()
    b = DBatch(s.D, real, fake, s.D(real), s.D(fake), y_real, s.fake_labels(z), z)
    expected = F.cross_entropy(classify(s.D, real), y_real) + F.cross_entropy(classify(s.D, fake), s.fake_labels(z))
    assert torch.allclose(ac.d_penalty(b), expected)
    # G is trained to make samples of its class: the penalty's gradient reaches G
    fake = s.G(z)
    g_pen = ac.g_penalty(s.G, s.D, fake, z)
    assert torch.allclose(g_pen, F.cross_entropy(classify(s.D, fake), z[:, -8:].argmax(1)))
    g_pen.backward()
    assert all(p.grad is not None for p in s.G.parameters())
    # trained, the auxiliary head names the mode of real points
    s = trained_toy("acgan")
    sampler = labelled_sampler(s)
    for i in range(200):
        gan_step(s, sampler, i / 200)
    acc = (classify(s.D, s.data.x).argmax(1) == s.data.labels).float().mean()
    assert acc > 0.9


def mech_infogan():
    import torch.nn.functional as F

    from ganbench.tricks.conditioning import classify

    s = build(spec_with(["infogan"]))
    info = s.tricks.tricks[0]
    assert not s.needs_labels and info.k == 8 and info.code_dim() == 10  # 8 categories (ring8's classes) + 2
    z = s.latent(4000)
    cat, cont = z[:, s.spec.z_dim:s.spec.z_dim + 8], z[:, s.spec.z_dim + 8:]
    assert torch.equal(cat.sum(1), torch.ones(4000)) and (torch.bincount(cat.argmax(1)) / 4000 - 1 / 8).abs().max() < 0.03
    assert cont.min() >= -1 and cont.max() <= 1 and abs(cont.var().item() - 1 / 3) < 0.03  # U(-1, 1)
    fake = s.G(z[:64]).detach()
    q = classify(s.D, fake)
    expected = F.cross_entropy(q[:, :8], cat[:64].argmax(1)) + 0.1 * 0.5 * ((q[:, 8:] - cont[:64]) ** 2).sum(1).mean()
    assert torch.allclose(info.info_loss(s.D, fake, z[:64]), expected)
    # G and Q cooperate: the categorical code becomes recoverable from the sample (the MI bound rises)
    s = trained_toy("infogan")
    info = s.tricks.tricks[0]
    calls = record_d_labels(s.D)
    sampler = labelled_sampler(s)
    z = s.latent(500)
    start = info.info_loss(s.D, s.G(z), z).item()
    for i in range(200):
        gan_step(s, sampler, i / 200)
    assert all(len(args) == 1 for args in calls)  # D never sees labels
    with torch.no_grad():
        z = s.latent(1000)
        acc = (classify(s.D, s.G(z))[:, :8].argmax(1) == z[:, s.spec.z_dim:s.spec.z_dim + 8].argmax(1)).float().mean()
    assert start > 1.5 and acc > 0.6  # chance: 1/8
    assert build(spec_with(["infogan:categories=3,continuous=0"])).tricks.tricks[0].code_dim() == 3



def mech_msg():
    import torch.nn.functional as F

    from ganbench.models.dcgan import MSGGenerator, image_pyramid, unpack_scales

    s = build(digits_spec(["msg"]))
    G, D, msg = s.G, s.D, s.tricks.tricks[0]
    assert isinstance(G, MSGGenerator) and msg.scales == 3  # 8x8 digits: images at 8, 4 and 2 pixels
    z = s.latent(16)
    out = G(z)
    assert out.shape == (16, 3, 8, 8)
    # every stage emits an image through its 1x1 head; the lower ones ride along nearest-up-sampled
    h0 = G.stages[0](z)
    h1 = G.stages[1](h0)
    full, x4, x2 = unpack_scales(out, 1)
    assert torch.allclose(x2, G.heads[0](h0), atol=1e-6) and torch.allclose(x4, G.heads[1](h1), atol=1e-6)
    assert torch.allclose(full, G.final(h1)) and x4.shape[-1] == 4 and x2.shape[-1] == 2
    # real images enter D at every scale by average pooling
    real = s.data.x[:16]
    packed, fake = msg.d_inputs(real, out, 0.0)
    assert fake is out
    for got, want in zip(unpack_scales(packed, 1), [real, F.avg_pool2d(real, 2), F.avg_pool2d(real, 4)]):
        assert torch.allclose(got, want, atol=1e-6)
    assert torch.allclose(packed, image_pyramid(real, 3))
    # D reads each scale where its activations reach that resolution: the 2x2 image alone changes D's output
    other = packed.clone()
    other[:, 2] = -other[:, 2]
    assert not torch.allclose(D(packed), D(other))
    # D's gradient reaches every G stage directly through the image heads
    D(out).sum().backward()
    assert all(head[0].weight.grad.abs().sum() > 0 for head in G.heads)
    # evaluation sees the full resolution only
    ev = s.eval_generator()
    assert ev(z).shape == (16, 1, 8, 8) and torch.allclose(ev(z), G(z)[:, :1])
    sampler = BatchSampler(s.data.x, s.batch_size, 0)
    assert torch.isfinite(gan_step(s, sampler, 0.0)["loss_d"])
    st = build(digits_spec(["msg", "ema"], dataset="stacked-digits"))
    assert st.G(st.latent(2)).shape == (2, 9, 8, 8) and st.eval_generator()(st.latent(2)).shape == (2, 3, 8, 8)
    assert st.tricks.tricks[-1].name == "ema" and st.eval_generator().G is st.tricks.tricks[-1].G_ema


MECHANISMS = {
    "vbn": mech_vbn,
    "d-dropout": mech_d_dropout, "leaky-relu": mech_leaky_relu, "upsample-conv": mech_upsample_conv,
    "self-attention": mech_self_attention, "patch-d": mech_patch_d, "width": mech_width,
    "gp": mech_gp, "clip": mech_clip, "sn": mech_sn, "ttur": mech_ttur, "d-steps": mech_d_steps,
    "label-smoothing": mech_label_smoothing, "label-noise": mech_label_noise, "label-flip": mech_label_flip,
    "instance-noise": mech_instance_noise, "pac": mech_pac, "g-steps": mech_g_steps, "sgd-d": mech_sgd_d,
    "adam-beta1": mech_adam_beta1, "large-batch": mech_large_batch, "separate-batches": mech_separate_batches,
    "ortho-init": mech_ortho_init, "xavier-init": mech_xavier_init, "latent": mech_latent,
    "truncation": mech_truncation, "ema": mech_ema, "historical-averaging": mech_historical_averaging,
    "feature-matching": mech_feature_matching, "minibatch-discrimination": mech_minibatch_discrimination,
    "minibatch-stddev": mech_minibatch_stddev, "unrolled": mech_unrolled, "dragan": mech_dragan, "r1": mech_r1,
    "r2": mech_r2, "ortho-reg": mech_ortho_reg, "lecam": mech_lecam, "diffaugment": mech_diffaugment,
    "consistency": mech_consistency, "sn-g": mech_sn_g,
    "cgan": mech_cgan, "projection": mech_projection, "acgan": mech_acgan, "infogan": mech_infogan,
    "msg": mech_msg, "simultaneous": mech_simultaneous,
}


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


@pytest.mark.parametrize("fields,match", [
    ({"dataset": "ring8", "loss": "hinge", "tricks": ["label-smoothing"]}, "has none; use ns, mm or ls"),
    ({"dataset": "ring8", "loss": "wasserstein", "tricks": ["label-flip"]}, "has none"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["diffaugment"]}, "not an image data set"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["consistency", "diffaugment"]}, "cannot be combined"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["patch-d", "minibatch-discrimination"]}, "cannot be combined"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["sn", "sn-g"]}, "cannot be combined"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["ortho-init", "xavier-init"]}, "cannot be combined"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["truncation", "latent"]}, "cannot be combined"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["upsample-conv"]}, "option of dcgan"),
    ({"dataset": "ring8", "loss": "wgan", "tricks": ["adam-beta1"]}, "needs the adam optimizer"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["self-attention:res=16"]}, "attention resolution"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["large-batch:factor=64"]}, "lower batch_size"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["cgan", "pac"]}, "packs of samples"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["cgan", "infogan"]}, "one conditioning trick per run"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["cgan", "feature-matching"]}, "depend on the labels"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["projection", "patch-d"]}, "cannot be combined"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["infogan:categories=1"]}, "at least 2 categories"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["msg", "diffaugment"]}, "stacks along the channels"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["msg"]}, "option of dcgan"),
])
def test_meaningless_combinations_fail_when_the_spec_is_built(fields, match):
    with pytest.raises(SpecError, match=match):
        build_spec(fields)


def test_tricks_compose_in_one_run():
    s = build(digits_spec(["sn", "ttur", "ema", "instance-noise", "label-smoothing", "minibatch-stddev", "r1",
                           "diffaugment", "pac"]))
    assert s.tricks.d_steps(1) == 1 and s.batch_size == 32 and not s.d_joint
    assert [t.name for t in s.tricks.tricks] == ["ttur", "minibatch-stddev", "sn", "diffaugment", "instance-noise",
                                                 "pac", "label-smoothing", "r1", "ema"]
    sampler = BatchSampler(s.data.x, s.batch_size, 0)
    for _ in range(3):
        out = gan_step(s, sampler, 0.5)
    assert all(torch.isfinite(v).all() for v in out.values()) and out["penalty_d"] > 0


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
