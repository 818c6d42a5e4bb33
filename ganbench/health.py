"""Training health: the verdict on a finished run (ok, mode-collapse, diverged, stalled) with its step and evidence,
from the signals training recorded (ganbench.monitor: losses, D accuracies, gradient norms, the top singular values
of every weight matrix) and the run's metrics.

The verdict is a pure function of a run's stored files (metrics.json and history.csv), so the leaderboard can
recompute it for runs trained before a detector changed, without training them again."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from ganbench import store

VERDICTS = ("ok", "mode-collapse", "diverged", "stalled")
EXPLAINED = {
    "ok": "trained to the end with finite losses and no sign of collapse, divergence or a stalled G",
    "mode-collapse": "the samples cover at most half of the data's modes and are concentrated: their diversity "
                     "(mean pairwise distance in the metric's feature space) is under half the data's (without "
                     "modes, the diversity alone; without either, the samples reach at most 10% of the real ones "
                     "by coverage or recall); or, whatever the modes counted, the samples are concentrated and reach "
                     "at most 10% of the real ones",
    "diverged": "a loss or sample became non-finite, a loss grew 100-fold, or the largest singular value of a "
                "weight matrix of G or D grew 100-fold over its value at initialisation",
    "stalled": "D won outright: over the last quarter of training D classified >= 99% of real and fake samples "
               "right while G's gradient norm fell below 1% of its peak",
}
DIVERSITY_COLLAPSE = 0.5  # diversity ratio (generated / real mean pairwise distance) below which samples bunch
COVERAGE_COLLAPSE = 0.5  # ... and modes covered / modes of the data at or below which a run has collapsed
COVERAGE_ONLY = 0.25  # runs evaluated before the diversity ratio existed: coverage alone, stricter
# Data sets without modes and without a diversity ratio: the share of real samples the generated ones reach (Naeem
# et al.'s coverage, else the k-NN recall) at or below which the samples have collapsed onto a small part of the
# data. Calibrated on real images against themselves (coverage about 0.97) and one image repeated (about 0.0);
# both statistics shrink when fewer samples are generated than there are real ones, so the bound is low.
SUPPORT_COLLAPSE = 0.1
# Calibration: ring8 planted collapses (all samples nearest one mode) have diversity 0.13-0.18 and cover <= 1 mode;
# runs spread over the ring but off the modes (few modes within 3 std: a quality failure, not a collapse) 0.64-0.95.
# In the digit classifier's feature space blurry early samples bunch as well (0.42 for a 600-step DCGAN covering 7
# of 10 digits), so low diversity alone is not a collapse; a one-digit collapse has 0.06. Bunched samples that also
# reach at most SUPPORT_COLLAPSE of the real ones collapse whatever the classifier counts: runs whose samples are
# noise blobs (WGAN with clipping on MNIST: FID 850, diversity 0.18-0.22, coverage 0.1-0.3%, yet 7-10 "modes")
# are the ones it catches on the committed runs (coverage <= 1.6%); healthy MNIST runs have diversity >= 0.64.
SIGMA_GROWTH = 100.0  # growth of the largest singular value over its value at initialisation: divergence
LOSS_GROWTH = 100.0  # growth of |loss| over max(1, |first logged loss|): divergence
# Calibration (ring8, 1,500 steps): healthy runs grow sigma0 up to 20x (N(0, 0.02) init) and their losses up to
# 68x (the raw Wasserstein loss on digits); Adam at lr 1 grows losses 140x, at lr 10 sigma0 480x.
STALL_ACCURACY = 0.99
STALL_GRAD_SHARE = 0.01
TAIL = 0.25  # the share of logged steps at the end that the stall detector reads


def _column(history: Sequence[Mapping[str, Any]], key: str) -> list[tuple[int, float]]:
    out = []
    for row in history:
        v = row.get(key)
        if v in (None, ""):
            continue
        out.append((int(float(row["step"])), float(v)))
    return out


def metric(record: Mapping[str, Any], name: str) -> tuple[str, float] | None:
    """(column, value) of metric `name` in metrics.json, whatever its feature-space tag."""
    for col, value in record.get("metrics", {}).items():
        if col == name or col.startswith(name + " ["):
            return col, float(value)
    return None


def mode_coverage(record: Mapping[str, Any]) -> tuple[str, float, int] | None:
    """(metric column, modes covered, modes of the data) from metrics.json, when the data set has modes."""
    found = metric(record, "modes")
    n = found and record.get("protocol", {}).get(found[0], {}).get("num_modes")
    return (*found, int(n)) if n else None


def initial_sigma(spectra: Sequence[Mapping[str, Any]], net: str) -> float | None:
    """The largest singular value of `net` at initialisation (the spectra rows logged at step -1)."""
    vals = [float(r["s0"]) for r in spectra if str(r["step"]) == "-1" and r["net"] == net]
    return max(vals) if vals else None


# Raised whenever a detector or one of its thresholds changes: verdicts recorded under another version are
# recomputed from the run's files when a leaderboard is built, those recorded under this one are read as they are.
DETECTORS_VERSION = 3  # 2: coverage/recall judge collapse on data sets without modes; 3: and bunched samples on sets with


def run_verdict(path: Path, record: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The verdict of the run in directory `path`, from its metrics.json (or `record`), history and spectra,
    stamped with the detectors' version."""

    rec = store.read_json(path / store.METRICS) if record is None else record
    return {**verdict(rec, store.read_history(path), store.read_history(path, store.SPECTRA),
                      store.read_history(path, store.QUALITY)), "version": DETECTORS_VERSION}


def current_verdict(path: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """The run's recorded verdict when the current detectors made it, else recomputed (run_verdict)."""
    recorded = record.get("health") or {}
    if recorded.get("version") == DETECTORS_VERSION and "verdict" in recorded:
        return dict(recorded)
    return run_verdict(path, record)


def collapse_onset(probes: Sequence[Mapping[str, Any]], limit: float) -> int | None:
    """The first probe step from which the probe's mode coverage stayed at or below `limit` to the end of the
    run (None when the probes did not count modes, or the last one is above the limit)."""
    counted = [(int(float(r["step"])), float(r["modes"])) for r in probes if r.get("modes") not in (None, "", "nan")]
    onset = None
    for step, modes in counted:
        if modes <= limit:
            onset = step if onset is None else onset
        else:
            onset = None
    return onset


def verdict(record: Mapping[str, Any], history: Sequence[Mapping[str, Any]],
            spectra: Sequence[Mapping[str, Any]] = (), probes: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The run's health: {"verdict", "step", "evidence"}; the first failure found in the order diverged, stalled,
    mode-collapse (a diverged run has no samples to count modes on; a stalled one usually also collapses, and
    the stall is its cause). A collapse is dated by the quality probes' mode counts when they were recorded
    (the first probe from which coverage stayed collapsed), else at the last logged step."""
    steps = [int(float(r["step"])) for r in history]
    last = steps[-1] if steps else None
    if record.get("diverged_at") is not None:
        return {"verdict": "diverged", "step": int(record["diverged_at"]),
                "evidence": f"non-finite loss or samples at step {record['diverged_at']}"}
    found = []  # (step, evidence) of every explosion; the earliest is reported
    for net in ("d", "g"):
        sig = _column(history, f"sigma0_{net}")
        ref = initial_sigma(spectra, net.upper())
        if ref is None and len(sig) >= 2:  # runs logged before the initial spectra were: the first logged value
            ref = sig[0][1]
        if ref:
            hit = next(((st, v) for st, v in sig if not math.isfinite(v) or v > SIGMA_GROWTH * ref), None)
            if hit:
                found.append((hit[0], f"the largest singular value of {net.upper()} grew from {ref:.3g} at "
                                      f"initialisation to {hit[1]:.3g} by step {hit[0]}"))
    for key in ("loss_d", "loss_g"):
        col = _column(history, key)
        if col:
            ref = max(1.0, abs(col[0][1]))
            hit = next(((st, v) for st, v in col if abs(v) > LOSS_GROWTH * ref), None)
            if hit:
                found.append((hit[0], f"{key} reached {hit[1]:.3g} at step {hit[0]} (first logged: {col[0][1]:.3g})"))
    if found:
        step, evidence = min(found)
        return {"verdict": "diverged", "step": step, "evidence": evidence}
    acc_r, acc_f, g_norm = (_column(history, k) for k in ("d_acc_real", "d_acc_fake", "grad_norm_g"))
    if acc_r and acc_f and len(g_norm) >= 4:
        start = steps[int(len(steps) * (1 - TAIL))]
        tail = [v for at, v in acc_r if at >= start], [v for at, v in acc_f if at >= start]
        g_tail = [v for at, v in g_norm if at >= start]
        peak = max(v for _, v in g_norm)
        if (min(sum(tail[0]) / len(tail[0]), sum(tail[1]) / len(tail[1])) >= STALL_ACCURACY
                and peak > 0 and max(g_tail) < STALL_GRAD_SHARE * peak):
            return {"verdict": "stalled", "step": start,
                    "evidence": f"from step {start} D classified >= {STALL_ACCURACY:.0%} of real and fake right and "
                                f"G's gradient norm stayed below {max(g_tail):.3g} ({STALL_GRAD_SHARE:.0%} of its "
                                f"peak {peak:.3g})"}
    return collapse(record, last, probes) or {"verdict": "ok", "step": None, "evidence": ""}


def collapse(record: Mapping[str, Any], last: int | None, probes: Sequence[Mapping[str, Any]] = ()) -> dict | None:
    """The mode-collapse verdict of a run that neither diverged nor stalled, or None: few modes covered by bunched
    samples; without modes, bunched samples (or, without a diversity ratio either, samples that reach at most
    SUPPORT_COLLAPSE of the real ones); or, whatever the modes counted, bunched samples that reach that little."""
    cov, div = mode_coverage(record), metric(record, "diversity")
    few = cov is not None and cov[1] <= (COVERAGE_COLLAPSE if div is not None else COVERAGE_ONLY) * cov[2]
    bunched = div is not None and div[1] < DIVERSITY_COLLAPSE
    if (few or cov is None) and (bunched or div is None) and (cov is not None or div is not None):
        parts = ([f"the samples cover {cov[1]:.0f} of {cov[2]} modes ({cov[0]})"] if cov else []) + (
            [f"their diversity is {div[1]:.2f} of the data's ({div[0]})"] if div else ["no diversity measured"])
        onset = collapse_onset(probes, COVERAGE_COLLAPSE * cov[2]) if cov else None
        if onset is not None:
            parts.append(f"the quality probes covered at most {COVERAGE_COLLAPSE:.0%} of the modes from step {onset} on")
        return {"verdict": "mode-collapse", "step": last if onset is None else onset, "evidence": "; ".join(parts)}
    support = metric(record, "coverage") or metric(record, "recall")
    if cov is None and div is None and support is not None and support[1] <= SUPPORT_COLLAPSE:
        return {"verdict": "mode-collapse", "step": last,
                "evidence": f"the samples reach {support[1]:.0%} of the real samples ({support[0]}; "
                            f"at most {SUPPORT_COLLAPSE:.0%} counts as collapsed: a data set without modes)"}
    if bunched and support is not None and support[1] <= SUPPORT_COLLAPSE:  # a classifier counts modes on any noise
        return {"verdict": "mode-collapse", "step": last,
                "evidence": f"their diversity is {div[1]:.2f} of the data's ({div[0]}) and they reach "
                            f"{support[1]:.1%} of the real samples ({support[0]}), whatever the modes counted"}
    return None
