"""Feature extractors at paper scale: Inception-v3 weights from a local file (offline clusters), the errors without
one, the weights hash in every value's feature tag, and parity with torch-fidelity's own command line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.errors import MetricError
from ganbench.metrics import extractors
from ganbench.metrics.fidelity import (frechet_distance, frechet_statistics, inception_score, kid,
                                       precision_recall)
from ganbench.metrics.features import extract, extractor, feature_extractors
from helpers import REPO



@pytest.fixture(scope="module")
def random_inception(tmp_path_factory):
    """A state dict of torch-fidelity's Inception-v3 with random weights: the real network and loading path,
    offline (the published weights are a download)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    d = tmp_path_factory.mktemp("weights")
    torch.save({}, d / "empty.pth")
    keep = FeatureExtractorInceptionV3.load_state_dict
    FeatureExtractorInceptionV3.load_state_dict = lambda self, *a, **k: None
    try:
        torch.manual_seed(0)
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(d / "empty.pth"))
    finally:
        FeatureExtractorInceptionV3.load_state_dict = keep
    path = d / "inception-random.pth"
    torch.save(net.state_dict(), path)
    return path


def test_local_inception_weights_are_used_and_hashed(random_inception, monkeypatch):
    import hashlib

    monkeypatch.setenv("GANBENCH_INCEPTION_WEIGHTS", str(random_inception))
    digest = hashlib.sha256(random_inception.read_bytes()).hexdigest()
    assert extractors.tag("inception-v3-compat") == f"inception-v3-compat@{digest[:8]}"
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    out = extract("inception-v3-compat", images)
    assert out["features"].shape == (3, 2048) and out["logits"].shape == (3, 1008)  # pool3 and the unbiased logits


def test_missing_inception_weights_say_what_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("GANBENCH_DOWNLOAD", "0")
    monkeypatch.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(MetricError) as e:
        extractors.weights_file("inception-v3-compat")
    msg = str(e.value)
    assert "weights-inception-2015-12-05-6726825d.pth" in msg and str(tmp_path / "torch" / "hub" / "checkpoints") in msg
    assert "GANBENCH_INCEPTION_WEIGHTS" in msg and "\n" not in msg
    monkeypatch.setenv("GANBENCH_INCEPTION_WEIGHTS", str(tmp_path / "nope.pth"))
    with pytest.raises(MetricError, match="is not a file"):
        extractors.weights_file("inception-v3-compat")
    with pytest.raises(MetricError, match="vgg16-397923af.pth"):
        monkeypatch.delenv("GANBENCH_VGG16_WEIGHTS", raising=False)
        extractors.weights_file("vgg16")


class Payload:
    """Not a tensor: torch.load(weights_only=True) refuses to build it."""


def test_weights_that_are_not_a_plain_state_dict_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "evil.pth"
    torch.save({"w": Payload()}, path)
    monkeypatch.setenv("GANBENCH_INCEPTION_WEIGHTS", str(path))
    with pytest.raises(MetricError, match="weights_only=True"):
        extractors.weights_digest("inception-v3-compat")


def test_paper_scale_sets_use_inception_and_vgg16_unless_overridden(monkeypatch):
    from ganbench.data import get_dataset

    monkeypatch.delenv("GANBENCH_FEATURES", raising=False)
    assert feature_extractors(get_dataset("cifar10")) == ("inception-v3-compat", "vgg16")
    assert feature_extractors(get_dataset("digits")) == ("ganbench-digits", "ganbench-digits")
    monkeypatch.setenv("GANBENCH_FEATURES", "ganbench-mnist")
    assert feature_extractors(get_dataset("celeba")) == ("ganbench-mnist", "ganbench-mnist")
    assert feature_extractors(get_dataset("digits")) == ("ganbench-digits", "ganbench-digits")  # own space kept
    monkeypatch.setenv("GANBENCH_FEATURES", "inceptionv3")
    with pytest.raises(MetricError, match="unknown feature extractor 'inceptionv3'"):
        feature_extractors(get_dataset("celeba"))


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
