"""DCGAN (Radford et al. 2016) generator and discriminator, sized from the data's resolution and channels."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.models.base import ARCHS, Discriminator, g_norm_layer, init_weights, with_reference_batch


def stages_for(resolution: int) -> int:
    """Number of x2 up/down-sampling stages: from a 4x4 bottom for powers of two, at least two (8x8 data starts at
    2x2); other sizes from the largest halving that leaves a bottom of 3 to 7 (28x28 MNIST: 7x7, two stages, as the
    DCGAN/InfoGAN networks for MNIST)."""
    if resolution >= 8 and not resolution & (resolution - 1):
        return max(2, int(math.log2(resolution)) - 2)
    n = 0
    while resolution % (2 << n) == 0 and resolution >> (n + 1) >= 3:
        n += 1
    if n < 2 or resolution >> n > 7:
        raise ValueError(f"dcgan needs a resolution of (3 to 7) x 2^k with k >= 2, e.g. 28, 32 or 64; got {resolution} "
                         "(pad or resize the data)")
    return n


def d_norm_layer(kind: str, channels: int) -> list[nn.Module]:
    if kind == "none":
        return []
    if kind == "bn":
        return [nn.BatchNorm2d(channels)]
    if kind == "ln":
        return [nn.GroupNorm(1, channels)]
    raise ValueError(f"unknown d_norm {kind!r}; use none, bn or ln")


class SelfAttention(nn.Module):
    """SAGAN's self-attention block: y = x + gamma * o, o = v(x) softmax(q(x)^T k(x)), gamma starting at 0
    (Zhang et al. 2019); query and key have C/8 channels (at least one)."""

    def __init__(self, channels: int):
        super().__init__()
        inner = max(1, channels // 8)
        self.q = nn.Conv2d(channels, inner, 1)
        self.k = nn.Conv2d(channels, inner, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.q(x).flatten(2), self.k(x).flatten(2), self.v(x).flatten(2)
        attn = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # b x hw x hw: each position attends to all
        o = (v @ attn.transpose(1, 2)).view(b, c, h, w)
        return x + self.gamma * o


def up(c_in: int, c_out: int, mode: str, bias: bool) -> nn.Module:
    """x2 up-sampling: a 4x4 stride-2 transposed convolution (DCGAN), or nearest up-sampling then a 3x3
    convolution, which avoids checkerboard artefacts (Odena et al. 2016)."""
    if mode == "convT":
        return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)
    if mode == "nearest":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias))
    raise ValueError(f"unknown upsample {mode!r}; use convT or nearest")


def activation(kind: str) -> nn.Module:
    if kind == "relu":
        return nn.ReLU()
    if kind == "lrelu":
        return nn.LeakyReLU(0.2)
    raise ValueError(f"unknown activation {kind!r}; use relu or lrelu")


def pack_scales(images: list[torch.Tensor]) -> torch.Tensor:
    """Images of decreasing resolution (each half the last) as one tensor at the first's resolution: the lower
    scales nearest-up-sampled and stacked after it along the channels (so every tensor trick still sees N x C x H x W)."""
    size = images[0].shape[-1]
    return torch.cat([images[0]] + [F.interpolate(im, scale_factor=size // im.shape[-1], mode="nearest")
                                    for im in images[1:]], 1)


def unpack_scales(x: torch.Tensor, channels: int) -> list[torch.Tensor]:
    """Inverse of pack_scales: the k-th group of `channels` channels average-pooled by 2^k."""
    groups = x.split(channels, 1)
    return [groups[0]] + [F.avg_pool2d(g, 2 ** k) for k, g in enumerate(groups[1:], start=1)]


def image_pyramid(x: torch.Tensor, scales: int) -> torch.Tensor:
    """A real batch as MSG-GAN's D sees it: the image and its 2x, 4x, ... average-pooled versions, packed."""
    return pack_scales([x] + [F.avg_pool2d(x, 2 ** k) for k in range(1, scales)])


class MSGGenerator(nn.Module):
    """MSG-GAN generator: every stage's feature map also goes through a 1x1 convolution to an image (tanh), so G
    emits one image per resolution; the output packs them (pack_scales), full resolution first."""

    def __init__(self, stages: list[nn.Module], heads: list[nn.Module], final: nn.Module):
        super().__init__()
        self.stages, self.heads, self.final = nn.ModuleList(stages), nn.ModuleList(heads), final

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h, low = z, []
        for stage, head in zip(self.stages, self.heads):
            h = stage(h)
            low.append(head(h))
        return pack_scales([self.final(h)] + low[::-1])


class MSGDiscriminatorBody(nn.Module):
    """MSG-GAN discriminator body: the image at each lower resolution is concatenated to D's activations where they
    reach that resolution ('simple' combine), the lowest one to the last feature map (Karnewar & Wang 2020)."""

    def __init__(self, blocks: list[nn.Module], channels: int):
        super().__init__()
        self.blocks, self.channels = nn.ModuleList(blocks), channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        images = unpack_scales(x, self.channels)
        h = self.blocks[0](images[0])
        for block, image in zip(self.blocks[1:], images[1:]):
            h = block(torch.cat([h, image], 1))
        return torch.cat([h, images[-1]], 1)


@ARCHS.register("dcgan")
def dcgan(
    sample_shape: tuple[int, ...], z_dim: int, *, width: int = 64, d_norm: str = "none", g_bn: bool = True,
    init: str = "normal", g_act: str = "relu", upsample: str = "convT", d_dropout: float = 0.0, attention: int = 0,
    patch: bool = False, vbn: int = 0, msg: bool = False,
) -> tuple[nn.Module, nn.Module]:
    """DCGAN (Radford et al. 2016): G projects z to the bottom, then x2 up-sampling stages with BN+ReLU, tanh out;
    D strided convs with LeakyReLU. Options: g_act (relu, lrelu), upsample (convT, nearest + conv), d_dropout
    (after each D activation), attention (a SAGAN block at that resolution in G and D; 0: none), patch (PatchGAN
    D: one logit per position of D's last feature map, Isola et al. 2017), vbn (virtual batch norm in G with a
    reference batch of that size, Salimans et al. 2016; 0: batch norm), msg (MSG-GAN: G emits an image at every
    stage and D takes each in at its resolution; G's output and D's input pack the scales along the channels, see
    pack_scales)."""
    channels, resolution = sample_shape[0], sample_shape[-1]
    n = stages_for(resolution)
    bottom = resolution >> n
    top = width * 2 ** (n - 1)
    if attention == -1:  # the self-attention trick's default: the largest feature map inside the networks
        attention = resolution // 2
    sizes = [bottom << k for k in range(n + 1)]  # the feature-map resolutions of G and D
    if attention and attention not in sizes:
        raise ValueError(f"attention resolution {attention} must be one of the feature-map sizes {sizes}")
    if not 0 <= d_dropout < 1:
        raise ValueError(f"d_dropout {d_dropout} must lie in [0, 1)")

    if vbn and not g_bn:
        raise ValueError("vbn replaces G's batch norm; it needs g_bn")
    if msg and vbn:
        raise ValueError("msg and vbn: the multi-scale generator has no reference-batch wrapper")
    G = _generator(channels, n, bottom, top, z_dim, g_bn, vbn, g_act, upsample, attention, msg)
    D = _discriminator(channels, resolution, n, bottom, width, d_norm, d_dropout, attention, patch, msg)
    init_weights(G, init)  # in this order (G built, D built, G init, D init): the random streams of earlier runs
    init_weights(D, init)
    return with_reference_batch(G, vbn, z_dim), D


def _attend(c: int, res: int, attention: int) -> list[nn.Module]:
    """A self-attention block where the feature map has the attention resolution, else nothing."""
    return [SelfAttention(c)] if attention == res else []


def _generator(channels: int, n: int, bottom: int, top: int, z_dim: int, g_bn: bool, vbn: int, g_act: str,
               upsample: str, attention: int, msg: bool) -> nn.Module:
    """DCGAN's G: z projected to top x bottom x bottom, then n-1 x2 up-sampling stages halving the channels, and a
    last up-sampling to the image with tanh (MSG: a 1x1 image head after every stage)."""
    def g_norm(c: int) -> list[nn.Module]:
        return [g_norm_layer(c, vbn, 2)] if g_bn else []

    g_stages: list[list[nn.Module]] = [[nn.Linear(z_dim, top * bottom * bottom, bias=not g_bn),
                                        nn.Unflatten(1, (top, bottom, bottom))]]
    g_stages[0] += g_norm(top) + [activation(g_act)] + _attend(top, bottom, attention)
    c, res = top, bottom
    stage_channels = [c]
    for _ in range(n - 1):
        stage = [up(c, c // 2, upsample, bias=not g_bn)] + g_norm(c // 2) + [activation(g_act)]
        c, res = c // 2, res * 2
        g_stages.append(stage + _attend(c, res, attention))
        stage_channels.append(c)
    final = [up(c, channels, upsample, bias=True), nn.Tanh()]
    if msg:
        heads = [nn.Sequential(nn.Conv2d(sc, channels, 1), nn.Tanh()) for sc in stage_channels]
        return MSGGenerator([nn.Sequential(*st) for st in g_stages], heads, nn.Sequential(*final))
    return nn.Sequential(*[m for st in g_stages for m in st], *final)


def _discriminator(channels: int, resolution: int, n: int, bottom: int, width: int, d_norm: str, d_dropout: float,
                   attention: int, patch: bool, msg: bool) -> nn.Module:
    """DCGAN's D: n strided 4x4 convolutions doubling the channels with LeakyReLU (and the chosen normalisation,
    dropout), then the logit head (MSG: each lower-resolution image joins D's activations)."""
    def d_act() -> list[nn.Module]:
        return [nn.LeakyReLU(0.2)] + ([nn.Dropout(d_dropout)] if d_dropout else [])

    extra = channels if msg else 0
    d_blocks: list[list[nn.Module]] = [[nn.Conv2d(channels, width, 4, 2, 1)] + d_act()]
    c, res = width, resolution // 2
    d_blocks[0] += _attend(c, res, attention)
    for _ in range(n - 1):
        block = [nn.Conv2d(c + extra, c * 2, 4, 2, 1, bias=d_norm == "none")] + d_norm_layer(d_norm, c * 2) + d_act()
        c, res = c * 2, res // 2
        d_blocks.append(block + _attend(c, res, attention))
    if msg:
        return Discriminator(MSGDiscriminatorBody([nn.Sequential(*b) for b in d_blocks], channels),
                             (c + extra, bottom, bottom), patch=patch)
    return Discriminator(nn.Sequential(*[m for b in d_blocks for m in b]), (c, bottom, bottom), patch=patch)
