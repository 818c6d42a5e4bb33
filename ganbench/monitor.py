"""What training measures along the way: the losses, D's accuracies and the gradient norms of each logged step, and
the top singular values of every weight matrix (at initialisation and at each logged step); with `--tensorboard DIR`
they go to live curves as well. The verdict that reads these back from a run's files is health.py's."""
from __future__ import annotations

import math
import time
from pathlib import Path
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

import torch
from torch import nn

from ganbench.errors import ConfigError
from ganbench.tricks.base import WEIGHT_LAYERS

if TYPE_CHECKING:
    from ganbench.build import Setup
    from ganbench.checkpoint import Logs

HISTORY_FIELDS = ["step", "loss_d", "loss_g", "penalty_d", "d_acc_real", "d_acc_fake", "grad_norm_d", "grad_norm_g",
                  "sigma0_d", "sigma0_g", "wall_time"]
SPECTRA_FIELDS = ["step", "net", "layer", "s0", "s1", "s2"]


def grad_norm(params: Iterable[nn.Parameter]) -> torch.Tensor:
    """The global L2 norm of the gradients of `params` (0 when none has a gradient); no host synchronisation."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


@contextmanager
def _frozen_parametrizations(layer: nn.Module) -> Iterator[None]:
    """Read a parametrized weight (spectral norm) without running its power iteration: the parametrizations in
    eval mode use their stored vectors and change no state."""
    params = getattr(layer, "parametrizations", None)
    mods = [m for plist in params.values() for m in plist] if params is not None else []
    modes = [m.training for m in mods]
    for m in mods:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(mods, modes):
            m.train(mode)


def weight_matrix(layer: nn.Module) -> torch.Tensor:
    """The layer's (effective) weight as outputs x inputs."""
    with _frozen_parametrizations(layer):
        w = layer.weight.detach()
    if isinstance(layer, nn.ConvTranspose2d):
        w = w.transpose(0, 1)
    return w.flatten(1).float()


EXACT_SPECTRUM_MAX = 1 << 22  # matrices up to this many entries get exact singular values (svdvals)


def top_singular_values(w: torch.Tensor, k: int) -> torch.Tensor:
    """The k largest singular values of w: exact for small matrices; for large ones (Lucic et al.'s InfoGAN dense
    layer at 64x64 is 32768 x 1024, whose full SVD costs seconds) randomized subspace iteration (Halko et al. 2011)
    with oversampling and 6 power iterations, accurate to about 1e-4 for the leading values, on the matrix's
    device and without touching the global random streams."""
    if w.numel() <= EXACT_SPECTRUM_MAX or min(w.shape) <= 4 * k:
        return torch.linalg.svdvals(w.cpu())
    with torch.random.fork_rng(devices=[w.device] if w.device.type == "cuda" else []):
        torch.manual_seed(0)
        _, sv, _ = torch.svd_lowrank(w.float(), q=k + 10, niter=6)
    return sv.cpu()


@torch.no_grad()
def spectra(nets: Mapping[str, nn.Module], k: int = 3) -> list[dict[str, Any]]:
    """The top-k singular values sigma0 >= sigma1 >= ... of every weight matrix, one row per layer (BigGAN watched
    these to find the precursors of collapse); see top_singular_values."""
    rows = []
    for net_name, net in nets.items():
        layers = [(n, m) for n, m in net.named_modules() if isinstance(m, WEIGHT_LAYERS)]
        for name, layer in layers:
            w = weight_matrix(layer).detach()
            sv = top_singular_values(w, k) if torch.isfinite(w).all() else torch.full((k,), math.inf)
            row = {"net": net_name, "layer": name}
            row.update({f"s{i}": float(sv[i]) if i < sv.numel() else math.nan for i in range(k)})
            rows.append(row)
    return rows


def largest_sigma(rows: Sequence[Mapping[str, Any]], net: str) -> float:
    vals = [r["s0"] for r in rows if r["net"] == net]
    return max(vals) if vals else math.nan


def at_init(s: Setup) -> list[dict[str, Any]]:
    """spectra.csv's first rows (step -1): G's and D's spectra at initialisation, what divergence is measured
    against."""
    return [{"step": -1, **r} for r in spectra({"G": s.G, "D": s.D})]


def log(s: Setup, step: int, out: dict[str, torch.Tensor], logs: Logs, t0: float, live: Live | None = None) -> bool:
    """Record a logged step's losses, D accuracies, gradient norms and the networks' top singular values in `logs`
    (and in `live`'s curves); False when one of them is not finite (the run diverged)."""
    row = {k: float(v) for k, v in out.items()}
    layers = spectra({"G": s.G, "D": s.D})
    row.update(sigma0_d=largest_sigma(layers, "D"), sigma0_g=largest_sigma(layers, "G"))
    logs.spectra += [{"step": step, **r} for r in layers]
    logs.history.append({"step": step, **row, "wall_time": time.perf_counter() - t0})
    if live is not None:
        live.scalars("train", step, row)
    return all(math.isfinite(v) for v in row.values())


def summary_writer() -> type:
    """torch.utils.tensorboard's SummaryWriter, or one ConfigError line when its package is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # optional: only with --tensorboard, and only if installed
    except ImportError:
        raise ConfigError("--tensorboard needs the tensorboard package: pip install tensorboard "
                          "(or leave --tensorboard out: every curve is in the run's history.csv)") from None
    return SummaryWriter


class Live:
    """Live curves for TensorBoard (`--tensorboard DIR`): a run's logged statistics and its quality probes as
    scalars under DIR/<run_id>, written while it trains (a resumed run adds to them). Nothing else reads them: the
    run's files hold the same numbers."""

    def __init__(self, root: str | Path, run_id: str):
        self.writer = summary_writer()(log_dir=str(Path(root) / run_id), flush_secs=10)

    def scalars(self, group: str, step: int, values: Mapping[str, float]) -> None:
        """`values` as the curves group/NAME at `step` (wall_time and step left out: TensorBoard has its own)."""
        for name, value in values.items():
            if name not in ("step", "wall_time"):
                self.writer.add_scalar(f"{group}/{name}", float(value), step)

    def close(self) -> None:
        self.writer.close()
