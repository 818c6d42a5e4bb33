"""The "standard CNN" of Miyato et al. 2018 (Table 3), which Kurach et al. 2019 call SNDCGAN (compare_gan).

G: z -> dense to (H/8 x W/8 x 8w), BN, ReLU; three 4x4 stride-2 transposed convolutions to 4w, 2w, w channels, each
with BN and ReLU; a 3x3 convolution to the image channels, tanh. D: seven convolutions alternating 3x3 stride 1 and
4x4 stride 2 with LeakyReLU(0.1), then a dense logit. The two sources differ in D's channels: compare_gan (Kurach et
al.) doubles them at each stride-2 convolution (w, 2w, 2w, 4w, 4w, 8w, 8w), Miyato et al.'s Table 3 doubles them
after (w, w, 2w, 2w, 4w, 4w, 8w); `d_channels` picks one. Padding keeps the size at stride 1 and halves it at stride
2 (TF's SAME)."""
from __future__ import annotations

from torch import nn

from ganbench.models.base import ARCHS, Discriminator, init_weights
from ganbench.models.dcgan import d_norm_layer

D_CHANNELS = {"kurach": (1, 2, 2, 4, 4, 8, 8), "miyato": (1, 1, 2, 2, 4, 4, 8)}  # multiples of the width


@ARCHS.register("sndcgan")
def sndcgan(sample_shape: tuple[int, ...], z_dim: int, *, width: int = 64, d_channels: str = "kurach",
            d_norm: str = "none", slope: float = 0.1, init: str = "normal") -> tuple[nn.Module, nn.Module]:
    """SNDCGAN / Miyato et al.'s standard CNN (see the module): d_channels kurach (compare_gan) or miyato
    (Table 3); d_norm none, bn or ln in D (the normalisations Miyato et al. and Kurach et al. compare; spectral
    norm is the sn trick); slope of D's LeakyReLU (0.1 in both papers)."""
    channels, height, wide = sample_shape
    if height % 8 or wide % 8:
        raise ValueError(f"sndcgan needs image sides divisible by 8 (three x2 stages); got {height}x{wide}")
    if d_channels not in D_CHANNELS:
        raise ValueError(f"unknown d_channels {d_channels!r}; use {' or '.join(D_CHANNELS)}")
    bh, bw = height // 8, wide // 8
    g: list[nn.Module] = [nn.Linear(z_dim, 8 * width * bh * bw, bias=False), nn.Unflatten(1, (8 * width, bh, bw)),
                          nn.BatchNorm2d(8 * width), nn.ReLU()]
    c = 8 * width
    for _ in range(3):
        g += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU()]
        c //= 2
    G = nn.Sequential(*g, nn.Conv2d(c, channels, 3, 1, 1), nn.Tanh())
    d: list[nn.Module] = []
    c_in = channels
    for i, mult in enumerate(D_CHANNELS[d_channels]):
        stride = 2 if i % 2 else 1
        c_out = width * mult
        d += [nn.Conv2d(c_in, c_out, 4 if stride == 2 else 3, stride, 1, bias=d_norm == "none" or i == 0)]
        d += (d_norm_layer(d_norm, c_out) if i > 0 else []) + [nn.LeakyReLU(slope)]
        c_in = c_out
    D = Discriminator(nn.Sequential(*d), (c_in, bh, bw))
    init_weights(G, init)
    init_weights(D, init)
    return G, D
