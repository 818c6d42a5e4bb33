"""Tiny copies of every paper-scale data set, written in each one's real on-disk format under one data root:
MNIST and Fashion-MNIST as uncompressed IDX files, CIFAR-10 as its python pickle batches, CelebA as its aligned JPEGs
and annotation text files, Tiny ImageNet and ImageNet as class folders of JPEGs, and a plain image folder.

The MNIST digits are scikit-learn's real 8x8 digits enlarged to 20x20 inside a 28x28 frame, so a classifier trained
on them learns real digits. torchvision checks the MD5 sums of the CIFAR and CelebA downloads; tests replace that
check by an existence check (`relax_checksums`), the only difference from a user's real download."""
from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from ganbench.data.folders import read_class_list

MNIST_TRAIN, MNIST_TEST = 1200, 400
CIFAR_PER_BATCH = 40
CELEBA_IMAGES = 36
CELEBA_ATTRS = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
                "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby",
                "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male",
                "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
                "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair",
                "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young"]
TINY_CLASSES = ["n01443537", "n01629819", "n01641577", "n01644900"]
IMAGENET_EXTRA = ["n01530575", "n09999999"]  # classes outside every shipped subset


def write_idx_images(path: Path, images: np.ndarray) -> None:
    """IDX3: magic 0x00000803, count, rows, cols (big-endian int32), then the uint8 pixels row-major."""
    n, h, w = images.shape
    path.write_bytes(struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    """IDX1: magic 0x00000801, count, then one uint8 label each."""
    path.write_bytes(struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes())


def digit_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n 28x28 uint8 digits: scikit-learn's 8x8 digits (drawn with replacement) enlarged to 20x20 and centred."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.RandomState(seed)
    idx = rng.randint(len(d.images), size=n)
    x = torch.from_numpy(d.images[idx] / 16.0).float().unsqueeze(1)
    x = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False).clamp(0, 1)
    x = F.pad(x, (4, 4, 4, 4))
    return (x[:, 0] * 255).round().byte().numpy(), d.target[idx]


def write_mnist(root: Path, folder: str, seed: int) -> None:
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", MNIST_TRAIN), ("t10k", MNIST_TEST)):
        x, y = digit_images(n, seed + (split == "t10k"))
        if folder == "FashionMNIST":
            x = 255 - x  # another image set of the same format
        write_idx_images(raw / f"{split}-images-idx3-ubyte", x)
        write_idx_labels(raw / f"{split}-labels-idx1-ubyte", y)


def write_cifar(root: Path) -> None:
    """cifar-10-batches-py/: data_batch_1..5 and test_batch ({'data': N x 3072 uint8 row-major RGB planes,
    'labels': [...]}) and batches.meta ({'label_names': [...]}), pickled."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(10)
    names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    base = rng.randint(0, 256, size=(10, 3, 1, 1))  # each class's colour, the same in every batch (learnable)
    for i, name in enumerate(names):
        labels = rng.randint(10, size=CIFAR_PER_BATCH)
        data = np.clip(base[labels] + rng.randint(-40, 40, size=(CIFAR_PER_BATCH, 3, 32, 32)), 0, 255).astype(np.uint8)
        entry = {"batch_label": f"batch {i}", "labels": labels.tolist(), "data": data.reshape(CIFAR_PER_BATCH, 3072),
                 "filenames": [f"img_{i}_{j}.png" for j in range(CIFAR_PER_BATCH)]}
        (folder / name).write_bytes(pickle.dumps(entry))
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
            "num_cases_per_batch": CIFAR_PER_BATCH, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))


def jpeg(path: Path, w: int, h: int, seed: int) -> None:
    rng = np.random.RandomState(seed)
    img = np.clip(rng.randint(0, 256, size=(1, 1, 3)) + rng.randint(-30, 30, size=(h, w, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, quality=90)


def write_celeba(root: Path) -> None:
    """celeba/: img_align_celeba/NNNNNN.jpg (178x218) and the five annotation files torchvision reads."""
    folder = root / "celeba"
    names = [f"{i + 1:06d}.jpg" for i in range(CELEBA_IMAGES)]
    for i, name in enumerate(names):
        jpeg(folder / "img_align_celeba" / name, 178, 218, i)
    split = [0 if i < 20 else 1 if i < 25 else 2 for i in range(CELEBA_IMAGES)]
    rng = np.random.RandomState(3)
    (folder / "list_eval_partition.txt").write_text("".join(f"{n} {s}\n" for n, s in zip(names, split)))
    (folder / "identity_CelebA.txt").write_text("".join(f"{n} {i % 7 + 1}\n" for i, n in enumerate(names)))
    attrs = "".join(f"{n} " + " ".join(str(v) for v in rng.choice([-1, 1], size=40)) + "\n" for n in names)
    (folder / "list_attr_celeba.txt").write_text(f"{len(names)}\n" + " ".join(CELEBA_ATTRS) + "\n" + attrs)
    (folder / "list_bbox_celeba.txt").write_text(f"{len(names)}\nimage_id x_1 y_1 width height\n"
                                                 + "".join(f"{n} 95 71 226 313\n" for n in names))
    marks = "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y"
    (folder / "list_landmarks_align_celeba.txt").write_text(
        f"{len(names)}\n{marks}\n" + "".join(f"{n} 69 109 106 113 77 142 73 152 108 154\n" for n in names))


def write_tiny_imagenet(root: Path) -> None:
    for c, wnid in enumerate(TINY_CLASSES):
        for i in range(3):
            jpeg(root / "tiny-imagenet-200" / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", 64, 64, 100 + 10 * c + i)


def imagenet_classes() -> list[str]:
    return sorted({w for name in ("imagenette", "imagenet-10", "imagenet-100") for w in read_class_list(name)}
                  | set(IMAGENET_EXTRA))


def write_imagenet(root: Path) -> None:
    """imagenet/train/<wnid>/<wnid>_<i>.JPEG for every class of the shipped subsets (and two more), of varied sizes."""
    for c, wnid in enumerate(imagenet_classes()):
        for i in range(2):
            jpeg(root / "imagenet" / "train" / wnid / f"{wnid}_{i}.JPEG", 80 + 7 * i, 60 + 5 * (c % 3), 1000 + 2 * c + i)


def write_image_folder(folder: Path) -> None:
    for k, cls in enumerate(("cats", "dogs")):
        for i in range(4):
            jpeg(folder / cls / f"{i}.png", 40 + i, 36, 5000 + 10 * k + i)


def build_data_root(root: Path) -> Path:
    """Every fixture under `root` (the data root); returns the plain image folder's path."""
    root.mkdir(parents=True, exist_ok=True)
    write_mnist(root, "MNIST", 0)
    write_mnist(root, "FashionMNIST", 5)
    write_cifar(root)
    write_celeba(root)
    write_tiny_imagenet(root)
    write_imagenet(root)
    folder = root.parent / "my-images"
    write_image_folder(folder)
    return folder


def relax_checksums() -> None:
    """torchvision checks CIFAR-10's and CelebA's files against the MD5 sums of the real downloads; the fixtures
    pass an existence check instead."""
    import torchvision.datasets.celeba as celeba
    import torchvision.datasets.cifar as cifar

    def exists(fpath, md5=None) -> bool:
        return os.path.isfile(fpath)

    cifar.check_integrity = exists
    celeba.check_integrity = exists


def dataset_cases() -> list[str]:
    """Every registered data set by a loadable name: a parametrised family (imagefolder) with the fixture folder."""
    import conftest

    from ganbench.data import DATASETS

    return [f"imagefolder:{conftest.IMAGE_FOLDER}@32" if n == "imagefolder" else n for n in DATASETS.names()]


def case_id(name: str) -> str:
    """A test id for a `dataset_cases` name that is the same in every process: the fixture folder by its name alone
    (its temporary parent differs per process, and pytest-xdist needs its workers to collect identical ids)."""
    import conftest

    return name.replace(str(conftest.IMAGE_FOLDER), conftest.IMAGE_FOLDER.name)
