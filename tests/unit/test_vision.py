"""Paper-scale data sets through their real loaders on fixtures in the real on-disk formats; missing-data messages;
the prepared copies of image folders; Stacked MNIST's mode count (the MNIST classifier's shipped weights and its
retraining by `ganbench extractor train`: tests/e2e/test_extractor_commands.py)."""
import os
import pickle

import numpy as np
import pytest
import torch

import conftest
import datafixtures
from ganbench.data import get_dataset
from ganbench.data.files import center_crop_resize, data_root
from ganbench.data.folders import read_class_list
from ganbench.data.vision import mnist_splits
from ganbench.errors import DataError


def test_mnist_reads_the_idx_files():
    d = get_dataset("mnist")
    x, y = datafixtures.digit_images(datafixtures.MNIST_TRAIN, 0)
    assert d.x.dtype == torch.uint8 and d.x.shape == (datafixtures.MNIST_TRAIN, 1, 28, 28)
    assert torch.equal(d.x[:, 0], torch.from_numpy(x)) and torch.equal(d.labels, torch.from_numpy(y).long())
    assert d.info["source"].startswith("torchvision.datasets.MNIST")
    f = get_dataset("fashion-mnist")
    assert not torch.equal(f.x, d.x) and f.x.shape == d.x.shape
    # Fashion-MNIST ships no classifier: its modes are counted by one trained on its own labels
    assert f.info["classifier"] == "ganbench-classifier:fashion-mnist" and f.info["num_modes"] == 10


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "stacked-mnist"])
def test_padded_variants_centre_the_28x28_images(name):
    d, d32 = get_dataset(name), get_dataset(f"{name}-32")
    x, x32 = d.x, d32.x
    assert x32.shape[-2:] == (32, 32) and torch.equal(x32[..., 2:30, 2:30], x) and torch.equal(d.labels, d32.labels)
    assert x32[..., :2, :].eq(0).all() and x32[..., :, 30:].eq(0).all()  # background borders
    assert d32.floats().min() == -1


def test_stacked_mnist_channels_are_pool_digits_with_their_labels():
    d = get_dataset("stacked-mnist")
    (x_tr, y_tr), (x_te, y_te) = mnist_splits()
    pool, labels = torch.cat([x_tr, x_te])[:, 0], torch.cat([y_tr, y_te])
    assert d.x.shape == (3000, 3, 28, 28) and d.info["num_modes"] == 1000
    assert d.info["mode_reference"] == "uniform"
    for i in range(5):
        digits = []
        for c in range(3):
            match = (pool == d.x[i, c]).flatten(1).all(1)
            assert match.any()
            digits.append(int(labels[match][0]))
        assert int(d.labels[i]) == 100 * digits[0] + 10 * digits[1] + digits[2]
    assert len(torch.unique(d.labels)) > 900  # 3,000 draws of 1,000 equally likely triples cover ~950


def test_cifar10_reads_the_pickle_batches():
    d = get_dataset("cifar10")
    root = data_root() / "cifar-10-batches-py"
    first = pickle.loads((root / "data_batch_1").read_bytes())
    n = datafixtures.CIFAR_PER_BATCH
    assert d.x.shape == (5 * n, 3, 32, 32) and d.x.dtype == torch.uint8  # the five training batches, not the test one
    assert torch.equal(d.x[:n], torch.from_numpy(first["data"].reshape(n, 3, 32, 32)))
    assert d.labels[:n].tolist() == first["labels"]


def test_celeba_uses_the_train_split_with_the_compare_gan_crop():
    d = get_dataset("celeba")
    assert d.x.shape == (20, 3, 64, 64)  # list_eval_partition: 20 train images of 30
    first = data_root() / "celeba" / "img_align_celeba" / "000001.jpg"
    assert torch.equal(d.x[0], torch.from_numpy(center_crop_resize(first, 64, 160)))
    assert get_dataset("celeba-128").x.shape == (20, 3, 128, 128) and d.info["crop"] == 160


def test_centre_crop_resize_keeps_the_centre():
    from PIL import Image

    img = np.zeros((100, 60, 3), np.uint8)
    img[20:80, :, 0] = 255  # a red square of 60x60 in the middle of a 60x100 image
    path = conftest.DATA_ROOT.parent / "crop-test.png"
    Image.fromarray(img).save(path)
    out = center_crop_resize(path, 16, None)
    assert out.shape == (3, 16, 16) and (out[0] == 255).all() and (out[1] == 0).all()


def test_imagenet_subsets_select_their_classes():
    lists = {n: read_class_list(n) for n in ("imagenette", "imagenet-10", "imagenet-100")}
    assert {n: len(v) for n, v in lists.items()} == {"imagenette": 10, "imagenet-10": 10, "imagenet-100": 100}
    for v in lists.values():
        assert len(set(v)) == len(v) and all(len(w) == 9 and w.startswith("n") and w[1:].isdigit() for w in v)
    assert "n03888257" in lists["imagenette"]  # parachute (n03888605 is parallel bars)
    d = get_dataset("imagenette-32")
    assert d.x.shape == (20, 3, 32, 32) and d.info["num_classes"] == 10
    assert torch.equal(torch.bincount(d.labels), torch.full((10,), 2))  # sorted wnid order, ImageFolder's convention
    assert get_dataset("imagenet100-64").info["num_classes"] == 100
    everything = get_dataset("imagenet-32")
    assert everything.info["num_classes"] == len(datafixtures.imagenet_classes()) and len(everything) == 2 * len(datafixtures.imagenet_classes())


IMAGENETS = [f"{p}-{r}" for p in ("imagenet", "imagenette", "imagenet10", "imagenet100") for r in (32, 64, 128)]


@pytest.mark.parametrize("name", IMAGENETS)
def test_every_imagenet_variant_has_its_classes_and_size(name):
    prefix, size = name.rsplit("-", 1)
    d = get_dataset(name)
    lists = {"imagenette": "imagenette", "imagenet10": "imagenet-10", "imagenet100": "imagenet-100"}
    classes = read_class_list(lists[prefix]) if prefix in lists else datafixtures.imagenet_classes()
    assert d.x.shape == (2 * len(classes), 3, int(size), int(size)) and d.info["num_classes"] == len(classes)
    assert d.info["fingerprint"] == d.fingerprint and d.info["extractor"] == "inception-v3-compat"


def test_every_dataset_has_a_protocol_test():
    """A registered data set without a test of its content and preprocessing fails here."""
    from ganbench.data import DATASETS

    covered = {"ring8", "grid25", "digits", "stacked-digits",  # tests/unit/test_data.py
               "mnist", "fashion-mnist", "stacked-mnist", "mnist-32", "fashion-mnist-32", "stacked-mnist-32",
               "cifar10", "celeba", "celeba-128", "tiny-imagenet", "imagefolder", *IMAGENETS,
               *(f"{n}-test" for n in TEST_SPLITS)}  # test_test_splits
    assert set(DATASETS.names()) == covered


TEST_SPLITS = {"mnist": datafixtures.MNIST_TEST, "mnist-32": datafixtures.MNIST_TEST,
               "fashion-mnist": datafixtures.MNIST_TEST, "fashion-mnist-32": datafixtures.MNIST_TEST,
               "cifar10": None, "celeba": 11, "celeba-128": 11}


@pytest.mark.parametrize("name", sorted(TEST_SPLITS))
def test_test_splits(name):
    """Each test split is the data set's own test files through the same loader and preprocessing: same shape per
    image, the fixture's test count, other images than the training split, and the training set points to it."""
    train, test = get_dataset(name), get_dataset(f"{name}-test")
    assert train.info["test_split"] == test.name == f"{name}-test" and "test split" in test.info["source"]
    assert test.sample_shape == train.sample_shape and test.x.dtype == train.x.dtype
    if TEST_SPLITS[name] is not None:
        assert len(test) == TEST_SPLITS[name]
    assert test.fingerprint != train.fingerprint and not torch.equal(test.x[:1], train.x[:1])


def test_tiny_imagenet_and_image_folders():
    t = get_dataset("tiny-imagenet")
    assert t.x.shape == (12, 3, 64, 64) and t.info["num_classes"] == 4
    f = get_dataset(f"imagefolder:{conftest.IMAGE_FOLDER}@16")
    assert f.x.shape == (8, 3, 16, 16) and f.labels.tolist() == [0] * 4 + [1] * 4 and f.info["num_classes"] == 2
    flat = conftest.DATA_ROOT.parent / "flat-images"
    for i in range(3):
        datafixtures.jpeg(flat / f"{i}.jpg", 30, 30, i)
    g = get_dataset(f"imagefolder:{flat}")
    assert g.x.shape == (3, 3, 64, 64) and g.labels is None


def test_prepared_copies_are_built_once_and_keyed_by_their_files(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path / "root"))
    folder = tmp_path / "imgs"
    for i in range(3):
        datafixtures.jpeg(folder / f"{i}.png", 20, 20, i)
    a = get_dataset(f"imagefolder:{folder}@8")
    prepared = list((tmp_path / "root" / "ganbench-prepared").iterdir())
    assert len(prepared) == 1 and not any(p.name.endswith(".tmp") for p in prepared)
    stamp = prepared[0].stat().st_mtime_ns
    from ganbench.data.base import _load

    _load.cache_clear()
    b = get_dataset(f"imagefolder:{folder}@8")
    assert torch.equal(a.x, b.x) and prepared[0].stat().st_mtime_ns == stamp and a.fingerprint == b.fingerprint
    datafixtures.jpeg(folder / "3.png", 20, 20, 3)
    _load.cache_clear()
    c = get_dataset(f"imagefolder:{folder}@8")
    assert len(c) == 4 and c.fingerprint != a.fingerprint
    assert len(list((tmp_path / "root" / "ganbench-prepared").iterdir())) == 2
    # an image replaced by another of the same name and size is new content: a new prepared copy, never the old one
    import os

    later = (folder / "3.png").stat().st_mtime_ns + 10**9  # rewritten in place: same name and size, a new time
    os.utime(folder / "3.png", ns=(later, later))
    _load.cache_clear()
    d = get_dataset(f"imagefolder:{folder}@8")
    assert d.fingerprint != c.fingerprint


MISSING = {
    "mnist": ("MNIST/raw", "train-images-idx3-ubyte"),
    "fashion-mnist": ("FashionMNIST/raw", "t10k-labels-idx1-ubyte"),
    "stacked-mnist": ("MNIST/raw", "train-labels-idx1-ubyte"),
    "cifar10": ("cifar-10-batches-py", "data_batch_5"),
    "celeba-128": ("celeba", "list_eval_partition.txt"),
    "tiny-imagenet": ("tiny-imagenet-200/train", "tiny-imagenet-200.zip"),
    "imagenette-64": ("imagenet/train", "ILSVRC2012_img_train.tar"),
    "imagenet100-128": ("imagenet/train", "train/<wnid>/*.JPEG"),
}


@pytest.mark.parametrize("name", sorted(MISSING))
def test_missing_data_says_what_to_place_where(name, tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path))
    with pytest.raises(DataError) as e:
        get_dataset(name)
    msg = str(e.value)
    folder, file = MISSING[name]
    assert "\n" not in msg and str(tmp_path / folder) in msg and file in msg and "--data-root" in msg


def test_a_missing_imagenet_class_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path))
    datafixtures.jpeg(tmp_path / "imagenet" / "train" / "n01440764" / "a.JPEG", 10, 10, 0)
    with pytest.raises(DataError, match="9 of its 10 class folders are not in .*imagenet/train"):
        get_dataset("imagenette-32")


def test_a_failed_download_becomes_the_missing_data_message(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    def offline(self):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: <urlopen error [Errno -3] Temporary failure>")

    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path))
    monkeypatch.setenv("GANBENCH_DOWNLOAD", "1")
    monkeypatch.setattr(tvd.MNIST, "download", offline)
    with pytest.raises(DataError, match="the download failed: Error downloading train-images.*place train-images|place train-images.*the download failed"):
        get_dataset("mnist")


def test_an_unreadable_image_is_named_in_one_line(tmp_path):
    for i in range(3):
        datafixtures.jpeg(tmp_path / "imgs" / f"{i}.jpg", 20, 20, i)
    (tmp_path / "imgs" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"cannot read .*broken.png as an image; remove or replace it"):
        get_dataset(f"imagefolder:{tmp_path / 'imgs'}@8")


def test_gzipped_mnist_in_a_read_only_root_is_decompressed_once_and_checked(tmp_path, monkeypatch):
    """The .gz files of torchvision's mirror layout (as ../shared/data holds the real MNIST) load as they are: each
    is decompressed once into the prepared folder (the ganbench cache when the data root is read-only), checked
    against the md5 of its uncompressed bytes; a file that decompresses to other bytes is one DataError line."""
    import gzip
    import hashlib

    from ganbench.data import files, vision

    from ganbench.cache import cache_dir

    raw = conftest.DATA_ROOT / "MNIST" / "raw"
    (x0, y0), _ = vision.mnist_splits()  # the fixture's uncompressed files
    root = tmp_path / "gz"
    (root / "MNIST" / "raw").mkdir(parents=True)
    md5 = {}
    for f in vision.MNIST_FILES:
        data = (raw / f).read_bytes()
        md5[f] = hashlib.md5(data).hexdigest()
        (root / "MNIST" / "raw" / f"{f}.gz").write_bytes(gzip.compress(data))
    for p in (root / "MNIST" / "raw", root / "MNIST", root):
        p.chmod(0o555)  # read-only, as a shared copy of the data is
    monkeypatch.setenv("GANBENCH_DATA", str(root))
    monkeypatch.setattr(vision, "MNIST_MD5", md5)
    (x, y), (xt, yt) = vision.mnist_splits()
    assert torch.equal(x, x0) and torch.equal(y, y0) and len(xt) == datafixtures.MNIST_TEST
    unpacked = files.decompressed("mnist", root / "MNIST" / "raw", vision.MNIST_FILES, md5)  # the same folder
    assert unpacked.is_relative_to(cache_dir("prepared")) and unpacked.parts[-2:] == ("MNIST", "raw")
    assert sorted(p.name for p in unpacked.iterdir()) == sorted(vision.MNIST_FILES)  # no temporary files left
    assert not (root / files.PREPARED).exists()
    for p in unpacked.iterdir():
        p.unlink()
    monkeypatch.setitem(md5, "train-labels-idx1-ubyte", "0" * 32)
    with pytest.raises(DataError, match="not the published 0{32}") as e:
        files.decompressed("mnist", root / "MNIST" / "raw", vision.MNIST_FILES, md5)
    assert "\n" not in str(e.value) and not (unpacked / "train-labels-idx1-ubyte").exists()
    bad = tmp_path / "bad" / "MNIST" / "raw"
    bad.mkdir(parents=True)
    for f in vision.MNIST_FILES:
        (bad / f"{f}.gz").write_bytes(gzip.compress(b"x" * 1000)[:20] + b"\xff" * 40)  # a broken deflate stream
    with pytest.raises(DataError, match="cannot decompress .*replace the file with a good copy") as e:
        files.decompressed("mnist", bad, vision.MNIST_FILES, md5)
    assert "\n" not in str(e.value)
