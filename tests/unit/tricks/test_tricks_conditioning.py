"""Conditioning tricks (ganbench/tricks/conditioning.py): cGAN, the projection discriminator, AC-GAN and InfoGAN, each
checked against its paper's mechanism, not merely that it runs."""
import pytest
import torch

from ganbench.build import build
from ganbench.data.base import BatchSampler
from ganbench.tricks.base import DBatch
from ganbench.step import gan_step
from trickspecs import digits_spec, family_names, spec_with


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


MECHANISMS = {
    "cgan": mech_cgan,
    "projection": mech_projection,
    "acgan": mech_acgan,
    "infogan": mech_infogan,
}


@pytest.mark.parametrize("name", family_names("conditioning"))
def test_trick_mechanism(name):
    MECHANISMS[name]()
