"""Distribution metrics on any feature tensors, through torch-fidelity's feature-level functions (imported where they
are called: importing torch-fidelity imports torchvision and CLIP, about 1.6 s that commands computing no metric,
such as `ganbench list`, need not pay)."""
from __future__ import annotations

import numpy as np
import torch

RNG_SEED = 2020  # torch-fidelity's default; fixes KID subsets and IS splits


def _tf():
    """torch-fidelity's metric modules, imported on first use (see the module docstring)."""
    import torch_fidelity.metric_fid, torch_fidelity.metric_isc, torch_fidelity.metric_kid  # heavy: 1.6 s, see above

    return torch_fidelity


def frechet_statistics(features: torch.Tensor) -> dict:
    """Mean and covariance (float64) of a feature set."""
    return _tf().metric_fid.fid_features_to_statistics(features.double().cpu())


def frechet_distance(stats_fake: dict, stats_real: dict) -> float:
    """||mu1-mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^1/2) (Heusel et al. 2017)."""
    return float(_tf().metric_fid.fid_statistics_to_metric(stats_fake, stats_real, verbose=False)["frechet_inception_distance"])


def kid_subsets(n_fake: int, n_real: int, size: int, subsets: int, seed: int = RNG_SEED) -> list[tuple]:
    """The subset indices torch-fidelity's KID draws (same RNG, same order of draws)."""
    rng = np.random.RandomState(seed)
    return [(rng.choice(n_fake, size, replace=False), rng.choice(n_real, size, replace=False)) for _ in range(subsets)]


def poly_kernel_sums(a: torch.Tensor, b: torch.Tensor, sel_a: torch.Tensor, sel_b: torch.Tensor,
                     block: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """For each subset row of the 0/1 selectors: sum of k(a_i, b_j) over selected i, j, and of k(a_i, b_i).

    k is KID's cubic kernel (a.b / d + 1)^3. The kernel matrix is built once, in row blocks, instead of once
    per subset: (n_a n_b) d work instead of subsets * size^2 * d.
    """
    d = a.shape[1]
    total = torch.zeros(sel_a.shape[0], dtype=torch.float64)
    diag = torch.zeros(sel_a.shape[0], dtype=torch.float64)
    for i in range(0, len(a), block):
        k = (a[i:i + block] @ b.T / d + 1.0) ** 3  # block x n_b
        total += ((sel_a[:, i:i + block] @ k) * sel_b).sum(1)
        if a is b:
            diag += sel_a[:, i:i + block] @ torch.diagonal(k, offset=i)
    return total, diag


def kid(fake: torch.Tensor, real: torch.Tensor, subset_size: int = 1000, subsets: int = 100) -> float:
    """Kernel Inception Distance: mean over random subsets of the unbiased MMD^2 with the cubic polynomial kernel
    (Binkowski et al. 2018). Same subsets and estimator as torch-fidelity's `kid_features_to_metric` (tested to
    agree); when the sets are small enough that one full kernel matrix is cheaper than a kernel per subset (every
    CPU suite: 25x faster on 2,000 samples), the subset sums are read off the full matrices."""
    m = min(subset_size, len(fake), len(real))
    n_f, n_r = len(fake), len(real)
    if (n_f * n_f + n_r * n_r + n_f * n_r) > 3 * subsets * m * m:
        out = _tf().metric_kid.kid_features_to_metric(fake.double().cpu(), real.double().cpu(), kid_subset_size=m, kid_subsets=subsets,
                                     verbose=False, rng_seed=RNG_SEED)
        return float(out["kernel_inception_distance_mean"])
    x, y = fake.double().cpu(), real.double().cpu()
    draws = kid_subsets(n_f, n_r, m, subsets)
    sx = torch.zeros(subsets, n_f, dtype=torch.float64)
    sy = torch.zeros(subsets, n_r, dtype=torch.float64)
    for i, (ix, iy) in enumerate(draws):
        sx[i, torch.from_numpy(ix)] = 1.0
        sy[i, torch.from_numpy(iy)] = 1.0
    xx, xx_diag = poly_kernel_sums(x, x, sx, sx)
    yy, yy_diag = poly_kernel_sums(y, y, sy, sy)
    xy, _ = poly_kernel_sums(x, y, sx, sy)
    mmd2 = (xx - xx_diag + yy - yy_diag) / (m * (m - 1)) - 2 * xy / (m * m)
    return float(mmd2.mean())


PR_REAL_MAX = 50_000  # Kynkaanniemi et al. compare 50k generated with 50k real images


def pr_real_subset(n_real: int, seed: int = RNG_SEED) -> torch.Tensor | None:
    """Indices of the real samples precision/recall uses: all up to PR_REAL_MAX, else a fixed-seed subset of that
    size (the full set's pairwise distances would not fit in memory: 128k Stacked MNIST needs 130 GB)."""
    if n_real <= PR_REAL_MAX:
        return None
    return torch.randperm(n_real, generator=torch.Generator().manual_seed(seed))[:PR_REAL_MAX]


PR_TILE = 10_000  # torch-fidelity's prc_batch_size: distances are computed in tiles of this many rows and columns
PR_BLOCK_ELEMENTS = 100_000_000  # distances held at once (400 MB)


def distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances of the rows of a to those of b, tiled over b's rows as torch-fidelity tiles them (so sets
    of up to PR_TILE samples give its very numbers), written into one preallocated block."""
    if len(b) <= PR_TILE:
        return torch.cdist(a, b)
    out = torch.empty(len(a), len(b), dtype=torch.promote_types(a.dtype, b.dtype))
    for i in range(0, len(b), PR_TILE):
        out[:, i:i + PR_TILE] = torch.cdist(a, b[i:i + PR_TILE])
    return out


def rows_per_block(n_cols: int) -> int:
    """Rows of a block of distances to n_cols samples: PR_TILE up to 2 x PR_TILE columns (torch-fidelity's own tiles,
    a block of at most 800 MB), else as many as PR_BLOCK_ELEMENTS allow (400 MB)."""
    return PR_TILE if n_cols <= 2 * PR_TILE else max(1, PR_BLOCK_ELEMENTS // n_cols)


def knn_radii(features: torch.Tensor, k: int | tuple[int, ...]) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """Each sample's distance to its k-th nearest neighbour within the set (itself excluded: the (k+1)-th smallest
    distance, as torch-fidelity and Kynkaenniemi et al. compute it), in blocks of rows; for a tuple of k, the radii
    of each from one pass over the distances."""
    ks = (k,) if isinstance(k, int) else tuple(k)
    f = features.float().cpu()
    # topk holds max(k) + 1 values a row where kthvalue would copy the whole block with 64-bit indices; same values
    nearest = torch.cat([distances(b, f).topk(max(ks) + 1, dim=1, largest=False).values
                         for b in f.split(rows_per_block(len(f)))])
    out = tuple(nearest[:, j].contiguous() for j in ks)
    return out[0] if isinstance(k, int) else out


def pr_scores(fake: torch.Tensor, real: torch.Tensor, real_radii: torch.Tensor, fake_radii: torch.Tensor,
              real_radii_dc: torch.Tensor | None = None, dc_k: int = 5) -> dict[str, float]:
    """Precision and recall (Kynkaenniemi et al. 2019) from both sets' k-NN radii, and, given the real set's
    `dc_k`-NN radii, density and coverage (Naeem et al. 2020), in one pass over the real-vs-fake distances.

    precision: share of fake samples inside some real sample's ball; recall: share of real samples inside some fake
    sample's ball; density: mean over fakes of the number of real dc_k-balls containing it, over dc_k; coverage:
    share of real samples whose dc_k-ball contains a fake sample. A sample on a ball's edge counts as inside (<=,
    torch-fidelity's comparison; Naeem et al.'s prdc package uses <, which differs only on exact ties). The same distances (real rows, fake columns) and
    comparisons (<=) as torch-fidelity's prc_features_to_metric, in blocks of real rows so that memory stays at
    PR_BLOCK_ELEMENTS (the real radii come from the cache: no real-vs-real distances per run)."""
    f, r = fake.float().cpu(), real.float().cpu()
    in_real = torch.zeros(len(f), dtype=torch.bool)
    real_hit = torch.zeros(len(r), dtype=torch.bool)
    covered = torch.zeros(len(r), dtype=torch.bool)
    inside = 0.0
    step = rows_per_block(len(f))
    for i in range(0, len(r), step):
        d = distances(r[i:i + step], f)  # a block of real rows x all fakes
        real_hit[i:i + step] = (d <= fake_radii[None, :]).any(dim=1)
        in_real |= (d <= real_radii[i:i + step, None]).any(dim=0)
        if real_radii_dc is not None:
            within = d <= real_radii_dc[i:i + step, None]
            inside += float(within.sum())
            covered[i:i + step] = within.any(dim=1)
    out = {"precision": float(in_real.float().mean()), "recall": float(real_hit.float().mean())}
    if real_radii_dc is not None:
        out["density"] = inside / (dc_k * len(f))
        out["coverage"] = float(covered.float().mean())
    return out


def precision_recall(fake: torch.Tensor, real: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall with k-NN balls (Kynkaenniemi et al. 2019), on at most PR_REAL_MAX real
    samples (see pr_real_subset). Evaluation scores through pr_scores with the real radii cached
    (ganbench.metrics.reference); this computes everything from the features."""
    subset = pr_real_subset(len(real))
    if subset is not None:
        real = real[subset]
    out = pr_scores(fake, real, knn_radii(real, k), knn_radii(fake, k))
    return out["precision"], out["recall"]


def inception_score(logits: torch.Tensor, splits: int = 10) -> float:
    """exp E_x KL(p(y|x) || p(y)) over `splits` splits (Salimans et al. 2016), on any classifier's logits."""
    return float(_tf().metric_isc.isc_features_to_metric(logits.cpu(), splits=splits, shuffle=True, rng_seed=RNG_SEED)["inception_score_mean"])


DIVERSITY_SAMPLES = 2000


def mean_pairwise_distance(x: torch.Tensor, n: int = DIVERSITY_SAMPLES, seed: int = RNG_SEED) -> float:
    """Mean Euclidean distance between distinct samples of x (flattened), over a fixed-seed subset of n."""
    x = x.flatten(1).double()
    if len(x) > n:
        x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]
    return float(torch.pdist(x).mean()) if len(x) > 1 else 0.0


def diversity_ratio(fake: torch.Tensor, real: torch.Tensor, n: int = DIVERSITY_SAMPLES) -> float:
    """Intra-batch diversity of the generated samples relative to the data: the mean pairwise distance among
    generated samples over that among real ones, in the same feature space. About 1 when the samples are as
    spread as the data; near 0 when they collapse onto a few points."""
    return mean_pairwise_distance(fake, n) / mean_pairwise_distance(real, n)
