"""Metric pipelines end to end on whole data sets: ganbench's FID, KID, IS and precision/recall against torch-fidelity's
own command line (a subprocess) on the same image folders, and the Stacked MNIST / stacked digits mode counters on
thousands of real images (the classifier's reference over the whole training set)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.data import get_dataset
from ganbench.metrics import METRICS, EvalContext
from ganbench.metrics.features import extract
from ganbench.metrics.fidelity import frechet_distance, frechet_statistics, inception_score, kid, precision_recall
from helpers import REPO


def values(name, data, fake):
    return {v.name: v for v in METRICS.get(name)(EvalContext(data=data, fake=fake, seed=0))}


def write_pngs(folder: Path, images: torch.Tensor) -> None:
    folder.mkdir(parents=True)
    for i, im in enumerate(images):
        Image.fromarray(im.permute(1, 2, 0).numpy()).save(folder / f"{i:05d}.png")


def read_pngs(folder: Path) -> torch.Tensor:
    return torch.stack([torch.from_numpy(np.asarray(Image.open(p).convert("RGB"))).permute(2, 0, 1)
                        for p in sorted(folder.glob("*.png"))])


def test_fid_kid_pr_is_equal_torch_fidelitys_command_line(tmp_path):
    """The same two sample folders scored by torch-fidelity's `fidelity` command (with ganbench's digit extractor
    registered) and by ganbench's metric functions agree to 1e-4."""
    from ganbench.data import get_dataset
    from ganbench.metrics.classifier import quantize

    d = get_dataset("digits")
    g = torch.Generator().manual_seed(0)
    real = quantize(d.x[torch.randperm(len(d), generator=g)[:300]]).expand(-1, 3, -1, -1)
    fake = quantize((d.x[torch.randperm(len(d), generator=g)[:250]] + 0.3 * torch.randn(250, 1, 8, 8, generator=g)))
    fake = fake.expand(-1, 3, -1, -1)
    write_pngs(tmp_path / "fake", fake)
    write_pngs(tmp_path / "real", real)
    code = ("import sys, ganbench.metrics.extractors; from torch_fidelity.fidelity import main; sys.argv[0] = 'fidelity'; "
            "main()")
    args = ["--input1", str(tmp_path / "fake"), "--input2", str(tmp_path / "real"), "--cpu", "--fid", "--kid",
            "--isc", "--prc", "--feature-extractor", "ganbench-digits", "--kid-subset-size", "100", "--json",
            "--no-cache", "--silent", "--samples-find-ext", "png"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
    r = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    theirs = json.loads(r.stdout[r.stdout.index("{"):])
    f_fake, f_real = extract("ganbench-digits", read_pngs(tmp_path / "fake")), extract("ganbench-digits", read_pngs(tmp_path / "real"))
    ours = {
        "frechet_inception_distance": frechet_distance(frechet_statistics(f_fake["features"]), frechet_statistics(f_real["features"])),
        "kernel_inception_distance_mean": kid(f_fake["features"], f_real["features"], subset_size=100),
        "inception_score_mean": inception_score(f_fake["logits"]),
    }
    ours["precision"], ours["recall"] = precision_recall(f_fake["features"], f_real["features"], k=3)
    for key, value in ours.items():
        assert value == pytest.approx(theirs[key], abs=1e-4, rel=1e-4), key


def test_stacked_mnist_mode_count_follows_pacgan():
    """Real Stacked MNIST images cover the modes their labels say; one image repeated covers one; KL to uniform."""
    from ganbench.metrics.base import EvalContext
    from ganbench.metrics.images import class_modes

    d = get_dataset("stacked-mnist")
    real = d.floats(slice(0, 1000))
    values = {v.name: v for v in class_modes(EvalContext(d, real, 0))}
    truth = len(torch.unique(d.labels[:1000]))
    assert values["modes"].value >= 0.8 * truth and values["modes"].protocol["kl_reference"] == "uniform"
    assert values["modes"].features.startswith("ganbench-stacked-mnist@")
    same = real[:1].expand(500, -1, -1, -1)
    collapsed = {v.name: v.value for v in class_modes(EvalContext(d, same, 0))}
    assert collapsed["modes"] == 1 and collapsed["kl_modes"] == pytest.approx(np.log(1000), rel=1e-9)


def test_stacked_modes_count_digit_triples():
    d = get_dataset("stacked-digits")
    v = values("class-modes", d, d.x[:5000].clone())
    assert v["modes"].value >= 990  # 5,000 real triples cover (almost) all 1,000 modes
    only_zero = d.x[(d.labels // 100) == 0][:500]  # first digit always 0: at most 100 modes
    assert values("class-modes", d, only_zero)["modes"].value <= 105
