"""A small digit classifier trained by ganbench with a fixed seed on scikit-learn's 8x8 digits; its weights ship with
ganbench (ganbench/metrics/weights), so every machine scores in the same feature space.

It is the feature extractor of the digit data sets (FID/KID/PR/IS in its feature space) and counts
their modes, as PacGAN/VEEGAN count Stacked MNIST modes with a pretrained MNIST classifier.
"""
from __future__ import annotations


import torch
from torch import nn
from ganbench.data.digits import load_digits_tensor
from ganbench.metrics.pinned import load_net
from ganbench.metrics.pool import MaxPool2x2


VERSION = 1
SEED = 0
EPOCHS = 40
FEATURE_DIM = 128


class DigitNet(nn.Module):
    """Three 3x3 conv layers and a 128-d penultimate layer for 1x8x8 inputs in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), MaxPool2x2(),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), MaxPool2x2(),
            nn.Flatten(), nn.Linear(128 * 2 * 2, FEATURE_DIM), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURE_DIM, 10))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return f, self.head(f)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8, as generated images are stored and fed to torch-fidelity (uint8 passes unchanged)."""
    if x.dtype == torch.uint8:
        return x
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def dequantize(x: torch.Tensor) -> torch.Tensor:
    return x.float().div(127.5).sub(1.0)


def split_digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stratified 80/20 train/held-out split of the 1,797 digits (fixed seed), as uint8 N x 1 x 8 x 8."""
    from sklearn.model_selection import train_test_split  # heavy: scikit-learn, 1.4 s, only when the classifier is retrained

    x, y = load_digits_tensor()
    idx_train, idx_test = train_test_split(torch.arange(len(x)).numpy(), test_size=0.2, random_state=SEED, stratify=y.numpy())
    xq = quantize(x)
    return xq[idx_train], y[idx_train], xq[idx_test], y[idx_test]


def random_shift(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Translate each image by up to one pixel (zero padding = background -1)."""
    padded = nn.functional.pad(x, (1, 1, 1, 1), value=-1.0)
    dx, dy = torch.randint(0, 3, (2,), generator=g).tolist()
    return padded[:, :, dy : dy + 8, dx : dx + 8]


def accuracy(net: DigitNet, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    with torch.no_grad():
        return float((net(dequantize(x))[1].argmax(1) == y).float().mean())


def train_classifier() -> tuple[DigitNet, float]:
    """Train DigitNet deterministically; returns it and its held-out accuracy."""
    x_tr, y_tr, x_te, y_te = split_digits()
    g = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    net = DigitNet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS)
    xf = dequantize(x_tr)
    for _ in range(EPOCHS):
        net.train()
        perm = torch.randperm(len(xf), generator=g)
        for i in range(0, len(xf), 64):
            b = perm[i : i + 64]
            loss = nn.functional.cross_entropy(net(random_shift(xf[b], g))[1], y_tr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    return net, accuracy(net, x_te, y_te)


NAME = "ganbench-digits"  # the shipped weights' name (ganbench/metrics/weights/ganbench-digits.pt)


def recipe() -> dict:
    """How the shipped weights were trained (recorded beside them)."""
    return {"version": VERSION, "seed": SEED, "epochs": EPOCHS, "optimizer": "Adam 1e-3, cosine schedule",
            "augmentation": "random shifts of up to 1 pixel", "data": "scikit-learn digits, stratified 80/20 split "
            "(random_state 0)", "threads": 1}


def train_and_record() -> tuple[DigitNet, dict]:
    """Train the classifier from scratch (one CPU thread, as the shipped weights were) and its record."""
    net, acc = train_classifier()
    return net, {**recipe(), "heldout_accuracy": acc, "heldout": "20% of scikit-learn's digits (360 images)"}


def load_classifier() -> tuple[DigitNet, dict]:
    """The pinned classifier (ganbench.metrics.pinned: the shipped weights, or the file --feature-weights
    ganbench-digits=FILE names) and its record: held-out accuracy, weights hash, recipe."""

    return load_net(DigitNet, NAME)
