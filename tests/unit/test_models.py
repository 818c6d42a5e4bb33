"""Every architecture on every data set it can model: shapes, gradients, one step of every loss."""
import pytest
import torch

from datafixtures import dataset_cases
from ganbench.data import get_dataset
from ganbench.errors import SpecError
from ganbench.losses import LOSSES
from ganbench.models import ARCHS, build_models
from ganbench.models.base import resolve_options

SUITABLE = {"mlp": "points", "dcgan": "image", "resnet": "image", "sndcgan": "image", "infogan": "image"}
SMALL = {"mlp": {"g_hidden": 16, "g_layers": 2, "d_hidden": 16, "d_layers": 2}, "dcgan": {"width": 8},
         "resnet": {"width": 4}, "sndcgan": {"width": 8}, "infogan": {}}


def test_every_arch_is_covered():
    assert set(SUITABLE) == set(ARCHS.names())


def _cases() -> list[tuple[str, str]]:
    """Every architecture with one data set of each sample shape it can model (fixtures of the paper-scale sets)."""
    seen, out = set(), []
    for a in ARCHS.names():
        for d in dataset_cases():
            data = get_dataset(d)
            if a == "sndcgan" and data.sample_shape[-1] % 8:  # three x2 stages: sides divisible by 8 (refused below)
                continue
            if data.kind == SUITABLE[a] and (a, data.sample_shape) not in seen:
                seen.add((a, data.sample_shape))
                out.append((a, d))
    return out


CASES = _cases()
# One training step of every loss on every architecture, at every shape except InfoGAN's at 128x128: its dense
# layers there hold 268M parameters (no width option: Lucic et al.'s sizes), 40 s a loss on this CPU, and the step
# is the same code as at 64x64; test_shapes_and_gradients still builds and differentiates it at 128.
STEP_CASES = [(a, d) for a, d in CASES if not (a == "infogan" and get_dataset(d).sample_shape[-1] > 64)]


@pytest.mark.parametrize("arch,dataset", CASES)
def test_shapes_and_gradients(arch, dataset):
    data = get_dataset(dataset)
    torch.manual_seed(0)
    G, D = build_models(arch, data.sample_shape, 8, SMALL[arch])
    fake = G(torch.randn(4, 8))
    assert fake.shape == (4, *data.sample_shape)
    out = D(fake)
    assert out.shape == (4,)
    out.sum().backward()
    assert all(p.grad is not None for p in G.parameters())
    if data.kind == "image":
        assert fake.min() >= -1 and fake.max() <= 1  # tanh output matches the data scale


@pytest.mark.parametrize("arch,dataset", STEP_CASES)
@pytest.mark.parametrize("loss", LOSSES.names())
def test_one_step_of_every_loss_moves_both_players(arch, dataset, loss):
    """compare_gan's GAN test: every architecture x loss, one step at a tiny batch size."""
    from ganbench.build import build
    from ganbench.data.base import BatchSampler
    from ganbench.spec import build_spec
    from ganbench.step import gan_step

    s = build(build_spec({"dataset": dataset, "loss": loss, "arch": arch, "arch_options": SMALL[arch], "batch_size": 4, "z_dim": 8}))
    before_g = [p.detach().clone() for p in s.G.parameters()]
    before_d = [p.detach().clone() for p in s.D.parameters()]
    out = gan_step(s, BatchSampler(s.data.x, 4, 0), 0.0)
    assert all(torch.isfinite(v).all() for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(before_g, s.G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, s.D.parameters()))


def test_dcgan_sizes_from_resolution_and_channels():
    G, D = build_models("dcgan", (3, 32, 32), 16, {"width": 8})
    assert G(torch.randn(2, 16)).shape == (2, 3, 32, 32) and D(torch.randn(2, 3, 32, 32)).shape == (2,)


def test_unknown_arch_option_is_refused():
    with pytest.raises(SpecError, match="has no option"):
        resolve_options("dcgan", {"widht": 3})


@pytest.mark.parametrize("arch", ARCHS.names())
@pytest.mark.parametrize("init", ["normal", "torch"])
def test_initialisations(arch, init):
    """normal: DCGAN/PacGAN weights N(0, 0.02) and zero biases; torch: PyTorch's U(+-1/sqrt(fan_in)) default."""
    shape = (2,) if arch == "mlp" else (1, 8, 8)
    torch.manual_seed(0)
    G, D = build_models(arch, shape, 8, {"init": init})
    weights = [m.weight for net in (G, D) for m in net.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    if init == "normal":
        big = torch.cat([w.flatten() for w in weights if w.numel() >= 1000])
        assert big.std().item() == pytest.approx(0.02, rel=0.05) and abs(big.mean().item()) < 2e-3
    else:
        for w in weights:
            fan_in = torch.nn.init._calculate_fan_in_and_fan_out(w)[0]
            bound = 1 / fan_in ** 0.5
            assert w.abs().max() <= bound + 1e-7 and w.abs().max() > 0.8 * bound


def test_unknown_init_is_refused():
    from ganbench.spec import build_spec

    with pytest.raises(SpecError, match="unknown init"):
        build_spec({"dataset": "ring8", "loss": "ns", "arch_options": {"init": "xavier"}})


@pytest.mark.parametrize("g_act,layer", [("relu", torch.nn.ReLU), ("lrelu", torch.nn.LeakyReLU), ("tanh", torch.nn.Tanh)])
def test_mlp_generator_activation(g_act, layer):
    """Each hidden layer of the MLP G ends in the chosen activation (tanh: the Unrolled GAN reference's G)."""
    G, _ = build_models("mlp", (2,), 8, {"g_act": g_act, "g_layers": 3, "g_bn": False})
    acts = [m for m in G.modules() if isinstance(m, (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.Tanh))]
    assert len(acts) == 3 and all(type(a) is layer for a in acts)
    assert torch.allclose(G(torch.zeros(4, 8)), G(torch.zeros(4, 8)))


@pytest.mark.parametrize("d_channels,expected", [("kurach", [64, 128, 128, 256, 256, 512, 512]),
                                                 ("miyato", [64, 64, 128, 128, 256, 256, 512])])
def test_sndcgan_is_the_standard_cnn(d_channels, expected):
    """Miyato et al. 2018 Table 3 / compare_gan's SNDCGAN at 32x32: G dense to 4x4x512, three 4x4 stride-2
    deconvolutions to 256, 128, 64 with BN+ReLU, a 3x3 conv to RGB and tanh; D seven convs (3x3 s1 / 4x4 s2
    alternating) with LeakyReLU(0.1) and a dense logit on 4x4x512."""
    G, D = build_models("sndcgan", (3, 32, 32), 128, {"d_channels": d_channels})
    deconvs = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [m.out_channels for m in deconvs] == [256, 128, 64] and all(m.kernel_size == (4, 4) for m in deconvs)
    assert G[0].out_features == 4 * 4 * 512 and isinstance(G[-1], torch.nn.Tanh) and G[-2].kernel_size == (3, 3)
    convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == expected
    assert [m.kernel_size[0] for m in convs] == [3, 4, 3, 4, 3, 4, 3] and [m.stride[0] for m in convs] == [1, 2, 1, 2, 1, 2, 1]
    assert {m.negative_slope for m in D.modules() if isinstance(m, torch.nn.LeakyReLU)} == {0.1}
    assert D.head.in_features == 512 * 4 * 4
    assert G(torch.randn(2, 128)).shape == (2, 3, 32, 32) and D(torch.randn(2, 3, 32, 32)).shape == (2,)


def test_sndcgan_refuses_sides_it_cannot_halve_three_times():
    from ganbench.spec import build_spec

    with pytest.raises(SpecError, match="divisible by 8"):
        build_spec({"dataset": "mnist", "loss": "ns", "arch": "sndcgan"})


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64)])
@pytest.mark.parametrize("d_bn", [True, False])
def test_infogan_is_lucic_et_al_network(shape, d_bn):
    """compare_gan v1: G dense 1024 and 128 x H/4 x W/4 with BN + LeakyReLU(0.2), deconvs to 64 and to the
    channels; D convs 64 and 128 (4x4 stride 2), dense 1024, logit; D's BN on conv2 and the dense layer when d_bn."""
    G, D = build_models("infogan", shape, 64, {"d_bn": d_bn})
    dense = [m for m in G.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in dense] == [1024, 128 * (shape[1] // 4) * (shape[2] // 4)]
    assert [m.out_channels for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)] == [64, shape[0]]
    assert [m.out_channels for m in D.modules() if isinstance(m, torch.nn.Conv2d)] == [64, 128]
    bns = [m for m in D.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
    assert len(bns) == (2 if d_bn else 0) and D.head.in_features == 1024
    assert {m.negative_slope for net in (G, D) for m in net.modules() if isinstance(m, torch.nn.LeakyReLU)} == {0.2}
    assert G(torch.rand(3, 64) * 2 - 1).shape == (3, *shape) and D(torch.randn(3, *shape)).shape == (3,)
