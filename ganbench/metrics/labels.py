"""Mode counters for labelled image sets that ship no classifier of their own (Fashion-MNIST, CIFAR-10, Imagenette,
ImageNet-10/100, an image folder with class sub-folders): a small convnet trained once on the set's own labels, with
a fixed seed and one CPU thread, cached by the data's fingerprint and this recipe's version, and pinned by the sha256
of its weights (the `ganbench-classifier:<set>@<hash>` tag of every number it computes). It counts modes and their KL
divergence as the MNIST classifier does for MNIST (PacGAN, VEEGAN); its held-out accuracy (the set's test split where
it has one, else a fixed 10% of the training images) is recorded beside the weights and in each metric's protocol.

`--feature-weights ganbench-classifier:<set>=FILE` scores with another weights file (e.g. one kept from an earlier
machine, so that two machines score in the same space)."""
from __future__ import annotations

import functools
import json
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

from ganbench.data.vision import MAX_CLASSES, TRAINED_CLASSIFIER as PREFIX  # noqa: F401 (MAX_CLASSES: re-exported)
from ganbench.data import get_dataset
from ganbench.errors import DataError, MetricError
from ganbench.cache import cache_dir, file_safe
from ganbench.metrics import pinned
from ganbench.metrics.pool import MaxPool2x2
from ganbench.files import load_torch

VERSION = 1  # raised when the recipe changes: part of the cached file's name
SEED = 0
SIZE = 32  # every image is resized to SIZE x SIZE before the net
BATCH = 128
EPOCHS = 10
MAX_STEPS = 3000  # EPOCHS passes over the training images, at most this many steps (CIFAR-10: 7.7 epochs)
HELDOUT = 0.1  # of the training images, held out where the set has no test split
FEATURE_DIM = 128


def name_of(dataset: str) -> str:
    """The extractor name of `dataset`'s trained classifier."""
    return PREFIX + dataset


def dataset_of(name: str) -> str | None:
    """The data set of a trained-classifier extractor name (None for any other name)."""
    return name[len(PREFIX):] if name.startswith(PREFIX) else None


class ClassNet(nn.Module):
    """Three 3x3 conv blocks (batch norm, ReLU, max-pooling) and a 128-d penultimate layer, for C x 32 x 32 inputs
    in [-1, 1]; `forward` gives (features, logits) like ganbench's other classifiers."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        blocks = []
        for c_in, c_out in ((channels, 16), (16, 32), (32, 64)):
            blocks += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), MaxPool2x2()]
        self.body = nn.Sequential(*blocks, nn.Flatten(), nn.Linear(64 * (SIZE // 8) ** 2, FEATURE_DIM), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURE_DIM, classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return f, self.head(f)


def shape_of(state: dict) -> tuple[int, int]:
    """(channels, classes) of a ClassNet state dict."""
    return int(state["body.0.weight"].shape[1]), int(state["head.1.weight"].shape[0])


def to_input(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 images -> `channels` x 32 x 32 in [-1, 1] (grey tiled or averaged to match; other sizes resized)."""
    g = x.float().div(127.5).sub(1.0)
    if g.shape[1] != channels:
        g = g.mean(1, keepdim=True).expand(-1, channels, -1, -1)
    if g.shape[-2:] != (SIZE, SIZE):
        g = nn.functional.interpolate(g, size=(SIZE, SIZE), mode="bilinear", antialias=True, align_corners=False)
    return g.contiguous()


def augment(x: torch.Tensor, g: torch.Generator, flip: bool) -> torch.Tensor:
    """A random translation of up to 2 pixels (edge padding) and, for natural (RGB) images, random horizontal flips."""
    padded = nn.functional.pad(x, (2, 2, 2, 2), mode="replicate")
    dx, dy = torch.randint(0, 5, (2,), generator=g).tolist()
    out = padded[:, :, dy : dy + SIZE, dx : dx + SIZE]
    if flip:
        mask = torch.rand(len(out), generator=g) < 0.5
        out = torch.where(mask[:, None, None, None], out.flip(-1), out)
    return out


def accuracy(net: ClassNet, x: torch.Tensor, y: torch.Tensor, channels: int) -> float:
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(to_input(c, channels))[1].argmax(1) for c in x.split(1000)])
    return float((pred == y).float().mean())


def steps_for(n_train: int) -> int:
    return min(MAX_STEPS, EPOCHS * -(-n_train // BATCH))


def channels_of(x: torch.Tensor) -> int:
    """The net's input channels for uint8 images x: 3 for RGB, else 1."""
    return 3 if x.shape[1] == 3 else 1


def train_classifier(x: torch.Tensor, y: torch.Tensor, classes: int) -> ClassNet:
    """Train ClassNet deterministically (Adam, one-cycle schedule, shifts and, for RGB, flips) on uint8 images."""
    channels = channels_of(x)
    g = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    net = ClassNet(channels, classes)
    steps = steps_for(len(x))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    net.train()
    perm, at = torch.randperm(len(x), generator=g), 0
    for _ in range(steps):
        if at + BATCH > len(x):  # a new epoch (the last partial batch of each is dropped)
            perm, at = torch.randperm(len(x), generator=g), 0
        b = perm[at : at + min(BATCH, len(x))]
        at += len(b)
        batch = augment(to_input(x[b], channels), g, flip=channels == 3)
        loss = nn.functional.cross_entropy(net(batch)[1], y[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


def heldout_split(data) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, str]:
    """(train images, labels, held-out images, labels, what the held-out set is): the set's own test split when it
    has a labelled one on this machine, else a fixed-seed 10% of its training images."""

    test_name = data.info.get("test_split")
    if test_name:
        try:
            test = get_dataset(test_name)
        except DataError:
            test = None
        if test is not None and test.labels is not None:
            return data.x, data.labels, test.x, test.labels, f"{test_name} ({len(test):,} images)"
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(SEED))
    cut = max(1, int(round(len(data) * HELDOUT)))
    held, kept = perm[:cut], perm[cut:]
    return (data.x[kept], data.labels[kept], data.x[held], data.labels[held],
            f"a fixed {HELDOUT:.0%} of the training images ({cut:,})")


def train_and_record(dataset: str) -> tuple[ClassNet, dict]:
    """Train the classifier of `dataset` from scratch with one CPU thread; the net and its record."""

    data = get_dataset(dataset)
    classes = int(data.info.get("num_classes") or int(data.labels.max()) + 1)
    x_tr, y_tr, x_te, y_te, heldout = heldout_split(data)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        net = train_classifier(x_tr, y_tr, classes)
        acc = accuracy(net, x_te, y_te, channels_of(data.x))
    finally:
        torch.set_num_threads(threads)
    return net, {"name": name_of(dataset), "dataset": dataset, "fingerprint": data.fingerprint, "classes": classes,
                 "heldout_accuracy": acc, "heldout": heldout, "version": VERSION, "seed": SEED,
                 "steps": steps_for(len(x_tr)), "batch": BATCH, "input": f"resized to {SIZE}x{SIZE}",
                 "optimizer": "Adam, one-cycle schedule to 3e-3",
                 "augmentation": "random shifts of up to 2 pixels" + (", horizontal flips" if channels_of(data.x) == 3 else ""),
                 "train_images": len(x_tr), "threads": 1, "train_s": round(time.perf_counter() - start, 1),
                 "torch": torch.__version__}


def cached_path(dataset: str) -> Path:
    fingerprint = get_dataset(dataset).fingerprint
    return cache_dir("classifiers") / f"{file_safe(dataset)[:60]}-{fingerprint}-v{VERSION}.pt"


def ensure(dataset: str) -> Path:
    """The cached weights of `dataset`'s classifier, trained first (once per data fingerprint) when absent."""

    path = cached_path(dataset)
    if not path.is_file():
        print(f"ganbench: training the mode classifier of {dataset} on its labels (once; cached at {path})",
              file=sys.stderr)
        net, record = train_and_record(dataset)
        record = pinned.write(path, net.state_dict(), record)
        print(f"ganbench: {name_of(dataset)}@{record['sha256'][:8]}: {record['heldout_accuracy']:.2%} on "
              f"{record['heldout']} ({record['train_s']:.0f} s)", file=sys.stderr)
    return path


def load_classifier(dataset: str) -> tuple[ClassNet, dict]:
    """`dataset`'s classifier (the file --feature-weights ganbench-classifier:<set>=FILE names, else the cached one,
    trained first if needed) as a frozen eval-mode net, and its record (held-out accuracy, sha256, recipe)."""

    name = name_of(dataset)
    default = None if os.environ.get(pinned.env_name(name)) else ensure(dataset)
    path, record = pinned.weights(name, default)
    return _load(str(path), json.dumps(record, sort_keys=True))


@functools.lru_cache(maxsize=4)
def _load(path: str, record: str) -> tuple[ClassNet, dict]:
    state = load_torch(Path(path))
    try:
        net = ClassNet(*shape_of(state))
        net.load_state_dict(state)
    except (KeyError, RuntimeError) as e:
        raise MetricError(f"{path} is not the weights of a ganbench trained classifier ({type(e).__name__}); give the "
                          "file `ganbench` cached under its cache's classifiers/ folder") from None
    return net.eval().requires_grad_(False), json.loads(record)
