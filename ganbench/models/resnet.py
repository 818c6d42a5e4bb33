"""Residual generator and discriminator (SNGAN, Miyato et al. 2018; BigGAN, Brock et al. 2019) at 32, 64, 128 (and
28) pixels, with BigGAN's options: class-conditional batch norm from a shared embedding, and a hierarchical latent
(skip-z) that feeds a chunk of z to every generator block."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.models.base import ARCHS, Discriminator, init_weights
from ganbench.models.dcgan import SelfAttention, stages_for


def g_channels(n: int, width: int) -> list[int]:
    """Channels at the bottom and after each of the n up-sampling blocks: constant 4 x width up to three blocks (the
    SNGAN/BigGAN CIFAR networks: 256 for width 64), else BigGAN's tabulated multiples (BIGGAN_G)."""
    if n <= 3:
        return [4 * width] * (n + 1)
    if n in BIGGAN_G:
        return [width * m for m in BIGGAN_G[n]]
    return [width * 16] + [width * min(16, 2 ** (n - k)) for k in range(1, n + 1)]


# BigGAN's G channel multiples (in-channels of the first block, then each block's out-channels) at 64, 128, 256
BIGGAN_G = {4: [16, 16, 8, 4, 2], 5: [16, 16, 8, 4, 2, 1], 6: [16, 16, 8, 8, 4, 2, 1]}


def d_plan(n: int, width: int) -> list[tuple[int, bool]]:
    """(channels, down-sample?) of each D block: SNGAN's CIFAR D (two halvings, then two blocks at that size) up to
    three stages, else BigGAN's (1, 2, 4, 8, 16, 16 multiples, a halving each, then one block at 4x4)."""
    if n <= 3:
        return [(4 * width, True)] * 2 + [(4 * width, False)] * 2
    return [(width * min(16, 2 ** k), True) for k in range(n)] + [(width * 16, False)]


class CondBatchNorm(nn.Module):
    """Batch norm whose gain and bias are linear functions of a conditioning vector (BigGAN's conditional BN:
    gain = 1 + W_g c, bias = W_b c), or plain affine batch norm when there is no conditioning."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.cond_dim = cond_dim
        self.bn = nn.BatchNorm2d(channels, affine=cond_dim == 0)
        if cond_dim:
            self.gain = nn.Linear(cond_dim, channels, bias=False)
            self.bias = nn.Linear(cond_dim, channels, bias=False)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        h = self.bn(x)
        if not self.cond_dim:
            return h
        return h * (1 + self.gain(c)[:, :, None, None]) + self.bias(c)[:, :, None, None]


class GBlock(nn.Module):
    """BN-ReLU-up-conv3-BN-ReLU-conv3 plus an up-sampled 1x1-conv shortcut."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, bn: bool):
        super().__init__()
        self.bn1 = CondBatchNorm(c_in, cond_dim) if bn else None
        self.bn2 = CondBatchNorm(c_out, cond_dim) if bn else None
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        h = x if self.bn1 is None else self.bn1(x, c)
        h = F.interpolate(F.relu(h), scale_factor=2, mode="nearest")
        h = self.conv1(h)
        h = h if self.bn2 is None else self.bn2(h, c)
        h = self.conv2(F.relu(h))
        return h + self.skip(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResGenerator(nn.Module):
    """z (and, with `classes`, a trailing one-hot class) -> linear to the bottom map -> up-sampling blocks ->
    BN-ReLU-conv3-tanh. With a class, every BN is conditional on a shared class embedding; with `hier`, z is split
    into one chunk for the linear layer and one per block, each joining the block's conditioning (skip-z)."""

    def __init__(self, z_dim: int, channels: list[int], bottom: int, out_channels: int, classes: int,
                 shared_dim: int, hier: bool, bn: bool, attention: int, resolution: int):
        super().__init__()
        self.classes, self.hier, self.bottom = classes, hier, bottom
        latent = z_dim - classes
        n = len(channels) - 1
        if latent < 1:
            raise ValueError(f"the latent has {z_dim} dimensions, {classes} of them the class: nothing left for z")
        if hier:
            if latent < n + 1:
                raise ValueError(f"hier splits z into {n + 1} chunks; z_dim {latent} is too small")
            chunk = latent // (n + 1)
            self.chunks = [latent - n * chunk] + [chunk] * n
        else:
            self.chunks = [latent]
        self.shared = nn.Linear(classes, shared_dim, bias=False) if classes else None
        cond_dim = (shared_dim if classes else 0) + (self.chunks[1] if hier else 0)
        self.linear = nn.Linear(self.chunks[0], channels[0] * bottom * bottom)
        blocks, res = [], bottom
        for k in range(n):
            res *= 2
            blocks.append(GBlock(channels[k], channels[k + 1], cond_dim, bn))
            if attention and res == attention:
                blocks.append(SelfAttention(channels[k + 1]))
        self.blocks = nn.ModuleList(blocks)
        self.out_bn = nn.BatchNorm2d(channels[-1]) if bn else nn.Identity()
        self.out = nn.Conv2d(channels[-1], out_channels, 3, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = z[:, z.shape[1] - self.classes:] if self.classes else None
        z = z[:, : z.shape[1] - self.classes] if self.classes else z
        parts = list(z.split(self.chunks, 1))
        h = self.linear(parts[0]).view(z.shape[0], -1, self.bottom, self.bottom)
        shared = self.shared(y) if self.shared is not None else None
        chunk_iter = iter(parts[1:])
        for block in self.blocks:
            if isinstance(block, GBlock):
                conds = ([shared] if shared is not None else []) + ([next(chunk_iter)] if self.hier else [])
                h = block(h, torch.cat(conds, 1) if conds else None)
            else:
                h = block(h)
        return torch.tanh(self.out(F.relu(self.out_bn(h))))


class DBlock(nn.Module):
    """ReLU-conv3-ReLU-conv3 (then average-pool when down-sampling) plus a 1x1-conv shortcut; the first block of D
    (SNGAN's optimized block) has no leading ReLU and pools its shortcut first."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if (c_in != c_out or down) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = self.conv2(F.relu(h))
        if self.down:
            h = F.avg_pool2d(h, 2)
        skip = x
        if self.first:
            skip = self.skip(F.avg_pool2d(skip, 2) if self.down else skip)
        elif self.skip is not None:
            skip = self.skip(skip)
            skip = F.avg_pool2d(skip, 2) if self.down else skip
        return h + skip


class SumPool(nn.Module):
    """ReLU, then the sum over positions (SNGAN/BigGAN D's global sum pooling)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x).sum(dim=(2, 3))


@ARCHS.register("resnet")
def resnet(
    sample_shape: tuple[int, ...], z_dim: int, *, width: int = 64, g_bn: bool = True, classes: int = 0,
    shared_dim: int = 128, hier: bool = False, attention: int = 0, init: str = "torch",
) -> tuple[nn.Module, nn.Module]:
    """Residual G and D of SNGAN (Miyato et al. 2018) and BigGAN (Brock et al. 2019): up to 32x32, 4 x width channels
    throughout (BigGAN's CIFAR networks; SNGAN's D has half as many), D halving twice then two blocks at 8x8; at
    64/128, BigGAN's channel multiples of width (G 16 down to 1, D 1 up to 16). G up-samples by nearest + conv, D
    down-samples by average pooling and ends in global sum pooling. Options: classes (the latent ends with a one-hot class
    of this many values, set by the conditioning tricks: G's batch norms become class-conditional through a shared
    embedding of `shared_dim`), hier (BigGAN's hierarchical latent: a chunk of z into every G block), attention (a
    SAGAN block at that resolution in G and D; -1: the largest map inside the networks), g_bn, init."""
    channels, resolution = sample_shape[0], sample_shape[-1]
    n = stages_for(resolution)
    bottom = resolution >> n
    sizes = [bottom << k for k in range(n + 1)]
    if attention == -1:
        attention = resolution // 2
    if classes < 0 or shared_dim < 1 or width < 1:
        raise ValueError("classes must be >= 0, shared_dim and width >= 1")
    if (classes or hier) and not g_bn:
        raise ValueError("classes and hier condition G's batch norms; they need g_bn")
    plan = d_plan(n, width)
    d_sizes, r = [], resolution
    for _, down in plan:
        r = r // 2 if down else r
        if down:
            d_sizes.append(r)
    both = sorted(set(sizes[1:]) & set(d_sizes))
    if attention and attention not in both:
        raise ValueError(f"attention resolution {attention} must be a size where both G and D have a block: {both}")
    G = ResGenerator(z_dim, g_channels(n, width), bottom, channels, classes, shared_dim, hier, g_bn, attention,
                     resolution)
    blocks, c, res = [], channels, resolution
    for i, (c_out, down) in enumerate(plan):
        blocks.append(DBlock(c, c_out, down, first=i == 0))
        c, res = c_out, res // 2 if down else res
        if attention and res == attention and down:
            blocks.append(SelfAttention(c))
    D = Discriminator(nn.Sequential(*blocks, SumPool()), (c,))
    init_weights(G, init)
    init_weights(D, init)
    return G, D
