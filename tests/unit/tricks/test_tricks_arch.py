"""Architecture tricks (ganbench/tricks/arch.py): D dropout, leaky ReLU in G, upsample + conv, self-attention, a patch
D, width, virtual batch norm and MSG-GAN's multi-scale gradients, each checked against its paper's mechanism, not
merely that it runs."""
import pytest
import torch
from torch import nn

from ganbench.build import build
from ganbench.data.base import BatchSampler
from ganbench.errors import SpecError
from ganbench.step import gan_step
from trickspecs import digits_spec, family_names, spec_with


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
    "d-dropout": mech_d_dropout,
    "leaky-relu": mech_leaky_relu,
    "upsample-conv": mech_upsample_conv,
    "self-attention": mech_self_attention,
    "patch-d": mech_patch_d,
    "width": mech_width,
    "vbn": mech_vbn,
    "msg": mech_msg,
}


@pytest.mark.parametrize("name", family_names("arch"))
def test_trick_mechanism(name):
    MECHANISMS[name]()
