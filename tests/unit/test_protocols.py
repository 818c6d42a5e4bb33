"""Published evaluation protocols (named metric protocols): each scores against the paper's reference with the
paper's sample counts, and knows its answer on distributions whose answer is known."""
import pytest
import torch

from ganbench.data import get_dataset
from ganbench.errors import SpecError
from ganbench.metrics import EvalContext
from ganbench.metrics.protocols import PROTOCOLS
from ganbench.spec import build_spec


@pytest.fixture
def mnist_space(monkeypatch):
    monkeypatch.setenv("GANBENCH_FEATURES", "ganbench-mnist")  # the offline stand-in for Inception


def scores(protocol: str, data: str, fake: torch.Tensor) -> dict:
    ctx = EvalContext(data=get_dataset(data), fake=fake, seed=0)
    return {v.name: v for v in PROTOCOLS.get(protocol).compute(ctx)}


@pytest.mark.parametrize("protocol", ["lucic2018", "kurach2019"])
def test_test_split_protocols_score_against_the_test_images(protocol, mnist_space):
    """Generating the test images themselves gives FID 0 against the test split; the training images, which
    the protocol does not use as reference, do not."""
    test, train = get_dataset("mnist-test").x, get_dataset("mnist").x
    same = scores(protocol, "mnist", test)[f"fid@{protocol}"]
    assert same.value == pytest.approx(0.0, abs=1e-3)
    p = same.protocol
    assert (p["reference"], p["reference_set"], p["n_real"], p["n_gen"]) == ("test", "mnist-test", len(test), len(test))
    assert same.features.startswith("ganbench-mnist@")
    other = scores(protocol, "mnist", train)[f"fid@{protocol}"]
    assert other.value > 1e-2 and other.protocol["n_gen"] == min(len(train), 10_000)


def test_miyato_scores_a_fixed_subset_of_training_images_and_repeated_inception_scores(mnist_space, monkeypatch):
    from ganbench.metrics import protocols

    monkeypatch.setattr(protocols, "MIYATO_IS_SAMPLES", 100)  # the fixture MNIST has 1,200 images, not 50,000
    monkeypatch.setattr(protocols, "MIYATO_FID_REAL", 600)
    train = get_dataset("mnist").x
    out = scores("miyato2018", "mnist", train)
    is_, fid = out["is@miyato2018"], out["fid@miyato2018"]
    assert is_.protocol["repeats"] == 10 and is_.protocol["n_gen"] == 100 and is_.value > 1
    assert fid.protocol["n_real"] == 600 and fid.protocol["reference"] == "train"
    assert fid.protocol["real_subset"].startswith("random")
    # a single class: the inception score of a collapsed generator is near 1
    ones = train[get_dataset("mnist").labels == 1]
    assert scores("miyato2018", "mnist", ones)["is@miyato2018"].value < 0.5 * is_.value


def test_heusel_is_fid_against_all_training_images(mnist_space):
    train = get_dataset("mnist").x
    fid = scores("heusel2017", "mnist", train)["fid@heusel2017"]
    assert fid.value == pytest.approx(0.0, abs=1e-3) and fid.protocol["n_real"] == len(train)


def test_protocols_in_a_spec(mnist_space):
    spec = build_spec({"dataset": "cifar10", "loss": "ns", "protocols": ["kurach2019", "heusel2017"]})
    assert spec.protocols == ("heusel2017", "kurach2019") and "kurach2019" in spec.canonical()
    plain = build_spec({"dataset": "cifar10", "loss": "ns"})
    assert plain.protocols == () and "protocols" not in plain.canonical()  # runs without one keep their ids
    with pytest.raises(SpecError, match="unknown evaluation protocol 'lucic'"):
        build_spec({"dataset": "cifar10", "loss": "ns", "protocols": ["lucic"]})
    with pytest.raises(SpecError, match="does not have"):
        build_spec({"dataset": "imagefolder:" + __import__("conftest").IMAGE_FOLDER.as_posix(), "loss": "ns",
                     "protocols": ["lucic2018"]})
    with pytest.raises(SpecError, match="not such a data set"):
        build_spec({"dataset": "ring8", "loss": "ns", "protocols": ["heusel2017"]})
