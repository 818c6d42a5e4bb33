"""DCGAN (Radford et al. 2016) generator and discriminator, sized from the data's resolution and channels."""
from __future__ import annotations

import math

from torch import nn

from ganbench.models.base import ARCHS, Discriminator, init_weights


def stages_for(resolution: int) -> int:
    """Number of x2 up/down-sampling stages: from a 4x4 bottom, at least two (8x8 data starts at 2x2)."""
    if resolution < 8 or resolution & (resolution - 1):
        raise ValueError(f"dcgan needs a power-of-two resolution >= 8, got {resolution} (pad the data)")
    return max(2, int(math.log2(resolution)) - 2)


def d_norm_layer(kind: str, channels: int) -> list[nn.Module]:
    if kind == "none":
        return []
    if kind == "bn":
        return [nn.BatchNorm2d(channels)]
    if kind == "ln":
        return [nn.GroupNorm(1, channels)]
    raise ValueError(f"unknown d_norm {kind!r}; use none, bn or ln")


@ARCHS.register("dcgan")
def dcgan(
    sample_shape: tuple[int, ...], z_dim: int, *, width: int = 64, d_norm: str = "none", g_bn: bool = True, init: str = "normal",
) -> tuple[nn.Module, nn.Module]:
    """DCGAN: G projects z to the bottom then transposed convs x2 with BN+ReLU, tanh out; D strided convs with LeakyReLU."""
    channels, resolution = sample_shape[0], sample_shape[-1]
    n = stages_for(resolution)
    bottom = resolution >> n
    top = width * 2 ** (n - 1)

    def g_norm(c: int) -> list[nn.Module]:
        return [nn.BatchNorm2d(c)] if g_bn else []

    g: list[nn.Module] = [nn.Linear(z_dim, top * bottom * bottom, bias=not g_bn), nn.Unflatten(1, (top, bottom, bottom))]
    g += g_norm(top) + [nn.ReLU()]
    c = top
    for _ in range(n - 1):
        g += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=not g_bn)] + g_norm(c // 2) + [nn.ReLU()]
        c //= 2
    g += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]
    G = nn.Sequential(*g)

    d: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
    c = width
    for _ in range(n - 1):
        d += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=d_norm == "none")] + d_norm_layer(d_norm, c * 2) + [nn.LeakyReLU(0.2)]
        c *= 2
    D = Discriminator(nn.Sequential(*d), (c, bottom, bottom))
    init_weights(G, init)
    init_weights(D, init)
    return G, D
