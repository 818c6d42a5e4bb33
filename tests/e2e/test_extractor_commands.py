"""Feature extractors from the command line: `ganbench extractor train` for the MNIST classifier (pinned shipped
weights, retrained only on request) and a data set's own classifier, and an offline Inception run that stops before
training with both ways out."""
import json

import pytest
import torch

import datafixtures
from helpers import gb


@pytest.mark.slow(seconds=105)
def test_mnist_classifier_ships_pinned_weights_and_retrains_only_on_request(tmp_path, monkeypatch):
    """The MNIST classifier scores with the weights shipped in the package (hash and real-MNIST test accuracy
    recorded beside them), whatever MNIST copy the data root holds; `ganbench extractor train` retrains it (here on
    the fixture) into a file that --feature-weights selects, and every value then carries that file's hash."""
    from ganbench.errors import MetricError
    from ganbench.metrics import extractors, mnist, pinned

    net, meta = mnist.load_classifier()
    shipped = pinned.WEIGHTS_DIR / "ganbench-mnist.pt"
    assert meta["sha256"] == pinned.sha256_of(shipped) == json.loads(shipped.with_name(shipped.name + ".json").read_text())["sha256"]
    assert meta["heldout_accuracy"] >= 0.993 and meta["train_images"] == 60000 and meta["file"] == "shipped"
    assert extractors.tag("ganbench-mnist") == f"ganbench-mnist@{meta['sha256'][:8]}"
    out = tmp_path / "mine.pt"
    r = gb("extractor", "train", "ganbench-mnist", "--out", str(out))
    assert r.returncode == 0, r.stderr
    record = json.loads(out.with_name("mine.pt.json").read_text())
    assert record["train_images"] == datafixtures.MNIST_TRAIN and record["heldout_accuracy"] > 0.85
    assert record["sha256"] != meta["sha256"] and f"--feature-weights ganbench-mnist={out}" in r.stdout
    monkeypatch.setenv(pinned.env_name("ganbench-mnist"), str(out))
    again, meta2 = mnist.load_classifier()
    assert meta2["sha256"] == record["sha256"] and extractors.tag("ganbench-stacked-mnist").endswith(record["sha256"][:8])
    assert not all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    out.write_bytes(out.read_bytes()[:-1] + b"x")  # a changed file no longer matches its record: one clear error
    pinned._checked.cache_clear()
    with pytest.raises(MetricError, match="their record says"):
        mnist.load_classifier()


def test_extractor_train_writes_a_set_classifier_and_refuses_sets_without_labels(tmp_path):
    out = tmp_path / "fashion.pt"
    r = gb("extractor", "train", "ganbench-classifier:tiny-imagenet", "--out", str(out))
    assert r.returncode == 0, r.stderr
    record = json.loads(out.with_name("fashion.pt.json").read_text())
    assert record["dataset"] == "tiny-imagenet" and f"--feature-weights ganbench-classifier:tiny-imagenet={out}" in r.stdout
    from datafixtures import jpeg

    jpeg(tmp_path / "flat" / "0.png", 20, 20, 0)
    for name, said in ((f"ganbench-classifier:imagefolder:{tmp_path / 'flat'}@8", "no class labels"),
                       ("ganbench-mnst", "is not one of")):
        r = gb("extractor", "train", name, "--out", str(tmp_path / "x.pt"))
        assert r.returncode == 2 and "Traceback" not in r.stderr and said in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_offline_inception_fid_stops_before_training_with_both_ways_out(tmp_path, monkeypatch):
    """A paper-scale image set scored with Inception, offline and without its weights: one line before any
    training, naming a local weights file and the data set's own classifier."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.delenv("GANBENCH_FEATURES", raising=False)
    r = gb("run", "-d", "mnist", "-l", "ns", "--steps", "2", "--out", str(tmp_path / "run"), "--no-download")
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "--feature-weights" in r.stderr and "--feature-extractor ganbench-mnist" in r.stderr
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    r = gb("run", "-d", "mnist", "-l", "ns", "--steps", "2", "--set", "eval_samples=64", "--set", "batch_size=16",
           "--set", "arch_options={width: 4}", "--set", "quality_every=0", "--out", str(tmp_path / "run2"),
           "--no-download", "--feature-extractor", "ganbench-mnist")
    assert r.returncode == 0, r.stderr


