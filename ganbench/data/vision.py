"""The paper-scale image data sets that torchvision loads: MNIST, Fashion-MNIST, Stacked MNIST and CIFAR-10.

Images are held as uint8 N x C x H x W (0..255); training converts each batch to [-1, 1] on its device."""
from __future__ import annotations

import functools
import hashlib

import torch
import torch.nn.functional as F

from ganbench.data.base import DATASETS, Dataset
from ganbench.data.files import data_root, decompressed, fetch_or_fail, torchvision_datasets

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
# md5 of the uncompressed IDX files of the genuine MNIST (LeCun & Cortes), the same on every mirror; a .gz copy is
# decompressed and checked against them (the .gz bytes themselves differ between compressors).
MNIST_MD5 = {"train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
             "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
             "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
             "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637"}
CIFAR_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
               "batches.meta")
STACKED_SIZE = 128_000  # Stacked MNIST training images (Metz et al. 2017; VEEGAN; PacGAN)
STACKED_SEED = 2017

# Paper-scale image sets are scored with torch-fidelity's Inception-v3 (FID, KID, IS) and VGG16 (precision and
# recall, Kynkaenniemi et al. 2019) on 50k generated samples against the training set.
PAPER_METRICS = ("image-fidelity",)
# Image sets without a classifier to count modes get the collapse statistics that need none: the diversity ratio in
# the FID features and NDB (Richardson & Weiss 2018) in pixel space.
UNLABELLED_METRICS = PAPER_METRICS + ("feature-diversity", "ndb")
PAPER_INFO = {"extractor": "inception-v3-compat", "pr_extractor": "vgg16"}
# Labelled sets without a shipped classifier count their modes with one ganbench trains on their labels, once
# (ganbench.metrics.labels): its extractor name is this prefix + the training split's name. A 32x32 convnet cannot
# tell more than MAX_CLASSES classes apart well enough; larger label sets get the unlabelled view.
TRAINED_CLASSIFIER = "ganbench-classifier:"
MAX_CLASSES = 100


def collapse_view(train_name: str, labels: torch.Tensor | None, num_classes: int) -> tuple[tuple[str, ...], dict]:
    """(metrics, info) of a paper-scale image set: modes and KL counted by the classifier trained on the labels of
    `train_name` (its training split) when it has 2..MAX_CLASSES classes, else diversity and NDB."""
    if labels is None or not 2 <= num_classes <= MAX_CLASSES:
        return UNLABELLED_METRICS, {}
    return PAPER_METRICS + ("class-modes",), {"classifier": TRAINED_CLASSIFIER + train_name, "num_modes": num_classes}


def _mnist_like(cls_name: str, split_train: bool, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 N x 1 x 28 x 28 images and labels of torchvision's MNIST or FashionMNIST (one split)."""
    tvd = torchvision_datasets()
    cls = getattr(tvd, cls_name)
    root = data_root()
    where = root / cls_name / "raw"
    how = (f"IDX files, uncompressed or .gz, as torchvision.datasets.{cls_name}(root={str(root)!r}, download=True) "
           "leaves them")
    if not all((where / f).is_file() for f in MNIST_FILES):  # only the .gz copies: read a decompressed copy of them
        unpacked = decompressed(name, where, MNIST_FILES, MNIST_MD5 if cls_name == "MNIST" else None)
        if unpacked is not None:
            root = unpacked.parent.parent
    ds = fetch_or_fail(name, lambda dl: cls(str(root), train=split_train, download=dl), where, MNIST_FILES, how)
    return ds.data.unsqueeze(1).contiguous(), torch.as_tensor(ds.targets).long()


def pad32(x: torch.Tensor) -> torch.Tensor:
    """28 x 28 images centred in 32 x 32 with background (0) borders: DCGAN-style networks need a power of two."""
    return F.pad(x, (2, 2, 2, 2), value=0)


def _image_set(name: str, x: torch.Tensor, y: torch.Tensor | None, defaults: dict, info: dict,
               metrics: tuple[str, ...] = UNLABELLED_METRICS) -> Dataset:
    return Dataset(name=name, x=x, labels=y, kind="image", metrics=metrics, main_metric="fid",
                   defaults=defaults, info={**PAPER_INFO, **info})


MNIST_DEFAULTS = {"arch": "dcgan", "batch_size": 64, "z_dim": 64, "eval_samples": 50000}


def test_name(name: str) -> str:
    """The registered name of a data set's test split (paper protocols that score against test images use it)."""
    return f"{name}-test"


def _register_mnist(name: str, cls_name: str, padded: bool, classifier: str | None) -> None:
    def make(train: bool) -> Dataset:
        split = 0 if train else 1
        x, y = mnist_splits()[split] if cls_name == "MNIST" else _mnist_like(cls_name, train, name)
        info = {"source": f"torchvision.datasets.{cls_name}, {'train split (60,000)' if train else 'test split (10,000)'}",
                "test_split": test_name(name)}
        metrics, extra = collapse_view(name, y, 10)
        if classifier:
            metrics, extra = PAPER_METRICS + ("class-modes",), {"classifier": classifier, "num_modes": 10}
        info.update(extra)
        return _image_set(name if train else test_name(name), pad32(x) if padded else x, y, MNIST_DEFAULTS, info,
                          metrics)

    what = "MNIST handwritten digits" if cls_name == "MNIST" else "Fashion-MNIST clothing images"
    size = "32x32 (28x28 padded with background)" if padded else "28x28"
    train = lambda: make(True)  # noqa: E731
    train.__doc__ = f"{what}, 60,000 training images at {size}, grayscale (torchvision loader)."
    test = lambda: make(False)  # noqa: E731
    test.__doc__ = f"{what}, the 10,000 test images at {size} (the reference of protocols that score on test images)."
    DATASETS.register(name, train)
    DATASETS.register(test_name(name), test)


_register_mnist("mnist", "MNIST", False, "ganbench-mnist")
_register_mnist("mnist-32", "MNIST", True, "ganbench-mnist")
_register_mnist("fashion-mnist", "FashionMNIST", False, None)  # modes: ganbench-classifier:fashion-mnist
_register_mnist("fashion-mnist-32", "FashionMNIST", True, None)


@functools.lru_cache(maxsize=2)
def _mnist_splits(root: str) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    return _mnist_like("MNIST", True, "mnist"), _mnist_like("MNIST", False, "mnist")


def mnist_splits() -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """MNIST's (train, test) splits under the data root: uint8 N x 1 x 28 x 28 images and labels."""
    return _mnist_splits(str(data_root()))


def mnist_fingerprint() -> str:
    """A hash of the MNIST copy under the data root (both splits): what its trained classifier is keyed by."""
    h = hashlib.sha256()
    for x, y in mnist_splits():
        h.update(x.numpy().tobytes())
        h.update(y.numpy().tobytes())
    return h.hexdigest()[:16]


def mnist_pool() -> tuple[torch.Tensor, torch.Tensor]:
    """All 70,000 MNIST digits (train then test) as uint8 N x 1 x 28 x 28, and their labels."""
    (x_tr, y_tr), (x_te, y_te) = mnist_splits()
    return torch.cat([x_tr, x_te]), torch.cat([y_tr, y_te])


def stack_mnist(x: torch.Tensor, y: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n images whose R, G, B channels are three digits drawn uniformly from the pool; label = 100 a + 10 b + c
    (one of 1,000 modes). The construction of Stacked MNIST (Metz et al. 2017, VEEGAN, PacGAN)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(x), (n, 3), generator=g)
    labels = y[idx[:, 0]] * 100 + y[idx[:, 1]] * 10 + y[idx[:, 2]]
    return x[idx, 0].contiguous(), labels


def _register_stacked(name: str, padded: bool) -> None:
    def factory() -> Dataset:
        x, y = stack_mnist(*mnist_pool(), STACKED_SIZE, STACKED_SEED)
        info = {"source": f"three MNIST digits (of all 70,000) as RGB channels, {len(x):,} images", "num_modes": 1000,
                "classifier": "ganbench-stacked-mnist", "mode_reference": "uniform"}
        defaults = {**MNIST_DEFAULTS, "eval_samples": 26000}  # VEEGAN's sample count for mode counting
        return _image_set(name, pad32(x) if padded else x, y, defaults, info, PAPER_METRICS + ("class-modes",))

    size = "32x32 (padded)" if padded else "28x28"
    factory.__doc__ = (f"Stacked MNIST: three random MNIST digits as RGB, 1,000 modes, {size} (the PacGAN/VEEGAN "
                       "protocol; modes counted by ganbench's MNIST classifier).")
    DATASETS.register(name, factory)


_register_stacked("stacked-mnist", False)
_register_stacked("stacked-mnist-32", True)


def _cifar10(train: bool) -> Dataset:
    tvd = torchvision_datasets()
    root = data_root()
    where = root / tvd.CIFAR10.base_folder
    how = f"the python version (cifar-10-python.tar.gz extracted), as torchvision.datasets.CIFAR10(root={str(root)!r}, download=True) leaves it"
    ds = fetch_or_fail("cifar10", lambda dl: tvd.CIFAR10(str(root), train=train, download=dl), where, CIFAR_FILES, how)
    x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
    split = "train split (50,000)" if train else "test split (10,000)"
    y = torch.as_tensor(ds.targets).long()
    metrics, extra = collapse_view("cifar10", y, 10)
    return _image_set("cifar10" if train else test_name("cifar10"), x, y,
                      {"arch": "dcgan", "batch_size": 64, "z_dim": 128, "eval_samples": 50000},
                      {"source": f"torchvision.datasets.CIFAR10, {split}", "num_classes": 10,
                       "test_split": test_name("cifar10"), **extra}, metrics)


@DATASETS.register("cifar10")
def cifar10() -> Dataset:
    """CIFAR-10: the 50,000 training images, 32x32 RGB, 10 classes (torchvision loader)."""
    return _cifar10(True)


@DATASETS.register("cifar10-test")
def cifar10_test() -> Dataset:
    """CIFAR-10: the 10,000 test images (the reference of protocols that score on test images)."""
    return _cifar10(False)
