"""Distribution metrics on any feature tensors, through torch-fidelity's feature-level functions."""
from __future__ import annotations

import torch
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric

RNG_SEED = 2020  # torch-fidelity's default; fixes KID subsets and IS splits


def frechet_statistics(features: torch.Tensor) -> dict:
    """Mean and covariance (float64) of a feature set."""
    return fid_features_to_statistics(features.double().cpu())


def frechet_distance(stats_fake: dict, stats_real: dict) -> float:
    """||mu1-mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^1/2) (Heusel et al. 2017)."""
    return float(fid_statistics_to_metric(stats_fake, stats_real, verbose=False)["frechet_inception_distance"])


def kid(fake: torch.Tensor, real: torch.Tensor, subset_size: int = 1000, subsets: int = 100) -> float:
    """Kernel Inception Distance, unbiased MMD^2 with the cubic polynomial kernel (Binkowski et al. 2018)."""
    size = min(subset_size, len(fake), len(real))
    out = kid_features_to_metric(fake.double().cpu(), real.double().cpu(), kid_subset_size=size, kid_subsets=subsets,
                                 verbose=False, rng_seed=RNG_SEED)
    return float(out["kernel_inception_distance_mean"])


def precision_recall(fake: torch.Tensor, real: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall with k-NN balls (Kynkaanniemi et al. 2019)."""
    out = prc_features_to_metric(fake.float().cpu(), real.float().cpu(), prc_neighborhood=k, prc_batch_size=10000,
                                 save_cpu_ram=False, verbose=False)
    return float(out["precision"]), float(out["recall"])


def inception_score(logits: torch.Tensor, splits: int = 10) -> float:
    """exp E_x KL(p(y|x) || p(y)) over `splits` splits (Salimans et al. 2016), on any classifier's logits."""
    return float(isc_features_to_metric(logits.cpu(), splits=splits, shuffle=True, rng_seed=RNG_SEED)["inception_score_mean"])
