"""Metrics on distributions whose answer is known."""
import math

import pytest
import torch

from ganbench.data import get_dataset
from ganbench.metrics import METRICS, EvalContext
from ganbench.metrics.classifier import load_classifier
from ganbench.metrics.fidelity import RNG_SEED, frechet_distance, frechet_statistics, kid, precision_recall
from ganbench.metrics.points import mode_statistics


def values(name, data, fake):
    return {v.name: v for v in METRICS.get(name)(EvalContext(data=data, fake=fake, seed=0))}


def mixture_samples(centres, std, n, keep, seed=0):
    g = torch.Generator().manual_seed(seed)
    idx = torch.tensor(keep)[torch.randint(len(keep), (n,), generator=g)]
    return centres[idx] + std * torch.randn(n, 2, generator=g)


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mode_statistics_on_the_true_distribution(name):
    d = get_dataset(name)
    c, std = d.info["centres"], d.info["std"]
    s = mode_statistics(mixture_samples(c, std, 2500, list(range(len(c)))), c, std)
    # within 3 std of the centre in 2-D: P = 1 - exp(-9/2) = 0.9889
    assert s["modes"] == len(c) and s["hq"] == pytest.approx(1 - math.exp(-4.5), abs=0.006) and s["kl_modes"] < 0.02


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_half_the_modes(name):
    d = get_dataset(name)
    c, std = d.info["centres"], d.info["std"]
    half = list(range(0, len(c), 2))
    fake = mixture_samples(c, std, 2500, half)
    v = {**values("modes2d", d, fake), **values("points-fidelity", d, fake)}
    assert v["modes"].value == len(half)
    assert v["kl_modes"].value == pytest.approx(torch.log(torch.tensor(len(c) / len(half))).item(), abs=0.02)
    assert v["recall"].value == pytest.approx(len(half) / len(c), abs=0.05)
    assert v["precision"].value > 0.94


def test_collapsed_far_samples_cover_nothing():
    d = get_dataset("ring8")
    s = mode_statistics(torch.full((100, 2), 5.0), d.info["centres"], d.info["std"])
    assert s["modes"] == 0 and s["hq"] == 0


def test_identical_point_sets():
    d = get_dataset("ring8")
    v = values("points-fidelity", d, d.x[:2500].clone())
    assert v["fd"].value < 1e-3 and v["precision"].value > 0.97 and v["recall"].value > 0.97


def test_frechet_distance_of_shifted_gaussians():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=g)
    b = torch.randn(20000, 3, generator=g) + torch.tensor([1.0, 2.0, 0.0])
    assert frechet_distance(frechet_statistics(a), frechet_statistics(b)) == pytest.approx(5.0, abs=0.1)
    assert frechet_distance(frechet_statistics(a), frechet_statistics(a)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("n_fake,n_real,size,subsets", [(300, 250, 100, 20), (400, 400, 50, 2)])
def test_kid_agrees_with_torch_fidelity(n_fake, n_real, size, subsets):
    """Both branches (full kernel matrix; torch-fidelity per subset) give torch-fidelity's number."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(n_fake, 8, generator=g), 1.2 * torch.randn(n_real, 8, generator=g) + 0.3
    ref = kid_features_to_metric(a.double(), b.double(), kid_subset_size=size, kid_subsets=subsets, verbose=False,
                                 rng_seed=RNG_SEED)["kernel_inception_distance_mean"]
    assert kid(a, b, subset_size=size, subsets=subsets) == pytest.approx(ref, rel=1e-9)


def test_kid_of_a_distribution_with_itself_is_near_zero():
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(600, 8, generator=g), torch.randn(600, 8, generator=g)
    assert abs(kid(a, b, subset_size=200, subsets=20)) < 0.01 < kid(a, b + 1.0, subset_size=200, subsets=20)


def test_precision_recall_disjoint_sets():
    a, b = torch.randn(500, 4), torch.randn(500, 4) + 100
    assert precision_recall(a, b) == (0.0, 0.0)


def test_classifier_reaches_97_percent_held_out():
    _, meta = load_classifier()
    assert meta["heldout_accuracy"] >= 0.97


def test_extractors_are_registered_with_torch_fidelity():
    import ganbench.metrics.extractors  # noqa: F401  (registers them on import)
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    assert {"ganbench-digits", "ganbench-stacked-digits"} <= set(FEATURE_EXTRACTORS_REGISTRY)


def test_image_metrics_real_data_against_itself():
    d = get_dataset("digits")
    v = {**values("image-fidelity", d, d.x.clone()), **values("class-modes", d, d.x.clone())}
    assert v["fid"].value == pytest.approx(0.0, abs=1e-2)
    assert v["precision"].value > 0.99 and v["recall"].value > 0.99
    assert v["modes"].value == 10 and v["kl_modes"].value < 1e-6
    assert v["is"].value > 8  # ten confidently classified, balanced classes
    assert v["fid"].features.startswith("ganbench-digits@")


def test_image_metrics_half_the_classes():
    d = get_dataset("digits")
    fake = d.x[d.labels < 5]
    v = {**values("image-fidelity", d, fake), **values("class-modes", d, fake)}
    assert 5 <= v["modes"].value <= 6  # a rare misclassified sample may light up one more class
    assert v["recall"].value == pytest.approx(0.5, abs=0.1)
    assert v["precision"].value > 0.95
    assert v["kl_modes"].value == pytest.approx(torch.log(torch.tensor(2.0)).item(), abs=0.05)
    assert v["fid"].value > 1.0


def test_diversity_ratio_on_known_answers():
    from ganbench.metrics.fidelity import diversity_ratio

    g = torch.Generator().manual_seed(0)
    real = torch.randn(3000, 5, generator=g)
    other = torch.randn(3000, 5, generator=g)
    assert diversity_ratio(other, real) == pytest.approx(1.0, abs=0.02)  # same distribution
    assert diversity_ratio(0.5 * other + 3.0, real) == pytest.approx(0.5, abs=0.01)  # distances halve; shifts are free
    assert diversity_ratio(real[:1].expand(500, 5), real) == 0.0  # every sample the same point


def test_memorization_share_on_known_answers():
    from ganbench.metrics.memorization import memorized_share, nearest_distances, train_threshold

    g = torch.Generator().manual_seed(0)
    train = torch.randn(2000, 6, generator=g)
    thr = train_threshold(train)
    fresh = torch.randn(2000, 6, generator=g)
    assert memorized_share(fresh, train, thr) == pytest.approx(0.05, abs=0.025)  # new samples of the same law
    assert memorized_share(train[:500], train, thr) == 1.0  # copies
    noisy = train[:500] + 1e-3 * torch.randn(500, 6, generator=g)
    assert memorized_share(noisy, train, thr) == 1.0  # near-copies
    d = nearest_distances(train[:3], train, leave_one_out=True)  # leave-one-out: never the sample itself
    brute = torch.cdist(train[:3], train)
    brute[range(3), range(3)] = float("inf")
    assert (d > 0).all() and torch.allclose(d, brute.min(1).values, atol=1e-5)


def test_memorization_metric_on_digits():
    data = get_dataset("digits")
    ctx = EvalContext(data=data, fake=data.x[:300].clone(), seed=0)
    vals = {v.column: v.value for v in METRICS.get("memorization")(ctx)}
    assert set(vals) == {"memorized [pixels]", f"memorized [ganbench-digits@{load_classifier()[1]['sha256'][:8]}]"}
    assert all(v == 1.0 for v in vals.values())  # training images themselves
    noise = EvalContext(data=data, fake=torch.rand(300, 1, 8, 8) * 2 - 1, seed=0)
    assert all(v.value < 0.05 for v in METRICS.get("memorization")(noise))


def test_ndb_on_known_answers():
    from ganbench.metrics.ndb import bin_counts, kmeans_centres, ndb

    g = torch.Generator().manual_seed(0)
    real = torch.randn(4000, 3, generator=g)
    centres = kmeans_centres(real, 40)
    real_counts = bin_counts(real, centres)
    fresh = bin_counts(torch.randn(4000, 3, generator=g), centres)
    different, js = ndb(fresh, real_counts)
    assert different / 40 <= 0.15 and js < 0.01  # same law: about alpha of the bins differ by chance
    piled = bin_counts(0.05 * torch.randn(4000, 3, generator=g) + real[0], centres)  # every sample in one spot
    different, js = ndb(piled, real_counts)
    assert different / 40 >= 0.9 and js > 0.5
    assert ndb(real_counts, real_counts) == (0, 0.0)


def test_ndb_metric_is_deterministic_on_digits():
    data = get_dataset("digits")
    ctx = lambda: EvalContext(data=data, fake=data.x[:1000].clone(), seed=0)  # noqa: E731
    a = {v.column: v.value for v in METRICS.get("ndb")(ctx())}
    assert set(a) == {"ndb [pixels]", "ndb_js [pixels]"} and a["ndb [pixels]"] <= 0.2
    from ganbench.metrics import ndb as ndb_module

    ndb_module._reference.cache_clear()
    assert {v.column: v.value for v in METRICS.get("ndb")(ctx())} == a  # the bins are rebuilt identically


def test_precision_recall_uses_a_fixed_real_subset_above_its_cap(monkeypatch):
    """Above PR_REAL_MAX real samples, PR compares with a fixed-seed subset of that size (Kynkaenniemi et al.: 50k
    vs 50k), never the whole set's distance matrix."""
    from ganbench.metrics import fidelity

    assert fidelity.pr_real_subset(50_000) is None
    sub = fidelity.pr_real_subset(128_000)
    assert len(sub) == 50_000 and len(torch.unique(sub)) == 50_000 and torch.equal(sub, fidelity.pr_real_subset(128_000))
    monkeypatch.setattr(fidelity, "PR_REAL_MAX", 100)
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(400, 4, generator=g), torch.randn(100, 4, generator=g)
    idx = fidelity.pr_real_subset(400)
    assert fidelity.precision_recall(fake, real) == fidelity.precision_recall(fake, real[idx])


def test_density_and_coverage_on_known_distributions():
    """Naeem et al. 2020: samples of the real distribution itself give density and coverage near 1; samples far
    away 0; samples piled on one real point cover almost nothing while their density is high."""
    from ganbench.metrics.fidelity import knn_radii, pr_scores

    g = torch.Generator().manual_seed(0)
    real, same = torch.randn(3000, 8, generator=g), torch.randn(3000, 8, generator=g)
    r3, r5 = knn_radii(real, 3), knn_radii(real, 5)
    out = pr_scores(same, real, r3, knn_radii(same, 3), r5, 5)
    assert 0.9 < out["density"] < 1.1 and out["coverage"] > 0.95 and out["precision"] > 0.85 and out["recall"] > 0.85
    far = same + 50
    out = pr_scores(far, real, r3, knn_radii(far, 3), r5, 5)
    assert out == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    piled = real[:1].repeat(500, 1) + 1e-4 * torch.randn(500, 8, generator=g)
    out = pr_scores(piled, real, r3, knn_radii(piled, 3), r5, 5)
    assert out["coverage"] < 0.01 and out["density"] > 0.1 and out["precision"] == 1.0


def test_precision_recall_in_blocks_equals_torch_fidelity(monkeypatch):
    """Blocks of real rows and tiles of columns (the memory bound) give torch-fidelity's numbers."""
    from torch_fidelity.metric_prc import prc_features_to_metric

    from ganbench.metrics import fidelity

    g = torch.Generator().manual_seed(1)
    fake, real = torch.randn(700, 16, generator=g), torch.randn(900, 16, generator=g) * 1.2
    expected = prc_features_to_metric(fake, real, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False,
                                      verbose=False)
    whole = fidelity.precision_recall(fake, real)
    monkeypatch.setattr(fidelity, "PR_TILE", 128)
    monkeypatch.setattr(fidelity, "PR_BLOCK_ELEMENTS", 128 * 300)
    assert fidelity.rows_per_block(900) == 42
    blocked = fidelity.precision_recall(fake, real)
    assert whole == (expected["precision"], expected["recall"])
    assert blocked == pytest.approx(whole, abs=2 / 900)  # float rounding may move a sample on a ball's edge


def test_real_side_statistics_are_computed_once_and_cached_on_disk(monkeypatch):
    """The reference (features, Frechet moments, k-NN radii, class counts) is written once per data set and
    extractor, atomically, and read back afterwards: no real-vs-real distances in a run."""
    from ganbench.cache import cache_dir
    from ganbench.metrics import fidelity, reference

    def clear():
        reference._features.cache_clear()
        reference._radii.cache_clear()

    clear()
    ref, rad = reference.reference("digits", "ganbench-digits"), reference.radii("digits", "ganbench-digits")
    files = sorted(cache_dir("reference").glob("digits-*ganbench-digits*.pt"))
    assert len(files) == 2 and "-radii-k3-k5-max50000-" in files[0].name and not list(cache_dir("reference").glob(".*tmp"))
    assert torch.equal(rad["pr_radii"], fidelity.knn_radii(ref["features"], 3))
    assert torch.equal(rad["dc_radii"], fidelity.knn_radii(ref["features"], 5))
    assert int(ref["class_counts"].sum()) == len(ref["features"]) == 1797
    stamps = [f.stat().st_mtime_ns for f in files]
    clear()
    from ganbench.store import load_torch

    def only_read(path, compute):
        assert path.exists(), f"recomputed a cached reference: {path.name}"
        return load_torch(path)

    monkeypatch.setattr(reference, "cached_torch", only_read)
    again = reference.radii("digits", "ganbench-digits")
    assert [f.stat().st_mtime_ns for f in files] == stamps and torch.equal(again["dc_radii"], rad["dc_radii"])
    clear()


def test_image_sets_without_a_classifier_get_collapse_statistics(monkeypatch):
    """A set without labels a classifier could learn (here ImageNet's 1,000 classes; CelebA and flat image folders
    have none) gets the diversity ratio in its FID features and NDB as its collapse view; real images score as
    uncollapsed, one image repeated as collapsed (diversity 0, most bins different), and health then calls the
    repeated image a collapse."""
    from ganbench import health
    from ganbench.data import get_dataset
    from ganbench.metrics import METRICS, EvalContext

    monkeypatch.setenv("GANBENCH_FEATURES", "ganbench-mnist")
    d = get_dataset("imagenet-32")
    assert d.metrics == ("image-fidelity", "feature-diversity", "ndb")
    n = len(d)
    real, same = d.floats(), d.floats(slice(0, 1)).repeat(n, 1, 1, 1)
    scores = {}
    for name, fake in (("real", real), ("same", same)):
        ctx = EvalContext(d, fake, 0)
        scores[name] = {v.column: v.value for m in d.metrics for v in METRICS.get(m)(ctx)}
    div = next(c for c in scores["real"] if c.startswith("diversity [ganbench-mnist@"))
    assert scores["real"][div] > 0.8 and scores["same"][div] == 0.0
    assert scores["real"]["ndb [pixels]"] < 0.3 < 0.8 < scores["same"]["ndb [pixels]"]
    calm = [{"step": "0", "loss_d": "1.3", "loss_g": "0.8"}]
    assert health.verdict({"metrics": scores["same"], "protocol": {}}, calm)["verdict"] == "mode-collapse"
    assert health.verdict({"metrics": scores["real"], "protocol": {}}, calm)["verdict"] == "ok"


@pytest.mark.parametrize("shape", [(5, 3, 8, 8), (4, 2, 7, 9), (2, 1, 28, 28), (3, 4, 2, 2)])
def test_fast_max_pool_equals_max_pool2d(shape):
    """The classifiers' 2x2 pooling gives max_pool2d's values without autograd (ties from ReLU zeros, odd sizes
    cropped as max_pool2d floors them, NaN propagated) and is max_pool2d itself while a gradient is recorded (the
    gradient then goes to one maximum per window, as when the shipped classifiers were trained)."""
    from torch.nn import functional as F

    from ganbench.metrics.pool import MaxPool2x2

    g = torch.Generator().manual_seed(0)
    x = torch.relu(torch.randn(shape, generator=g))
    x.view(-1)[3] = float("nan")
    pool = MaxPool2x2()
    with torch.no_grad():
        fast = pool(x)
    assert torch.equal(fast.isnan(), F.max_pool2d(x, 2).isnan()) and fast.isnan().any()
    assert torch.equal(fast.nan_to_num(-1.0), F.max_pool2d(x, 2).nan_to_num(-1.0))
    y = torch.zeros(2, 1, 4, 4, requires_grad=True)  # every window a tie
    pool(y).sum().backward()
    assert y.grad.sum() == 8 and set(y.grad.unique().tolist()) == {0.0, 1.0}
    assert pool.state_dict() == {} and isinstance(pool, torch.nn.MaxPool2d)
