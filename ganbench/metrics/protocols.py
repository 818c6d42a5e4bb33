"""Published evaluation protocols, each a named metric protocol a run can ask for (`protocols: [lucic2018]`).

A reproduction compares with a paper's number only when it is measured the paper's way: which images are the
reference (training or test split), how many real and generated images, which network's features. Each protocol
here computes its metrics under its own name (`fid@lucic2018`), in the data set's FID feature space (torch-fidelity's
Inception-v3 port of the TF graph, or the offline extractor a test names), and records its sample counts and
reference, beside ganbench's own `fid` (50,000 generated against the training set)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ganbench.metrics.base import EvalContext, MetricValue
from ganbench.metrics.fidelity import frechet_distance, frechet_statistics, inception_score
from ganbench.registry import Registry
from ganbench.metrics.features import extractor_tag, fake_features, feature_extractors, layers_of
from ganbench.metrics.images import real_features


@dataclass(frozen=True)
class Protocol:
    """A paper's evaluation: `compute` turns a run's generated samples into its metrics; `needs_test` marks
    protocols scored against the data set's test split."""

    compute: Callable[[EvalContext], list[MetricValue]]
    needs_test: bool = False


PROTOCOLS: Registry[Protocol] = Registry("evaluation protocol")


def applicability(name: str, data) -> str | None:
    """Why protocol `name` cannot score data set `data` (None when it can)."""
    if data.kind != "image" or not data.info.get("extractor"):
        return f"evaluation protocol {name!r} scores images in Inception features; {data.name} is not such a data set"
    if PROTOCOLS.get(name).needs_test and not data.info.get("test_split"):
        return f"evaluation protocol {name!r} scores against a test split, which {data.name} does not have"
    return None


def _features(ctx: EvalContext, dataset: str) -> tuple[str, str, dict, dict]:
    """(extractor, its tag, generated features, reference features of `dataset`) in the data set's FID space."""

    name = feature_extractors(ctx.data)[0]
    return name, extractor_tag(name), fake_features(ctx, name), real_features(dataset, name, ctx.device)


def fid_against(ctx: EvalContext, protocol: str, reference: str, n_gen: int, n_real: int,
                subset_seed: int | None = None) -> MetricValue:
    """FID of the first n_gen generated images against n_real images of `reference` ("train" or "test"): the
    split's first n_real, or a fixed-seed subset when `subset_seed` is given; fewer when there are fewer."""

    dataset = ctx.data.info["test_split"] if reference == "test" else ctx.data.name
    name, tag, fake, real = _features(ctx, dataset)
    feats = real["features"]
    if subset_seed is not None and len(feats) > n_real:
        feats = feats[torch.randperm(len(feats), generator=torch.Generator().manual_seed(subset_seed))[:n_real]]
    feats = feats[:n_real]
    gen = fake["features"][:n_gen]
    proto = {"protocol": protocol, "n_gen": len(gen), "n_real": len(feats), "reference": reference,
             "reference_set": dataset, "layer": layers_of(name)[0],
             "real_subset": "first" if subset_seed is None else f"random, seed {subset_seed}"}
    value = frechet_distance(frechet_statistics(gen), frechet_statistics(feats))
    return MetricValue(f"fid@{protocol}", value, False, tag, proto)


def _test10k(protocol: str) -> Protocol:
    def compute(ctx: EvalContext) -> list[MetricValue]:
        return [fid_against(ctx, protocol, "test", 10_000, 10_000)]

    return Protocol(compute, needs_test=True)


PROTOCOLS.register("lucic2018", _test10k("lucic2018"), description=(
    "Lucic et al. 2018 (compare_gan v1): FID of 10,000 generated against 10,000 test images, Inception pool3, "
    "grayscale tiled to RGB"))
PROTOCOLS.register("kurach2019", _test10k("kurach2019"), description=(
    "Kurach et al. 2019: FID of 10,000 generated against 10,000 test images (CIFAR-10, LSUN), Inception pool3"))

MIYATO_IS_SAMPLES, MIYATO_IS_REPEATS = 5_000, 10
MIYATO_FID_REAL, MIYATO_FID_GEN = 10_000, 5_000
SUBSET_SEED = 2018


def _miyato(ctx: EvalContext) -> list[MetricValue]:
    """IS: the mean over up to 10 disjoint draws of 5,000 generated images (one split each); FID: 5,000 generated
    against a fixed-seed 10,000 of the training images."""

    name, tag, fake, _ = _features(ctx, ctx.data.name)
    logits = fake["logits"]
    size = min(MIYATO_IS_SAMPLES, len(logits))
    draws = max(1, min(MIYATO_IS_REPEATS, len(logits) // size))
    scores = [inception_score(logits[i * size:(i + 1) * size], splits=1) for i in range(draws)]
    is_value = MetricValue("is@miyato2018", float(sum(scores) / draws), True, tag,
                           {"protocol": "miyato2018", "n_gen": size, "repeats": draws, "layer": layers_of(name)[1],
                            "std_over_repeats": float(torch.tensor(scores).std()) if draws > 1 else 0.0})
    fid = fid_against(ctx, "miyato2018", "train", MIYATO_FID_GEN, MIYATO_FID_REAL, subset_seed=SUBSET_SEED)
    return [is_value, fid]


PROTOCOLS.register("miyato2018", Protocol(_miyato), description=(
    "Miyato et al. 2018: inception score of 5,000 generated images, averaged over 10 draws; FID of 5,000 generated "
    "against 10,000 training images (the paper: 'over 10000 and 5000 samples')"))


def _heusel(ctx: EvalContext) -> list[MetricValue]:
    return [fid_against(ctx, "heusel2017", "train", 50_000, 10 ** 9)]


PROTOCOLS.register("heusel2017", Protocol(_heusel), description=(
    "Heusel et al. 2017 (TTUR): FID of 50,000 generated images against all training images, Inception pool3"))
