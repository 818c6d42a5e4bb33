"""The InfoGAN-style networks of Lucic et al. 2018 ("Are GANs created equal?", compare_gan v1 abstract_gan.py).

G: z -> dense 1024, BN, LeakyReLU(0.2) -> dense 128 x H/4 x W/4, BN, LeakyReLU -> 4x4 stride-2 transposed conv to 64,
BN, LeakyReLU -> 4x4 stride-2 transposed conv to the image channels. D: 4x4 stride-2 conv 64, LeakyReLU -> 4x4
stride-2 conv 128, [BN], LeakyReLU -> dense 1024, [BN], LeakyReLU -> dense logit; D's batch norm is a searched
hyper-parameter (`d_bn`). compare_gan's G ends in a sigmoid for images in [0, 1]; ganbench's data lie in [-1, 1], so
G ends in tanh, the same map up to that affine change of scale."""
from __future__ import annotations

from torch import nn

from ganbench.models.base import ARCHS, Discriminator, init_weights


@ARCHS.register("infogan")
def infogan(sample_shape: tuple[int, ...], z_dim: int, *, d_bn: bool = True, slope: float = 0.2,
            init: str = "normal") -> tuple[nn.Module, nn.Module]:
    """Lucic et al. 2018's InfoGAN-style G and D (see the module); d_bn: batch norm in D's second conv and dense
    layer (a hyper-parameter of their search); slope of every LeakyReLU (0.2)."""
    channels, height, width = sample_shape
    if height % 4 or width % 4:
        raise ValueError(f"infogan needs image sides divisible by 4 (two x2 stages); got {height}x{width}")
    bh, bw = height // 4, width // 4
    act = lambda: nn.LeakyReLU(slope)  # noqa: E731
    G = nn.Sequential(
        nn.Linear(z_dim, 1024, bias=False), nn.BatchNorm1d(1024), act(),
        nn.Linear(1024, 128 * bh * bw, bias=False), nn.BatchNorm1d(128 * bh * bw), act(),
        nn.Unflatten(1, (128, bh, bw)),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), act(),
        nn.ConvTranspose2d(64, channels, 4, 2, 1), nn.Tanh(),
    )
    body = nn.Sequential(
        nn.Conv2d(channels, 64, 4, 2, 1), act(),
        nn.Conv2d(64, 128, 4, 2, 1, bias=not d_bn), *([nn.BatchNorm2d(128)] if d_bn else []), act(),
        nn.Flatten(), nn.Linear(128 * bh * bw, 1024, bias=not d_bn), *([nn.BatchNorm1d(1024)] if d_bn else []), act(),
    )
    D = Discriminator(body, (1024,))
    init_weights(G, init)
    init_weights(D, init)
    return G, D
