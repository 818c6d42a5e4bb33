"""Fully connected G and D for 2-D data, after the VEEGAN/PacGAN synthetic-data networks."""
from __future__ import annotations

import math

import torch
from torch import nn

from ganbench.models.base import ARCHS, Discriminator, g_norm_layer, init_weights, with_reference_batch


class Maxout(nn.Module):
    """Linear layer followed by a max over `pieces` groups of units (Goodfellow et al. 2013)."""

    def __init__(self, d_in: int, d_out: int, pieces: int):
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(d_in, d_out * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        return y.view(*y.shape[:-1], -1, self.pieces).amax(dim=-1)


def hidden_layer(d_in: int, d_out: int, act: str, pieces: int) -> nn.Module:
    if act == "maxout":
        return Maxout(d_in, d_out, pieces)
    acts = {"relu": nn.ReLU(), "lrelu": nn.LeakyReLU(0.2), "tanh": nn.Tanh()}
    if act not in acts:
        raise ValueError(f"unknown activation {act!r}; use maxout, relu, lrelu or tanh")
    return nn.Sequential(nn.Linear(d_in, d_out), acts[act])


G_ACTS = {"relu": nn.ReLU, "lrelu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh}


@ARCHS.register("mlp")
def mlp(
    sample_shape: tuple[int, ...], z_dim: int, *, g_hidden: int = 400, g_layers: int = 4, g_bn: bool = True,
    d_hidden: int = 200, d_layers: int = 3, d_act: str = "maxout", pieces: int = 5, init: str = "normal",
    g_act: str = "relu", d_dropout: float = 0.0, vbn: int = 0,
) -> tuple[nn.Module, nn.Module]:
    """MLP G (ReLU, batch norm) and D (maxout) for 2-D data; PacGAN's defaults: G 4x400, D 3x200 maxout-5.
    Options: g_act (relu, lrelu, tanh: the Unrolled GAN reference's G), d_dropout (after each D hidden layer), vbn (virtual batch norm in G with a reference
    batch of that size, Salimans et al. 2016; 0: batch norm)."""
    if vbn and not g_bn:
        raise ValueError("vbn replaces G's batch norm; it needs g_bn")
    if g_act not in G_ACTS:
        raise ValueError(f"unknown g_act {g_act!r}; use {', '.join(G_ACTS)}")
    if not 0 <= d_dropout < 1:
        raise ValueError(f"d_dropout {d_dropout} must lie in [0, 1)")
    x_dim = math.prod(sample_shape)
    g: list[nn.Module] = []
    d_in = z_dim
    for _ in range(g_layers):
        act = G_ACTS[g_act]()
        g += [nn.Linear(d_in, g_hidden, bias=not g_bn)] + ([g_norm_layer(g_hidden, vbn, 1)] if g_bn else []) + [act]
        d_in = g_hidden
    G = nn.Sequential(*g, nn.Linear(d_in, x_dim), nn.Unflatten(1, sample_shape))
    d: list[nn.Module] = [nn.Flatten()]
    d_in = x_dim
    for _ in range(d_layers):
        d.append(hidden_layer(d_in, d_hidden, d_act, pieces))
        if d_dropout:
            d.append(nn.Dropout(d_dropout))
        d_in = d_hidden
    D = Discriminator(nn.Sequential(*d), (d_in,))
    init_weights(G, init)
    init_weights(D, init)
    return with_reference_batch(G, vbn, z_dim), D
