"""The architecture registry: a builder `(sample_shape, z_dim, **options) -> (G, D)` per name."""
from __future__ import annotations

import inspect
import math
from typing import Any, Callable

import torch
from torch import nn

from ganbench.errors import SpecError
from ganbench.registry import Registry

Builder = Callable[..., tuple[nn.Module, nn.Module]]
ARCHS: Registry[Builder] = Registry("arch")


def arch_defaults(name: str) -> dict[str, Any]:
    """The options an architecture accepts, with their default values."""
    params = inspect.signature(ARCHS.get(name)).parameters
    return {k: p.default for k, p in params.items() if p.kind is p.KEYWORD_ONLY}


def resolve_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Fill an architecture's defaults into `options`; unknown option names are refused."""
    defaults = arch_defaults(name)
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise SpecError(f"arch {name!r} has no option {', '.join(unknown)}; its options are {', '.join(sorted(defaults))}")
    return {**defaults, **options}


def build_models(name: str, sample_shape: tuple[int, ...], z_dim: int, options: dict[str, Any],
                 d_shape: tuple[int, ...] | None = None) -> tuple[nn.Module, "Discriminator"]:
    """Build the generator and discriminator of architecture `name` for data of `sample_shape`.

    `d_shape`: what D sees when a trick changes it (PacGAN's packing stacks samples along the channels)."""
    builder, opts = ARCHS.get(name), resolve_options(name, options)
    G, D = builder(sample_shape, z_dim, **opts)
    if d_shape is not None and tuple(d_shape) != tuple(sample_shape):
        _, D = builder(tuple(d_shape), z_dim, **opts)
    return G, D


class Discriminator(nn.Module):
    """D(x) = head(features(x)), one logit per sample; D(x, y) for a class-conditional D.

    `body` maps a batch to features of shape `feature_shape` (per sample); `extras` are feature-to-feature layers
    that tricks append (minibatch statistics); `head` is a linear map from the flattened features to one logit.
    Feature matching reads `features`, minibatch tricks call `append_features`.

    Conditioning tricks attach up to three label-aware parts: `label_input` (cGAN: labels appended to the input,
    the body built for the wider input), `projection` (projection D: logit + <embed(y), features>) and `aux` (a
    classifier on the features: ACGAN's class head, InfoGAN's Q). A D with neither of the first two ignores y."""

    def __init__(self, body: nn.Module, feature_shape: tuple[int, ...], patch: bool = False):
        super().__init__()
        self.body = body
        self.extras = nn.Sequential()
        self.feature_shape = tuple(feature_shape)
        self.patch = patch
        if patch:  # PatchGAN: a 1x1 convolution gives one logit per position of the feature map
            if len(feature_shape) != 3:
                raise ValueError("a patch discriminator needs a convolutional feature map")
            self.head = nn.Conv2d(feature_shape[0], 1, 1)
        else:
            self.head = nn.Linear(math.prod(feature_shape), 1)
        self.register_module("label_input", None)
        self.register_module("projection", None)
        self.register_module("aux", None)

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.label_input is not None:
            if y is None:
                raise ValueError("this D is class-conditional (labels are part of its input): call it with labels")
            x = self.label_input(x, y)
        return self.extras(self.body(x))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logits: one per sample (N,), or with patch=True one per position (N, positions); losses average all."""
        h = self.features(x, y)
        if self.patch:
            return self.head(h).flatten(1)
        h = h.flatten(1)
        out = self.head(h).flatten()
        if self.projection is not None:
            if y is None:
                raise ValueError("this D is a projection D: call it with labels")
            out = out + (self.projection(y) * h).sum(1)
        return out

    def append_features(self, layer: nn.Module, feature_shape: tuple[int, ...]) -> None:
        """Append a layer that maps the features to `feature_shape` (more channels or units at the end).

        The head grows to match: its trained weights are kept and the new inputs start with zero weights, so the
        network computes the same function at the moment the layer is added."""
        if self.patch:
            raise ValueError("minibatch features feed a linear head; a patch discriminator has none")
        old = self.head
        self.extras.append(layer)
        self.feature_shape = tuple(feature_shape)
        extra = math.prod(feature_shape) - old.in_features
        if extra < 0:
            raise ValueError("append_features may only add features")
        head = nn.Linear(math.prod(feature_shape), 1, device=old.weight.device, dtype=old.weight.dtype)
        with torch.no_grad():
            head.weight.zero_()
            head.weight[:, : old.in_features].copy_(old.weight)
            head.bias.copy_(old.bias)
        self.head = head


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialisation: weights N(0, std), biases 0, normalisation scales N(1, std)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


INITS = ("normal", "torch")


def init_weights(module: nn.Module, kind: str) -> None:
    """`normal`: the DCGAN/PacGAN N(0, 0.02) initialisation; `torch`: keep PyTorch's fan-in scaled default."""
    if kind == "normal":
        init_normal(module)
    elif kind != "torch":
        raise ValueError(f"unknown init {kind!r}; use {' or '.join(INITS)}")


class VirtualBatchNorm(nn.Module):
    """Virtual batch normalisation (Salimans et al. 2016): each sample is normalised with the statistics of a fixed
    reference batch combined with its own, weight 1/(N+1); the reference rows with the reference statistics alone.
    The first `n_ref` rows of every input are the reference batch (see VBNGenerator)."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.eps = eps
        self.n_ref = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.n_ref
        spatial = list(range(2, x.dim()))
        ref, rest = x[:n], x[n:]
        ref_mean = ref.mean([0, *spatial], keepdim=True)
        ref_sq = (ref ** 2).mean([0, *spatial], keepdim=True)
        own_mean = rest.mean(spatial, keepdim=True) if spatial else rest
        own_sq = (rest ** 2).mean(spatial, keepdim=True) if spatial else rest ** 2
        c = 1.0 / (n + 1)
        mean, sq = c * own_mean + (1 - c) * ref_mean, c * own_sq + (1 - c) * ref_sq
        out = torch.cat([(ref - ref_mean) / torch.sqrt(ref_sq - ref_mean ** 2 + self.eps),
                         (rest - mean) / torch.sqrt(sq - mean ** 2 + self.eps)])
        shape = (1, -1, *([1] * len(spatial)))
        return out * self.weight.view(shape) + self.bias.view(shape)


class VBNGenerator(nn.Module):
    """A generator whose batch norms are virtual: a fixed reference batch of latents runs in front of every batch."""

    def __init__(self, net: nn.Module, z_ref: torch.Tensor):
        super().__init__()
        self.net = net
        self.register_buffer("z_ref", z_ref)
        for m in net.modules():
            if isinstance(m, VirtualBatchNorm):
                m.n_ref = len(z_ref)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([self.z_ref, z]))[len(self.z_ref):]


def g_norm_layer(channels: int, vbn: int, dims: int) -> nn.Module:
    """G's normalisation: batch norm, or virtual batch norm when a reference batch size `vbn` is given."""
    if vbn:
        return VirtualBatchNorm(channels)
    return nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm1d(channels)


def with_reference_batch(G: nn.Module, vbn: int, z_dim: int) -> nn.Module:
    """Wrap G for virtual batch norm with `vbn` reference latents drawn now (from the run's seeded RNG)."""
    if not vbn:
        return G
    if vbn < 2:
        raise ValueError("vbn: the reference batch needs at least 2 samples")
    return VBNGenerator(G, torch.randn(vbn, z_dim))
