"""Feature extractors at paper scale: Inception-v3 weights from a local file (offline clusters), the errors without
one, the weights hash in every value's feature tag (parity with torch-fidelity's own command line:
tests/e2e/test_extractor_commands.py)."""
import pytest
import torch

from ganbench.errors import MetricError
from ganbench.metrics import extractors
from ganbench.metrics.images import extract, extractor, feature_extractors


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
