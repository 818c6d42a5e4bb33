"""Image-folder data sets: CelebA, Tiny ImageNet, ImageNet (and its named subsets) at 32/64/128, and any folder of
images (`imagefolder:<path>[@<size>]`). Each is cropped and resized once into a memory-mapped uint8 copy under the
data root (see ganbench.data.files.prepared)."""
from __future__ import annotations

from pathlib import Path

import torch

from ganbench.cache import file_safe
from ganbench.data.base import DATASETS, Dataset
from ganbench.data.files import data_root, fetch_or_fail, list_images, prepared, root_hint, torchvision_datasets
from ganbench.data.vision import PAPER_INFO, collapse_view
from ganbench.errors import DataError

CLASS_LISTS = Path(__file__).with_name("classes")
FOLDER_DEFAULTS = {"arch": "dcgan", "batch_size": 64, "z_dim": 128, "eval_samples": 50000}
CELEBA_FILES = ("img_align_celeba/", "list_eval_partition.txt", "identity_CelebA.txt", "list_attr_celeba.txt",
                "list_bbox_celeba.txt", "list_landmarks_align_celeba.txt")
CELEBA_CROP = 160  # compare_gan (Lucic et al. 2018, Kurach et al. 2019): a centred 160x160 crop, then resized


def _folder_set(name: str, x: torch.Tensor, labels: torch.Tensor | None, info: dict) -> Dataset:
    """A folder set: modes counted by a classifier trained on its class folders when it has 2..100 of them
    (vision.collapse_view), else diversity and NDB."""
    metrics, extra = collapse_view(name, labels, int(info.get("num_classes", 0)))
    return Dataset(name=name, x=x, labels=labels, kind="image", metrics=metrics, main_metric="fid",
                   defaults=FOLDER_DEFAULTS, info={**PAPER_INFO, **info, **extra})


def _register_celeba(name: str, size: int) -> None:
    def make(split: str) -> Dataset:
        tvd = torchvision_datasets()
        root = data_root()
        where = root / tvd.CelebA.base_folder
        how = ("the aligned-and-cropped images (img_align_celeba.zip extracted) and the annotation files of "
               "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html; torchvision's Google-Drive download is often over quota")
        ds = fetch_or_fail("celeba", lambda dl: tvd.CelebA(str(root), split=split, target_type=[], download=dl),
                           where, CELEBA_FILES, how)
        paths = [where / "img_align_celeba" / f for f in ds.filename]
        absent = [p.name for p in paths if not p.is_file()]
        if absent:
            raise DataError(f"data set 'celeba': {len(absent)} images of the {split} split are missing from "
                            f"{where / 'img_align_celeba'} (e.g. {absent[0]}); extract img_align_celeba.zip there again")
        x, key = prepared(f"celeba-crop{CELEBA_CROP}", paths, size, CELEBA_CROP, where)
        return _folder_set(name if split == "train" else f"{name}-test", x, None,
                           {"fingerprint": key, "source": f"CelebA {split} split ({len(paths):,} images), centre crop "
                                                          f"{CELEBA_CROP}, resized to {size}", "crop": CELEBA_CROP,
                            "test_split": f"{name}-test"})

    train = lambda: make("train")  # noqa: E731
    train.__doc__ = (f"CelebA faces, the 162,770 train-split images, centre-cropped to {CELEBA_CROP}x{CELEBA_CROP} "
                     f"and resized to {size}x{size} (compare_gan's recipe; torchvision loader).")
    test = lambda: make("test")  # noqa: E731
    test.__doc__ = (f"CelebA faces, the 19,962 test-split images, prepared as {name} (the reference of protocols that "
                    "score on test images).")
    DATASETS.register(name, train)
    DATASETS.register(f"{name}-test", test)


_register_celeba("celeba", 64)
_register_celeba("celeba-128", 128)


def require_folder(name: str, folder: Path, how: str) -> None:
    """A data set's folder must exist, else its one-line missing-data message."""
    if not folder.is_dir():
        raise DataError(f"data set {name!r} is missing: place {how} so that {folder} exists; {root_hint()}")


def read_class_list(name: str) -> list[str]:
    """A shipped ImageNet subset: its WordNet ids, in the file's order (comment lines start with #)."""
    lines = (CLASS_LISTS / f"{name}.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def class_samples(name: str, folder: Path, classes: list[str], how: str) -> tuple[list[Path], torch.Tensor]:
    """Image paths under folder/<class>/ (any depth) for each class, labelled by the class's index in sorted
    order (torchvision ImageFolder's convention); a missing class folder is a data error naming it."""
    absent = [c for c in classes if not (folder / c).is_dir()]
    if absent:
        raise DataError(f"data set {name!r} is missing: {len(absent)} of its {len(classes)} class folders are not in "
                        f"{folder} (e.g. {absent[0]}/); place {how}; {root_hint()}")
    index = {c: i for i, c in enumerate(sorted(classes))}
    try:
        samples = torchvision_datasets().folder.make_dataset(str(folder), index, extensions=(".jpeg", ".jpg", ".png"))
    except FileNotFoundError as e:  # a class folder without images (e.g. its tar not yet extracted)
        raise DataError(f"data set {name!r}: {' '.join(str(e).split())[:200]}; extract every class's images into "
                        f"{folder}/<wnid>/") from None
    return [Path(p) for p, _ in samples], torch.tensor([c for _, c in samples], dtype=torch.long)


@DATASETS.register("tiny-imagenet")
def tiny_imagenet() -> Dataset:
    """Tiny ImageNet: 100,000 training images of 200 classes at 64x64 (CS231n; folder layout)."""
    folder = data_root() / "tiny-imagenet-200" / "train"
    how = "tiny-imagenet-200.zip (http://cs231n.stanford.edu/tiny-imagenet-200.zip) extracted, train/<wnid>/images/*.JPEG"
    require_folder("tiny-imagenet", folder, how)
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    paths, labels = class_samples("tiny-imagenet", folder, classes, how)
    x, key = prepared("tiny-imagenet", paths, 64, None, folder)
    return _folder_set("tiny-imagenet", x, labels, {"fingerprint": key, "source": f"Tiny ImageNet train ({len(paths):,} images)",
                                                    "num_classes": len(classes)})


SUBSETS = {"imagenet": None, "imagenette": "imagenette", "imagenet10": "imagenet-10", "imagenet100": "imagenet-100"}
SUBSET_NOTES = {
    "imagenet": "all 1,000 classes (1.28M images)",
    "imagenette": "Imagenette's 10 easily told apart classes (fast.ai)",
    "imagenet10": "the 10 classes of Chang et al. 2017's ImageNet-10",
    "imagenet100": "the 100 classes of Tian et al. 2019's ImageNet-100 (CMC)",
}


def _register_imagenet(prefix: str, class_list: str | None, size: int) -> None:
    name = f"{prefix}-{size}"

    def factory() -> Dataset:
        folder = data_root() / "imagenet" / "train"
        how = ("the ILSVRC-2012 training images in their class folders, train/<wnid>/*.JPEG "
               "(ILSVRC2012_img_train.tar and its per-class tars extracted; image-net.org needs a manual download)")
        require_folder(name, folder, how)
        classes = read_class_list(class_list) if class_list else sorted(p.name for p in folder.iterdir() if p.is_dir())
        paths, labels = class_samples(name, folder, classes, how)
        x, key = prepared(prefix, paths, size, None, folder)
        return _folder_set(name, x, labels, {"fingerprint": key, "source": f"ILSVRC-2012 train, {SUBSET_NOTES[prefix]}: {len(paths):,} "
                                                       f"images, centre square crop resized to {size}",
                                             "num_classes": len(classes), "classes": class_list or "all"})

    factory.__doc__ = f"ImageNet at {size}x{size}: {SUBSET_NOTES[prefix]}, from an ILSVRC train folder."
    DATASETS.register(name, factory)


for _prefix, _list in SUBSETS.items():
    for _size in (32, 64, 128):
        _register_imagenet(_prefix, _list, _size)


def parse_folder_arg(arg: str) -> tuple[Path, int]:
    """'PATH' or 'PATH@SIZE' -> (path, size); size defaults to 64."""
    path, at, size = arg.rpartition("@")
    if not at or not size.isdigit():
        path, size = arg, "64"
    if not path:
        raise DataError("imagefolder needs a path: write imagefolder:<path> or imagefolder:<path>@<size>")
    return Path(path).expanduser(), int(size)


@DATASETS.register("imagefolder")
def imagefolder(arg: str = "") -> Dataset:
    """Any folder of images, as imagefolder:<path>[@<size>] (default 64): centre square crops resized; class
    sub-folders, when every image lies in one, become the labels."""
    folder, size = parse_folder_arg(arg)
    name = f"imagefolder:{arg}"
    if size < 4:
        raise DataError(f"{name}: the image size must be at least 4")
    if not folder.is_dir():
        raise DataError(f"data set {name!r}: {folder} is not a folder; give the folder that holds your images")
    paths = list_images(folder)
    if not paths:
        raise DataError(f"data set {name!r}: no images ({', '.join(('.jpg', '.png', '...'))}) under {folder}")
    classes = sorted({p.relative_to(folder).parts[0] for p in paths if len(p.relative_to(folder).parts) > 1})
    labels = None
    if classes and all(len(p.relative_to(folder).parts) > 1 for p in paths):
        index = {c: i for i, c in enumerate(classes)}
        labels = torch.tensor([index[p.relative_to(folder).parts[0]] for p in paths], dtype=torch.long)
    label = file_safe(folder.resolve().name) or "root"
    x, key = prepared(f"imagefolder-{label}", paths, size, None, folder, salt=folder.resolve().as_posix())
    info = {"fingerprint": key, "source": f"{len(paths):,} images under {folder}, centre square crop resized to {size}"}
    if labels is not None:
        info["num_classes"] = len(classes)
    return _folder_set(name, x, labels, info)
