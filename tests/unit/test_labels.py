"""Mode counters trained on a labelled set's own labels (ganbench.metrics.labels): which sets get one, that it learns
the classes, counts a collapse as one mode, is deterministic, cached once and pinned by its hash."""
import pytest
import torch

from ganbench.data import get_dataset
from ganbench.errors import MetricError
from ganbench.metrics import extractors, labels

import conftest


@pytest.mark.parametrize("name,classes", [("cifar10", 10), ("cifar10-test", 10), ("fashion-mnist", 10),
                                          ("fashion-mnist-32-test", 10), ("tiny-imagenet", 4), ("imagenette-32", 10)])
def test_labelled_sets_count_modes_with_a_classifier_of_their_training_labels(name, classes):
    d = get_dataset(name)
    train = name.removesuffix("-test")
    assert d.info["classifier"] == f"ganbench-classifier:{train}" and d.info["num_modes"] == classes
    assert "class-modes" in d.metrics and "ndb" not in d.metrics


@pytest.mark.parametrize("name", ["celeba", "imagenet-32"])  # no labels; more classes than a 32x32 net can count
def test_sets_without_usable_labels_keep_the_unlabelled_view(name):
    d = get_dataset(name)
    assert "classifier" not in d.info and d.metrics == ("image-fidelity", "feature-diversity", "ndb")
    assert get_dataset(name).labels is None or d.info["num_classes"] > labels.MAX_CLASSES


def test_an_image_folder_with_class_folders_gets_one_and_a_flat_one_does_not(tmp_path):
    d = get_dataset(f"imagefolder:{conftest.IMAGE_FOLDER}@16")
    assert d.info["classifier"] == f"ganbench-classifier:imagefolder:{conftest.IMAGE_FOLDER}@16"
    assert d.info["num_modes"] == 2
    from datafixtures import jpeg

    for i in range(3):
        jpeg(tmp_path / "flat" / f"{i}.png", 20, 20, i)
    assert "classifier" not in get_dataset(f"imagefolder:{tmp_path / 'flat'}@8").info


def test_the_classifier_learns_counts_every_mode_of_real_images_and_one_of_a_collapse(monkeypatch):
    """CIFAR-10's fixture (each class a colour): the trained classifier tells the classes apart on the test split,
    real test images cover all 10 modes with a small KL to the training histogram, one image repeated covers one
    mode, and health calls that a collapse."""
    from ganbench import health
    from ganbench.metrics import METRICS, EvalContext

    monkeypatch.setenv("GANBENCH_FEATURES", "ganbench-mnist")  # FID in a shipped space: no Inception offline
    d = get_dataset("cifar10")
    net, record = labels.load_classifier("cifar10")
    assert record["heldout_accuracy"] >= 0.9 and record["heldout"].startswith("cifar10-test")
    real = get_dataset("cifar10-test").floats()
    scores = {}
    for name, fake in (("real", real), ("same", real[:1].repeat(len(real), 1, 1, 1))):
        values = METRICS.get("class-modes")(EvalContext(d, fake, 0))
        scores[name] = {v.column.split(" [")[0]: v.value for v in values}
        tag = values[0].column.split("[")[1].rstrip("]")
        assert tag == f"ganbench-classifier:cifar10@{record['sha256'][:8]}"
        assert values[0].protocol["classifier_accuracy"] == record["heldout_accuracy"]
    assert scores["real"]["modes"] == 10 and scores["real"]["kl_modes"] < 0.1
    assert scores["same"]["modes"] == 1 and scores["same"]["kl_modes"] > 1.0
    calm = [{"step": "0", "loss_d": "1.3", "loss_g": "0.8"}]
    same = {f"{k} [x]": v for k, v in scores["same"].items()}
    protocol = {"modes [x]": {"num_modes": 10}}
    assert health.verdict({"metrics": same, "protocol": protocol}, calm)["verdict"] == "mode-collapse"


def test_training_is_deterministic_cached_once_and_pinned_by_hash(monkeypatch, tmp_path):
    first, _ = labels.train_and_record("tiny-imagenet")
    second, record = labels.train_and_record("tiny-imagenet")
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    assert record["threads"] == 1 and record["classes"] == 4 and record["heldout"].startswith("a fixed 10%")
    _, cached = labels.load_classifier("tiny-imagenet")
    monkeypatch.setattr(labels, "train_and_record", lambda dataset: pytest.fail("trained twice"))
    assert labels.load_classifier("tiny-imagenet")[1]["sha256"] == cached["sha256"]
    assert extractors.tag("ganbench-classifier:tiny-imagenet") == f"ganbench-classifier:tiny-imagenet@{cached['sha256'][:8]}"
    # another weights file (--feature-weights ganbench-classifier:tiny-imagenet=FILE) scores under its own hash
    other = tmp_path / "other.pt"
    torch.manual_seed(1)
    torch.save(labels.ClassNet(3, 4).state_dict(), other)
    monkeypatch.setenv("GANBENCH_WEIGHTS_GANBENCH_CLASSIFIER_TINY_IMAGENET", str(other))
    assert extractors.tag("ganbench-classifier:tiny-imagenet") != f"ganbench-classifier:tiny-imagenet@{cached['sha256'][:8]}"
    monkeypatch.delenv("GANBENCH_WEIGHTS_GANBENCH_CLASSIFIER_TINY_IMAGENET")
    # a cached file altered after its record was written is refused in one line that says how to recover
    path = labels.cached_path("tiny-imagenet")
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(MetricError, match="delete it and its .json"):
        labels.load_classifier("tiny-imagenet")
    path.unlink()
    path.with_name(path.name + ".json").unlink()
