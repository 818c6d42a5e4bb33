"""The residual networks against SNGAN's and BigGAN's definitions: channel plans, residual blocks, global sum
pooling, class-conditional batch norm from a shared embedding, and the hierarchical latent (skip-z)."""
import pytest
import torch
from torch import nn

from ganbench.models import build_models
from ganbench.models.resnet import CondBatchNorm, DBlock, GBlock, SumPool


def convs(module, kind):
    return [m for m in module.modules() if isinstance(m, kind)]


@pytest.mark.parametrize("res,g_plan,d_plan", [
    (32, [256, 256, 256, 256], [(256, True), (256, True), (256, False), (256, False)]),  # BigGAN/SNGAN CIFAR
    (64, [1024, 1024, 512, 256, 128], [(64, True), (128, True), (256, True), (512, True), (1024, False)]),
    (128, [1024, 1024, 512, 256, 128, 64], [(64, True), (128, True), (256, True), (512, True), (1024, True), (1024, False)]),
])
def test_channel_plans_follow_biggan(res, g_plan, d_plan):
    with torch.device("meta"):
        G, D = build_models("resnet", (3, res, res), 128, {"width": 64})
    blocks = [b for b in G.blocks if isinstance(b, GBlock)]
    assert [blocks[0].conv1.in_channels] + [b.conv2.out_channels for b in blocks] == g_plan
    assert G.linear.out_features == g_plan[0] * 4 * 4  # a 4x4 bottom
    d_blocks = [b for b in D.body if isinstance(b, DBlock)]
    assert [(b.conv2.out_channels, b.down) for b in d_blocks] == d_plan
    assert D.feature_shape == (d_plan[-1][0],) and isinstance(D.body[-1], SumPool)


def test_generator_block_is_residual():
    """With the residual branch's last conv zeroed, a G block is its shortcut: nearest up-sampling then a 1x1 conv."""
    torch.manual_seed(0)
    block = GBlock(4, 6, 0, bn=True)
    nn.init.zeros_(block.conv2.weight)
    nn.init.zeros_(block.conv2.bias)
    x = torch.randn(2, 4, 5, 5)
    expected = block.skip(x.repeat_interleave(2, 2).repeat_interleave(2, 3))
    assert torch.allclose(block(x, None), expected, atol=1e-6)


def test_discriminator_blocks_pool_and_sum():
    torch.manual_seed(0)
    first = DBlock(3, 8, down=True, first=True)
    x = torch.randn(2, 3, 8, 8)
    nn.init.zeros_(first.conv2.weight)
    nn.init.zeros_(first.conv2.bias)
    assert torch.allclose(first(x), first.skip(nn.functional.avg_pool2d(x, 2)), atol=1e-6)  # SNGAN's optimized block
    assert torch.equal(SumPool()(torch.ones(2, 5, 3, 4)), torch.full((2, 5), 12.0))
    assert torch.equal(SumPool()(-torch.ones(1, 2, 3, 3)), torch.zeros(1, 2))  # ReLU before the sum


def test_conditional_batch_norm_is_batch_norm_scaled_by_the_condition():
    torch.manual_seed(0)
    cbn = CondBatchNorm(3, 5)
    x, c = torch.randn(4, 3, 2, 2), torch.randn(4, 5)
    plain = nn.functional.batch_norm(x, None, None, training=True)
    gain, bias = cbn.gain(c)[:, :, None, None], cbn.bias(c)[:, :, None, None]
    assert torch.allclose(cbn(x, c), plain * (1 + gain) + bias, atol=1e-5)
    assert not cbn.bn.affine


def test_class_conditional_generator_uses_a_shared_embedding():
    torch.manual_seed(0)
    G, _ = build_models("resnet", (3, 32, 32), 16 + 10, {"width": 4, "classes": 10, "shared_dim": 8})
    assert G.shared.in_features == 10 and G.shared.out_features == 8
    cbns = convs(G, CondBatchNorm)
    assert cbns and all(m.cond_dim == 8 for m in cbns)  # every G block's BN is conditioned on the same embedding
    G.eval()
    z = torch.randn(1, 16).expand(2, -1)
    y = torch.eye(10)[[3, 7]]
    a = G(torch.cat([z, y], 1))
    assert not torch.allclose(a[0], a[1])  # same z, two classes: two images
    assert G.linear.in_features == 16  # the class never enters the first linear layer


def test_hierarchical_latent_feeds_a_chunk_to_every_block():
    torch.manual_seed(0)
    G, _ = build_models("resnet", (3, 32, 32), 20, {"width": 4, "hier": True})
    assert G.chunks == [5, 5, 5, 5] and G.linear.in_features == 5
    assert all(m.cond_dim == 5 for m in convs(G, CondBatchNorm))
    G.eval()
    z = torch.randn(1, 20)
    z2 = z.clone()
    z2[:, 15:] += 1.0  # only the last block's chunk changes
    assert not torch.allclose(G(z), G(z2))
    with pytest.raises(ValueError, match="too small"):
        build_models("resnet", (3, 32, 32), 3, {"hier": True})


def test_conditioning_tricks_switch_on_conditional_batch_norm():
    from ganbench.build import build
    from ganbench.spec import build_spec

    spec = build_spec({"dataset": "cifar10", "loss": "hinge", "arch": "resnet", "tricks": ["projection", "sn"],
                       "arch_options": {"width": 4}, "batch_size": 8})
    s = build(spec)
    assert s.G.classes == 10 and s.D.projection is not None and spec.arch_options["classes"] == 0
    z = s.latent(4)
    assert s.G(z).shape == (4, 3, 32, 32) and z.shape[1] == spec.z_dim + 10


def test_options_that_would_do_nothing_are_refused():
    with pytest.raises(ValueError, match="need g_bn"):
        build_models("resnet", (3, 32, 32), 26, {"classes": 10, "g_bn": False})
    with pytest.raises(ValueError, match="both G and D have a block"):
        build_models("resnet", (3, 32, 32), 16, {"attention": 32})  # D has no 32x32 block after a halving
    build_models("resnet", (3, 32, 32), 16, {"attention": 16, "width": 4})
