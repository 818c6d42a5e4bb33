"""Where image data sets live on disk, whether they may be downloaded, and the one-time prepared (resized, uint8)
copy of image folders that training reads through a memory map."""
from __future__ import annotations

import gzip
import zlib
from PIL import Image
from tqdm import tqdm
import hashlib
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ganbench.env import DATA_ENV, DOWNLOAD_ENV
from ganbench.errors import DataError
from ganbench.cache import cache_dir

PREPARED = "ganbench-prepared"  # sub-folder of the data root holding the prepared copies
PREPARE_VERSION = 1  # raised when the resizing recipe changes: the prepared copies are rebuilt
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff")


def data_root() -> Path:
    """$GANBENCH_DATA, else the ganbench cache's data/ folder."""

    root = os.environ.get(DATA_ENV)
    return Path(root).expanduser() if root else cache_dir("data")


def prepared_dir() -> Path:
    """Where one-time prepared copies (decompressed IDX files, resized image folders) are written: the data root's
    ganbench-prepared/ folder when the data root is writable (and has write bits: root may write anywhere), else the
    ganbench cache's prepared/ folder (a shared, read-only copy of the data still works)."""

    root = data_root()
    if not root.exists() or (os.access(root, os.W_OK) and root.stat().st_mode & 0o222):
        return root / PREPARED
    return cache_dir("prepared")


def find_prepared(relative: str) -> Path:
    """A prepared copy's path: the one already in the data root's ganbench-prepared/ (even a read-only one), else
    where prepared_dir() would write it."""
    shipped = data_root() / PREPARED / relative
    return shipped if shipped.exists() else prepared_dir() / relative


def decompressed(name: str, raw: Path, files: Sequence[str], md5: dict[str, str] | None = None) -> Path | None:
    """A folder holding `files` uncompressed, made from the `<file>.gz` copies in `raw` (torchvision's mirror
    layout) when `raw` lacks the uncompressed files: each is decompressed once into the prepared folder (temporary
    name, then renamed; the folder is keyed by the .gz files' paths and sizes), and checked against the md5 of its
    uncompressed bytes where `md5` knows it. None when `raw` has no complete set of .gz files. A file that does not
    decompress, or decompresses to other bytes, is a one-line DataError naming it."""
    if not all((raw / f"{f}.gz").is_file() for f in files):
        return None
    key = hashlib.sha256("".join(f"{(raw / f).resolve()}.gz {(raw / f'{f}.gz').stat().st_size}\n" for f in files).encode())
    out = find_prepared(f"gunzip-{key.hexdigest()[:12]}/{raw.parent.name}/{raw.name}")
    for f in files:
        target = out / f
        if target.is_file():
            continue
        try:
            out.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{f}.{os.getpid()}.tmp")
            tmp.touch()
        except OSError as e:
            raise DataError(f"cannot decompress {raw / f}.gz into {out} ({e.strerror}); point --data-root / "
                            f"${DATA_ENV} or $GANBENCH_CACHE at a writable folder") from None
        h = hashlib.md5()
        try:
            with gzip.open(raw / f"{f}.gz", "rb") as src, open(tmp, "wb") as dst:
                for block in iter(lambda: src.read(1 << 20), b""):
                    h.update(block)
                    dst.write(block)
            if md5 and f in md5 and h.hexdigest() != md5[f]:
                raise DataError(f"data set {name!r}: {raw / f}.gz decompresses to md5 {h.hexdigest()}, not the "
                                f"published {md5[f]}; replace the file with a good copy")
            os.replace(tmp, target)
        except (OSError, EOFError, zlib.error) as e:
            reason = " ".join(str(e).split())[:120]
            raise DataError(f"data set {name!r}: cannot decompress {raw / f}.gz ({reason}); replace the file with a "
                            "good copy") from None
        finally:
            tmp.unlink(missing_ok=True)
    return out


def downloads_allowed() -> bool:
    return os.environ.get(DOWNLOAD_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def root_hint() -> str:
    """The tail of every missing-data message: where the data root is and how to move it."""
    return f"the data root is {data_root()} (set it with --data-root or ${DATA_ENV})"


def missing(name: str, where: Path, files: Sequence[str], how: str) -> DataError:
    """The one-line error of a data set that is not on disk: which files to place where, and how to get them."""
    shown = ", ".join(files[:8]) + (f" (and {len(files) - 8} more)" if len(files) > 8 else "")
    return DataError(f"data set {name!r} is missing: place {shown} in {where} ({how}); {root_hint()}")


def fetch_or_fail(name: str, load: Callable[[bool], object], where: Path, files: Sequence[str], how: str):
    """Load with torchvision, downloading first when allowed; any failure becomes the data set's missing-data
    message (with the download's own error when one was tried)."""
    try:
        return load(False)
    except (RuntimeError, FileNotFoundError, OSError):
        pass
    if not downloads_allowed():
        raise missing(name, where, files, f"{how}; downloads are off (${DOWNLOAD_ENV}=0)")
    try:
        return load(True)
    except Exception as e:  # offline, mirror down, checksum mismatch: say what to place by hand
        reason = " ".join(str(e).split())[:160]
        raise missing(name, where, files, f"{how}; the download failed: {reason}") from None


def list_images(folder: Path) -> list[Path]:
    """Every image file under `folder` (recursively), in sorted order."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def center_crop_resize(path: Path, size: int, crop: int | None) -> np.ndarray:
    """An image file as uint8 3 x size x size: a centred square crop (`crop` pixels, or the short side when None),
    then resized; reductions of 2x or more first halve with a box filter, then bicubic (the recipe of Dhariwal &
    Nichol's ADM data loader, which avoids the aliasing of a single bicubic step)."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        side = min(w, h) if crop is None else min(crop, w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
        while min(im.size) >= 2 * size:
            im = im.resize(tuple(length // 2 for length in im.size), resample=Image.BOX)
        if im.size != (size, size):
            im = im.resize((size, size), resample=Image.BICUBIC)
        return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).copy()


class _Files(torch.utils.data.Dataset):
    def __init__(self, paths: Sequence[Path], size: int, crop: int | None):
        self.paths, self.size, self.crop = paths, size, crop

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        try:
            return torch.from_numpy(center_crop_resize(self.paths[i], self.size, self.crop))
        except OSError:  # not an image, or truncated: reported by the main process with its path
            return torch.empty(0, dtype=torch.uint8)


def prepare_workers() -> int:
    return max(0, min(8, (os.cpu_count() or 1) - 1))


def prepared(name: str, paths: Sequence[Path], size: int, crop: int | None, base: Path,
             salt: str = "") -> tuple[torch.Tensor, str]:
    """The images at `paths` cropped and resized to uint8 N x 3 x size x size, built once into
    <data root>/ganbench-prepared/ (keyed by the file list, sizes and recipe) and memory-mapped afterwards; and
    that key (the data set's fingerprint)."""
    key = hashlib.sha256()
    key.update(f"v{PREPARE_VERSION} {size} {crop} {salt}\n".encode())
    for p in paths:  # by content's stand-ins: name, size and modification time (an edited image is a new copy)
        st = p.stat()
        key.update(f"{p.relative_to(base).as_posix()} {st.st_size} {st.st_mtime_ns}\n".encode())
    out = find_prepared(f"{name}-{size}-{key.hexdigest()[:12]}.npy")
    if not out.exists():  # written under a temporary name, then renamed: never half a file under the final name
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DataError(f"cannot write the prepared copy of {name!r} under {out.parent} ({e.strerror}); point "
                            f"--data-root / ${DATA_ENV} at a writable folder holding the data") from None
        loader = torch.utils.data.DataLoader(_Files(paths, size, crop), batch_size=256, num_workers=prepare_workers(),
                                             collate_fn=list)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        try:
            arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), 3, size, size))
            i = 0
            for batch in tqdm(loader, desc=f"preparing {name} at {size}x{size} (once)", unit="batch", leave=False,
                              disable=not sys.stderr.isatty()):
                bad = next((j for j, im in enumerate(batch) if im.numel() == 0), None)
                if bad is not None:
                    raise DataError(f"data set {name!r}: cannot read {paths[i + bad]} as an image; remove or replace it")
                arr[i : i + len(batch)] = torch.stack(batch).numpy()
                i += len(batch)
            arr.flush()
            del arr
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    return torch.from_numpy(np.load(out, mmap_mode="c")), key.hexdigest()[:16]


def torchvision_datasets():
    """torchvision.datasets, imported when a paper-scale set is first read (its import costs about a second that
    the offline sets and `ganbench list` need not pay)."""
    import torchvision.datasets  # heavy: about 1 s, only for the paper-scale sets

    return torchvision.datasets
