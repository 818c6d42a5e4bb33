"""An MNIST digit classifier trained by ganbench with a fixed seed on MNIST's 60,000 training digits, its weights
shipped with ganbench (ganbench/metrics/weights): the mode counter of
Stacked MNIST, as PacGAN and VEEGAN count its 1,000 modes with a pretrained MNIST network, and a small feature
extractor for MNIST-like images."""
from __future__ import annotations


import torch
from torch import nn
from ganbench.data.vision import mnist_fingerprint, mnist_splits
from ganbench.metrics.pinned import load_net
from ganbench.metrics.pool import MaxPool2x2


VERSION = 2  # 2: 10 epochs (99.40% on the MNIST test split; 3 epochs gave 98.98%)
SEED = 0
EPOCHS = 10
MIN_STEPS = 300  # a small copy of MNIST (a test fixture) trains for more epochs, at least this many steps
BATCH = 128
FEATURE_DIM = 128


class MnistNet(nn.Module):
    """Two 3x3 conv layers with max-pooling and a 128-d penultimate layer, for 1 x 28 x 28 inputs in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), MaxPool2x2(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), MaxPool2x2(),
            nn.Flatten(), nn.Linear(64 * 7 * 7, FEATURE_DIM), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURE_DIM, 10))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return f, self.head(f)


def to_input(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (any channels, any size) -> 1 x 28 x 28 in [-1, 1]: channels averaged, a 32 x 32 image (MNIST
    padded by ganbench) cropped back to its centre, other sizes resized."""
    g = x.float().mean(1, keepdim=True).div(127.5).sub(1.0)
    if g.shape[-1] == 32 and g.shape[-2] == 32:
        return g[..., 2:30, 2:30]
    if g.shape[-2:] != (28, 28):
        g = nn.functional.interpolate(g, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
    return g


def shift(x: torch.Tensor, g: torch.Generator, pixels: int = 2) -> torch.Tensor:
    """Translate a batch by up to `pixels` in each direction (background padding)."""
    padded = nn.functional.pad(x, (pixels,) * 4, value=-1.0)
    dx, dy = torch.randint(0, 2 * pixels + 1, (2,), generator=g).tolist()
    return padded[:, :, dy : dy + x.shape[-2], dx : dx + x.shape[-1]]


def accuracy(net: MnistNet, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(to_input(c))[1].argmax(1) for c in x.split(1000)])
    return float((pred == y).float().mean())


def train_classifier(x_tr: torch.Tensor, y_tr: torch.Tensor) -> MnistNet:
    """Train MnistNet deterministically (Adam, cosine schedule, random shifts) on uint8 images."""
    g = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    net = MnistNet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    per_epoch = (len(x_tr) + BATCH - 1) // BATCH
    epochs = epochs_for(len(x_tr))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=epochs * per_epoch)
    xf = to_input(x_tr)
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(xf), generator=g)
        for i in range(0, len(xf), BATCH):
            b = perm[i : i + BATCH]
            loss = nn.functional.cross_entropy(net(shift(xf[b], g))[1], y_tr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return net.eval()


NAME = "ganbench-mnist"  # the shipped weights' name (ganbench/metrics/weights/ganbench-mnist.pt)


def epochs_for(n_train: int) -> int:
    per_epoch = (n_train + BATCH - 1) // BATCH
    return max(EPOCHS, -(-MIN_STEPS // per_epoch))


def train_and_record() -> tuple[MnistNet, dict]:
    """Train the classifier from scratch on the MNIST under the data root (one CPU thread, as the shipped weights
    were) and its record: test-split accuracy, the recipe, which copy of MNIST."""

    (x_tr, y_tr), (x_te, y_te) = mnist_splits()
    net = train_classifier(x_tr, y_tr)
    return net, {"heldout_accuracy": accuracy(net, x_te, y_te), "heldout": f"MNIST test split ({len(x_te):,} images)",
                 "version": VERSION, "seed": SEED, "epochs": epochs_for(len(x_tr)), "batch": BATCH,
                 "optimizer": "Adam, one-cycle schedule to 2e-3", "augmentation": "random shifts of up to 2 pixels",
                 "train_images": len(x_tr), "mnist_fingerprint": mnist_fingerprint(), "threads": 1}


def load_classifier() -> tuple[MnistNet, dict]:
    """The pinned classifier (ganbench.metrics.pinned: the shipped weights, or the file --feature-weights
    ganbench-mnist=FILE names) and its record: MNIST test-split accuracy, weights hash, recipe."""

    return load_net(MnistNet, NAME)
