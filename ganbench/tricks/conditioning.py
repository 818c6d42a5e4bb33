"""Class conditioning and latent codes: cGAN (labels appended to G's and D's inputs), ACGAN (an auxiliary classifier
in D), projection D with conditional batch norm in G, and InfoGAN (latent codes with a mutual-information term).

G's input is [z, codes]: a one-hot class for the label tricks, a one-hot category and continuous codes for InfoGAN.
Generated labels are drawn from the data set's class frequencies (uniform for the balanced sets here), in training
and at evaluation, so that the evaluated samples follow the data's class mix."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganbench.models.base import Discriminator, arch_defaults
from ganbench.tricks.base import DBatch, Trick, register_trick, require
from ganbench.tricks.collapse import needs_feature_d
from ganbench.data import get_dataset

ONE_CODE_TRICK = "one conditioning trick per run: each adds its own codes to G's input"
PACKS = "PacGAN's D sees packs of samples, so no single class label belongs to its input"


class LabelInput(nn.Module):
    """cGAN's label input: the class as a one-hot vector (or a learned embedding for many classes) appended to each
    sample: as extra columns for vectors, as constant extra channels for images (Mirza & Osindero 2014)."""

    def __init__(self, num_classes: int, width: int):
        super().__init__()
        self.num_classes, self.width = num_classes, width
        self.embed = nn.Embedding(num_classes, width) if width != num_classes else None

    def code(self, y: Tensor) -> Tensor:
        return F.one_hot(y, self.num_classes).float() if self.embed is None else self.embed(y)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        c = self.code(y).to(x.dtype)
        if x.dim() > 2:
            c = c.view(*c.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
        return torch.cat([x, c], 1)


class ConditionalBatchNorm(nn.Module):
    """Conditional batch norm (de Vries et al. 2017; Miyato & Koyama 2018): batch norm without affine parameters,
    then a per-class gain and bias, gamma_y * BN(x) + beta_y, gains starting at 1 and biases at 0."""

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm, num_classes: int):
        super().__init__()
        self.bn = type(bn)(bn.num_features, eps=bn.eps, momentum=bn.momentum, affine=False,
                           device=bn.running_mean.device)
        self.gain = nn.Embedding(num_classes, bn.num_features, device=bn.running_mean.device)
        self.bias = nn.Embedding(num_classes, bn.num_features, device=bn.running_mean.device)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)
        self.labels: Tensor | None = None  # set by ConditionalBNGenerator before each forward

    def forward(self, x: Tensor) -> Tensor:
        shape = (x.shape[0], -1, *([1] * (x.dim() - 2)))
        return self.gain(self.labels).view(shape) * self.bn(x) + self.bias(self.labels).view(shape)


class ConditionalBNGenerator(nn.Module):
    """G whose batch norms are conditional: the class is read from the one-hot at the end of G's input and handed
    to every ConditionalBatchNorm before the forward pass (G also sees the one-hot itself)."""

    def __init__(self, net: nn.Module, num_classes: int):
        super().__init__()
        self.net, self.num_classes = net, num_classes
        replace_batch_norms(net, num_classes)

    def forward(self, z: Tensor) -> Tensor:
        y = z[:, -self.num_classes:].argmax(1)
        for m in self.net.modules():
            if isinstance(m, ConditionalBatchNorm):
                m.labels = y
        return self.net(z)


def replace_batch_norms(net: nn.Module, num_classes: int) -> int:
    """Swap every batch-norm layer of `net` for a conditional one, in place; returns how many were swapped."""
    count = 0
    for name, child in list(net.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(net, name, ConditionalBatchNorm(child, num_classes))
            count += 1
        else:
            count += replace_batch_norms(child, num_classes)
    return count


@dataclass
class LabelConditioning(Trick):
    """Base of the tricks that condition on the data's class labels: G's input ends with a one-hot class."""

    order: ClassVar[int] = 26  # after minibatch features (heads see them), before init and spectral norm
    needs_labels: ClassVar[bool] = True
    conflicts: ClassVar[dict[str, str]] = {
        **{t: ONE_CODE_TRICK for t in ("cgan", "acgan", "projection", "infogan")}, "pac": PACKS}
    num_classes: int = field(default=0, init=False, repr=False, compare=False)
    prior: Tensor | None = field(default=None, init=False, repr=False, compare=False)
    _priors: dict = field(default_factory=dict, init=False, repr=False, compare=False)  # prior per device

    def check(self, spec, loss) -> None:
        data = get_dataset(spec.dataset)
        require(data.labels is not None, f"{self.name} conditions on class labels, and data set {spec.dataset!r} has "
                "none; use a labelled data set or infogan (unsupervised codes)")

    def bind_data(self, data: Any) -> None:
        self._priors = {}
        counts = torch.bincount(data.labels.long().flatten())
        self.num_classes = int(counts.numel())
        self.prior = counts.double() / counts.sum()

    def code_dim(self) -> int:
        return self.num_classes

    def arch_options(self, arch: str, options: dict[str, Any]) -> dict[str, Any]:
        """An architecture with a `classes` option (resnet) conditions G's batch norms on the class (BigGAN's
        conditional BN through a shared embedding) instead of reading the one-hot as part of z."""

        if "classes" in arch_defaults(arch) and not options.get("classes"):
            options["classes"] = self.num_classes
        return options

    def sample_labels(self, n: int, device: torch.device, generator: torch.Generator | None) -> Tensor:
        """n class labels drawn from the data's class frequencies."""
        gen_device = generator.device if generator is not None else device
        key = str(gen_device)
        if key not in self._priors:  # copied once, not every step (a host-to-device copy per step would sync)
            self._priors[key] = self.prior.to(gen_device)
        y = torch.multinomial(self._priors[key], n, replacement=True, generator=generator)
        return y.to(device)

    def latent_codes(self, n, device, generator, train) -> Tensor:
        return F.one_hot(self.sample_labels(n, device, generator), self.num_classes).float()

    def fake_labels(self, z: Tensor) -> Tensor:
        return z[:, -self.num_classes:].argmax(1)


@register_trick("cgan")
@dataclass
class CGAN(LabelConditioning):
    """Conditional GAN: the class, one-hot, is appended to G's latent and to D's input, so that D judges (x, y)
    pairs (Mirza & Osindero 2014). With more than `embed` classes D's label input is a learned `embed`-dimensional
    embedding (their MNIST D maps y through a 50-unit layer) instead of the one-hot; images get it as constant
    channels."""

    embed: int = 50
    conflicts: ClassVar[dict[str, str]] = {
        **LabelConditioning.conflicts,
        "feature-matching": "cGAN's D features depend on the labels; feature matching compares them without"}

    def check(self, spec, loss) -> None:
        super().check(spec, loss)
        require(self.embed >= 1, "cgan: embed must be at least 1")

    def label_width(self) -> int:
        return self.num_classes if self.num_classes <= self.embed else self.embed

    def d_input_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        width = self.label_width() if self.num_classes else 0
        return (shape[0] + width, *shape[1:])

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        D = needs_feature_d(self.name, D)
        device = next(D.parameters()).device
        D.label_input = LabelInput(self.num_classes, self.label_width()).to(device)
        return G, D


@register_trick("projection")
@dataclass
class Projection(LabelConditioning):
    """Projection discriminator: D(x, y) = psi(phi(x)) + embed(y) . phi(x), phi D's last features (Miyato & Koyama
    2018), with conditional batch norm in G (per-class gains and biases; G's input also carries the one-hot)."""

    conflicts: ClassVar[dict[str, str]] = {
        **LabelConditioning.conflicts,
        "patch-d": "the projection adds one class term per sample; a patch D has a logit per position",
        "vbn": "projection conditions G's batch norms; vbn replaces them with virtual batch norm"}

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        D = needs_feature_d(self.name, D)
        device = next(D.parameters()).device
        D.projection = nn.Embedding(self.num_classes, math.prod(D.feature_shape), device=device)
        nn.init.normal_(D.projection.weight, 0.0, 0.02)
        conditions_itself = getattr(G, "classes", 0) > 0  # resnet: BigGAN's conditional BN is built in
        if not conditions_itself and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in G.modules()):
            G = ConditionalBNGenerator(G, self.num_classes)
        return G, D


def classify(D: Discriminator, x: Tensor) -> Tensor:
    """The auxiliary head on D's features of x."""
    return D.aux(D.features(x).flatten(1))


@register_trick("acgan")
@dataclass
class ACGAN(LabelConditioning):
    """Auxiliary classifier GAN: G gets the class with its latent; D keeps an unconditional real/fake logit and gains
    a class head on its features. D minimises the adversarial loss plus weight * (CE on real + CE on fake), G its
    adversarial loss plus weight * CE on its samples (Odena et al. 2017)."""

    weight: float = 1.0
    conflicts: ClassVar[dict[str, str]] = LabelConditioning.conflicts

    def check(self, spec, loss) -> None:
        super().check(spec, loss)
        require(self.weight > 0, "acgan: weight must be positive")

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        D = needs_feature_d(self.name, D)
        D.aux = nn.Linear(math.prod(D.feature_shape), self.num_classes, device=next(D.parameters()).device)
        return G, D

    def d_penalty(self, batch: DBatch) -> Tensor:
        D = batch.D
        return self.weight * (F.cross_entropy(classify(D, batch.real.detach()), batch.y_real)
                              + F.cross_entropy(classify(D, batch.fake.detach()), batch.y_fake))

    def g_penalty(self, G: nn.Module, D: nn.Module, fake: Tensor, z: Tensor) -> Tensor:
        return self.weight * F.cross_entropy(classify(D, fake), self.fake_labels(z))

    def extra_cost(self) -> float:
        return 1.0


@register_trick("infogan")
@dataclass
class InfoGAN(Trick):
    """InfoGAN: G's input gains a categorical code (one-hot, `categories` values, uniform) and `continuous` codes
    ~ U(-1, 1); a head Q on D's features predicts them, and both D (with Q) and G minimise lam * CE(category) +
    lam_cont * Gaussian NLL (unit variance) of the continuous codes, a lower bound on the mutual information
    I(c; G(z, c)) (Chen et al. 2016: lam = 1 for discrete codes, smaller for continuous ones). categories=0 takes the
    data set's number of classes (10 for unlabelled data); labels are never used."""

    categories: int = 0
    continuous: int = 2
    lam: float = 1.0
    lam_cont: float = 0.1
    hidden: int = 128
    order: ClassVar[int] = 26  # after minibatch features (heads see them), before init and spectral norm
    conflicts: ClassVar[dict[str, str]] = {
        **{t: ONE_CODE_TRICK for t in ("cgan", "acgan", "projection")}, "pac": PACKS}
    k: int = field(default=0, init=False, repr=False, compare=False)

    def check(self, spec, loss) -> None:
        require(self.categories >= 0 and self.continuous >= 0, "infogan: categories and continuous must be >= 0")
        require(self.categories != 1, "infogan: a categorical code needs at least 2 categories (0: the data's classes)")
        require(self.lam >= 0 and self.lam_cont >= 0 and self.lam + self.lam_cont > 0,
                "infogan: lam and lam_cont must be non-negative, not both zero")

    def bind_data(self, data: Any) -> None:
        self.k = self.categories or (int(data.labels.max()) + 1 if data.labels is not None else 10)

    def code_dim(self) -> int:
        return self.k + self.continuous

    def latent_codes(self, n, device, generator, train) -> Tensor:
        gen_device = generator.device if generator is not None else device
        cat = torch.randint(self.k, (n,), device=gen_device, generator=generator)
        cont = 2 * torch.rand(n, self.continuous, device=gen_device, generator=generator) - 1
        return torch.cat([F.one_hot(cat, self.k).float(), cont], 1).to(device)

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        D = needs_feature_d(self.name, D)
        device = next(D.parameters()).device
        D.aux = nn.Sequential(nn.Linear(math.prod(D.feature_shape), self.hidden), nn.LeakyReLU(0.1),
                              nn.Linear(self.hidden, self.k + self.continuous)).to(device)
        return G, D

    def info_loss(self, D: Discriminator, fake: Tensor, z: Tensor) -> Tensor:
        """lam * CE(category) + lam_cont * mean over samples of sum_j (c_j - mu_j)^2 / 2: the negative of the
        mutual-information bound up to constants."""
        codes = z[:, -(self.k + self.continuous):]
        q = classify(D, fake)
        loss = self.lam * F.cross_entropy(q[:, : self.k], codes[:, : self.k].argmax(1))
        if self.continuous:
            loss = loss + self.lam_cont * 0.5 * ((q[:, self.k:] - codes[:, self.k:]) ** 2).sum(1).mean()
        return loss

    def d_penalty(self, batch: DBatch) -> Tensor:
        return self.info_loss(batch.D, batch.fake.detach(), batch.z)

    def g_penalty(self, G: nn.Module, D: nn.Module, fake: Tensor, z: Tensor) -> Tensor:
        return self.info_loss(D, fake, z)

    def extra_cost(self) -> float:
        return 1.0
