"""Every architecture on every data set it can model: shapes, gradients, one step of every loss."""
import pytest
import torch

from datafixtures import dataset_cases
from ganbench.data import get_dataset
from ganbench.errors import SpecError
from ganbench.losses import LOSSES
from ganbench.models import ARCHS, build_models
from ganbench.models.base import resolve_options

SUITABLE = {"mlp": "points", "dcgan": "image", "resnet": "image"}
SMALL = {"mlp": {"g_hidden": 16, "g_layers": 2, "d_hidden": 16, "d_layers": 2}, "dcgan": {"width": 8},
         "resnet": {"width": 4}}


def test_every_arch_is_covered():
    assert set(SUITABLE) == set(ARCHS.names())


def _cases() -> list[tuple[str, str]]:
    """Every architecture with one data set of each sample shape it can model (fixtures of the paper-scale sets)."""
    seen, out = set(), []
    for a in ARCHS.names():
        for d in dataset_cases():
            data = get_dataset(d)
            if data.kind == SUITABLE[a] and (a, data.sample_shape) not in seen:
                seen.add((a, data.sample_shape))
                out.append((a, d))
    return out


CASES = _cases()


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


@pytest.mark.parametrize("arch,dataset", CASES)
@pytest.mark.parametrize("loss", LOSSES.names())
def test_one_step_of_every_loss_moves_both_players(arch, dataset, loss):
    """compare_gan's GAN test: every architecture x loss, one step at a tiny batch size."""
    from ganbench.build import build
    from ganbench.data.base import BatchSampler
    from ganbench.spec import build_spec
    from ganbench.train import gan_step

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
