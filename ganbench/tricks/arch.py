"""Architecture-level tricks: each sets options of the architecture registry's builders (so the same change is
also available as `--set arch_options.X=...`), checked against what the architecture offers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import Tensor, nn

from ganbench.tricks.base import Trick, register_trick, require
from ganbench.models.dcgan import image_pyramid, stages_for


class ArchTrick(Trick):
    order: ClassVar[int] = 5  # before anything is built
    archs: ClassVar[tuple[str, ...]] = ("mlp", "dcgan")

    def check(self, spec, loss) -> None:
        require(spec.arch in self.archs, f"{self.name} is an option of {', '.join(self.archs)}, not of {spec.arch!r}")


@register_trick("d-dropout")
@dataclass
class DDropout(ArchTrick):
    """Dropout with rate p after every hidden activation of D (Goodfellow et al. 2014 train D with dropout;
    ganhacks 2016)."""

    p: float = 0.3

    def check(self, spec, loss) -> None:
        super().check(spec, loss)
        require(0 < self.p < 1, "d-dropout: p must lie in (0, 1)")

    def arch_options(self, arch: str, options: dict[str, Any]) -> dict[str, Any]:
        return {**options, "d_dropout": self.p}


@register_trick("leaky-relu")
@dataclass
class LeakyReLUG(ArchTrick):
    """LeakyReLU (slope 0.2) instead of ReLU in G's hidden layers (ganhacks 2016; Radford et al. 2016 use it in D)."""

    def arch_options(self, arch: str, options: dict[str, Any]) -> dict[str, Any]:
        return {**options, "g_act": "lrelu"}


@register_trick("upsample-conv")
@dataclass
class UpsampleConv(ArchTrick):
    """Nearest-neighbour up-sampling followed by a 3x3 convolution instead of transposed convolutions in G, against
    checkerboard artefacts (Odena et al. 2016)."""

    archs: ClassVar[tuple[str, ...]] = ("dcgan",)

    def arch_options(self, arch: str, options: dict[str, Any]) -> dict[str, Any]:
        return {**options, "upsample": "nearest"}


@register_trick("self-attention")
@dataclass
class SelfAttentionBlock(ArchTrick):
    """A SAGAN self-attention block in G and D at resolution `res` (Zhang et al. 2019); 0 picks the middle stage."""

    res: int = 0
    archs: ClassVar[tuple[str, ...]] = ("dcgan",)

    def check(self, spec, loss) -> None:
        super().check(spec, loss)
        require(self.res >= 0, "self-attention: res must be a resolution (0: the middle stage)")

    def arch_options(self, arch: str, options: dict[str, Any]) -> dict[str, Any]:
        return {**options, "attention": self.res or -1}  # -1: the builder picks its middle resolution


@register_trick("patch-d")
@dataclass
class PatchD(ArchTrick):
    """PatchGAN discriminator: one logit per position of D's last feature map, the loss averaged over them
    (Isola et al. 2017)."""

    archs: ClassVar[tuple[str, ...]] = ("dcgan",)
    conflicts: ClassVar[dict[str, str]] = {
        "minibatch-discrimination": "minibatch features feed a linear head; a patch D has none",
        "minibatch-stddev": "minibatch features feed a linear head; a patch D has none"}

    def arch_options(self, arch: str, options: dict[str, Any]) -> dict[str, Any]:
        return {**options, "patch": True}


@register_trick("width")
@dataclass
class Width(ArchTrick):
    """Width multiplier: `factor` x the channels (dcgan) or hidden units (mlp) of both networks (as in the width
    studies of Kurach et al. 2019)."""

    factor: float = 2.0

    def check(self, spec, loss) -> None:
        super().check(spec, loss)
        require(self.factor > 0 and self.factor != 1, "width: factor must be positive and not 1")

    def arch_options(self, arch: str, options: dict[str, Any]) -> dict[str, Any]:
        if arch == "dcgan":
            return {**options, "width": max(1, round(options["width"] * self.factor))}
        return {**options, "g_hidden": max(1, round(options["g_hidden"] * self.factor)),
                "d_hidden": max(1, round(options["d_hidden"] * self.factor))}


@register_trick("vbn")
@dataclass
class VirtualBN(ArchTrick):
    """Virtual batch norm in G: each sample normalised with a fixed reference batch's statistics and its own, so a
    sample does not depend on the rest of its batch (Salimans et al. 2016)."""

    ref: int = 64

    def check(self, spec, loss) -> None:
        super().check(spec, loss)
        require(self.ref >= 2, "vbn: the reference batch needs at least 2 samples")
        require(spec.arch_options.get("g_bn", True), "vbn replaces G's batch norm; the spec has none (g_bn false)")

    def arch_options(self, arch: str, options: dict[str, Any]) -> dict[str, Any]:
        return {**options, "vbn": self.ref}


class FullResolution(nn.Module):
    """An MSG generator seen from outside: only its full-resolution image (the first `channels` channels)."""

    def __init__(self, G: nn.Module, channels: int):
        super().__init__()
        self.G, self.channels = G, channels

    def forward(self, z: Tensor) -> Tensor:
        return self.G(z)[:, : self.channels]


MSG_AUGMENT = "augmentations would act across the scales MSG stacks along the channels"


@register_trick("msg")
@dataclass
class MSG(ArchTrick):
    """MSG-GAN multi-scale gradients: G outputs an image at every resolution (1x1 convolutions on each stage) and
    D takes each in where its activations reach that resolution, so D's gradient reaches every G stage directly;
    real images enter at every scale by average pooling (Karnewar & Wang 2020). Evaluation sees the full
    resolution."""

    archs: ClassVar[tuple[str, ...]] = ("dcgan",)
    conflicts: ClassVar[dict[str, str]] = {
        "pac": "PacGAN stacks samples along the channels, where MSG stacks the scales",
        "cgan": "cGAN's label channels would be read as one of MSG's scales",
        "vbn": "the multi-scale generator has no reference-batch wrapper",
        "diffaugment": MSG_AUGMENT, "consistency": MSG_AUGMENT}
    channels: int = field(default=0, init=False, repr=False, compare=False)  # set from the data in bind_data
    scales: int = field(default=0, init=False, repr=False, compare=False)

    def bind_data(self, data: Any) -> None:
        self.channels = data.sample_shape[0]
        self.scales = stages_for(data.sample_shape[-1]) + 1

    def arch_options(self, arch: str, options: dict[str, Any]) -> dict[str, Any]:
        return {**options, "msg": True}

    def d_inputs(self, real: Tensor, fake: Tensor, progress: float) -> tuple[Tensor, Tensor]:
        return image_pyramid(real, self.scales), fake

    def eval_generator(self, G: nn.Module) -> nn.Module:
        return FullResolution(G, self.channels)
