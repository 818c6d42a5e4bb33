"""Differentiable augmentation of D's inputs (DiffAugment) and consistency regularisation (bCR)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import torch
from torch import Tensor

from ganbench.tricks.base import DBatch, Trick, register_trick, require
from ganbench.data import get_dataset


def brightness(x: Tensor) -> Tensor:
    return x + (torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)


def saturation(x: Tensor) -> Tensor:
    mean = x.mean(1, keepdim=True)
    return (x - mean) * (2 * torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype)) + mean


def contrast(x: Tensor) -> Tensor:
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image by up to ratio * size pixels in each direction, filling with zeros."""
    n, _, h, w = x.shape
    sh, sw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    gy = torch.arange(h, device=x.device).view(1, h, 1) - dy  # source row of each output pixel
    gx = torch.arange(w, device=x.device).view(1, 1, w) - dx
    valid = ((gy >= 0) & (gy < h) & (gx >= 0) & (gx < w)).unsqueeze(1)
    idx = (gy.clamp(0, h - 1) * w + gx.clamp(0, w - 1)).view(n, 1, h * w).expand(-1, x.shape[1], -1)
    out = x.flatten(2).gather(2, idx).view_as(x)
    return out * valid


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero a square of side ratio * size centred at a random pixel of each image (it may stick out of the image)."""
    n, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    top = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device) - cw // 2
    ry = torch.arange(h, device=x.device).view(1, h, 1) - top
    rx = torch.arange(w, device=x.device).view(1, 1, w) - left
    inside = (ry >= 0) & (ry < ch) & (rx >= 0) & (rx < cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES: dict[str, list[Callable[[Tensor], Tensor]]] = {
    "color": [brightness, saturation, contrast],
    "translation": [translation],
    "cutout": [cutout],
}


def augment(x: Tensor, policy: str) -> Tensor:
    for part in policy.split("+"):
        for f in POLICIES[part]:
            x = f(x)
    return x


def check_policy(name: str, spec, policy: str) -> None:
    require(get_dataset(spec.dataset).kind == "image", f"{name} augments images; {spec.dataset} is not an image data set")
    bad = [p for p in policy.split("+") if p not in POLICIES]
    require(not bad, f"{name}: unknown policy part {', '.join(bad)}; join with + any of {', '.join(POLICIES)}")


@register_trick("diffaugment")
@dataclass
class DiffAugment(Trick):
    """DiffAugment: the same differentiable random augmentation T on real and generated images, in D's and G's
    updates, so D never sees an un-augmented image (Zhao et al. 2020); policy: parts from color, translation, cutout joined with +."""

    policy: str = "color+translation+cutout"
    order: ClassVar[int] = 35

    def check(self, spec, loss) -> None:
        check_policy(self.name, spec, self.policy)

    def d_inputs(self, real: Tensor, fake: Tensor, progress: float) -> tuple[Tensor, Tensor]:
        return augment(real, self.policy), augment(fake, self.policy)


@register_trick("consistency")
@dataclass
class Consistency(Trick):
    """Balanced consistency regularisation (bCR): lam_real ||D(x) - D(T(x))||^2 + lam_fake ||D(G(z)) - D(T(G(z)))||^2
    added to D's loss, T a random translation (Zhang et al. 2020; Zhao et al. 2021)."""

    lam_real: float = 10.0
    lam_fake: float = 10.0
    policy: str = "translation"
    order: ClassVar[int] = 50
    conflicts: ClassVar[dict[str, str]] = {"diffaugment": "bCR compares D on clean and augmented images; "
                                                          "DiffAugment leaves none clean"}

    def check(self, spec, loss) -> None:
        check_policy(self.name, spec, self.policy)
        require(self.lam_real >= 0 and self.lam_fake >= 0 and self.lam_real + self.lam_fake > 0,
                "consistency: lam_real and lam_fake must be non-negative, not both zero")

    def d_penalty(self, batch: DBatch) -> Tensor:
        real_aug = augment(batch.real.detach(), self.policy)
        fake_aug = augment(batch.fake.detach(), self.policy)
        d_aug = batch.on_joint(torch.cat([real_aug, fake_aug]))
        n = real_aug.shape[0]
        return (self.lam_real * ((batch.d_real - d_aug[:n]) ** 2).mean()
                + self.lam_fake * ((batch.d_fake - d_aug[n:]) ** 2).mean())
