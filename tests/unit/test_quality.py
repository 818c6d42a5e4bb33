"""The quality probe over training and checkpoint selection on a held-out half of the reference data."""
import math

import pytest
import torch
from torch import nn

from ganbench import quality, store
from ganbench.build import build
from ganbench.execute import execute
from ganbench.spec import build_spec
from ganbench.store import prepare
from ganbench.execution import ExecOptions
from ganbench.checkpoint import improves, restore
from ganbench.step import gan_step
from ganbench.store import load_checkpoint
from ganbench.train import train

OPTS = ExecOptions(progress=False)


def spec_of(tiny_mlp, **kw):
    return build_spec({"dataset": "ring8", "loss": "ns", "steps": 80, "log_every": 10, "eval_samples": 500,
                       "quality_samples": 500, "arch_options": tiny_mlp, **kw})


def test_halves_are_disjoint_and_cover_the_data():
    a, b = quality.halves(11)
    assert len(a) == 5 and len(b) == 6
    assert sorted(torch.cat([a, b]).tolist()) == list(range(11))
    assert torch.equal(quality.halves(11)[0], a)  # fixed seed


def test_selection_picks_the_lowest_distance_to_half_a_and_reports_half_b():
    rows = [{"step": 10, "select": 5.0, "report": 5.2}, {"step": 20, "select": 3.0, "report": 3.4},
            {"step": 30, "select": math.nan, "report": math.nan}, {"step": 40, "select": 3.0, "report": 2.9},
            {"step": 50, "select": 3.5, "report": 3.1}]
    sel = quality.selection(rows)
    assert sel["best"] == {"step": 20, "select": 3.0, "report": 3.4}  # ties keep the earlier probe
    assert sel["final"] == {"step": 50, "select": 3.5, "report": 3.1}
    # choosing on half B itself would have reported its minimum, 2.9: lower by 0.5
    assert sel["flattery"] == pytest.approx(0.5)
    assert quality.selection([{"step": 1, "select": math.nan, "report": math.nan}]) is None
    assert improves(rows[:1], 4.0) and not improves(rows[:2], 3.0) and not improves([], math.nan)


class FixedSampler(nn.Module):
    """A 'generator' that maps its latent to points of a fixed sample set (or to one point)."""

    def __init__(self, points: torch.Tensor):
        super().__init__()
        self.register_buffer("points", points)

    def forward(self, z):
        idx = (z[:, 0].abs() * 1e6).long() % len(self.points)
        return self.points[idx]


def test_probe_scores_the_data_distribution_near_zero_and_a_collapse_far(tiny_mlp):
    s = build(spec_of(tiny_mlp, quality_samples=4000))
    s.G = FixedSampler(s.data.x[torch.randperm(len(s.data.x), generator=torch.Generator().manual_seed(1))[:20000]])
    good, points = quality.probe(s)
    assert points.shape == (quality.KEPT_POINTS, 2)  # 2-D data: the probe's points are kept for figures
    s.G = FixedSampler(s.data.info["centres"][:1].float())  # every sample on one mode
    bad, _ = quality.probe(s)
    assert max(good["select"], good["report"]) < 0.02 and min(bad["select"], bad["report"]) > 1.0, (good, bad)
    assert good["modes"] == 8 and bad["modes"] == 1
    s.G = FixedSampler(torch.full((1, 2), math.nan))
    assert all(math.isnan(v) for v in quality.probe(s)[0].values())


@pytest.mark.parametrize("tricks", [[], ["ema", "sn", "instance-noise"]])
def test_probing_never_changes_the_trained_numbers(tmp_path, tiny_mlp, tricks):
    plain = spec_of(tiny_mlp, tricks=tricks, quality_every=0)
    probed = spec_of(tiny_mlp, tricks=tricks, quality_every=10)
    assert plain.run_id == probed.run_id  # an observation setting: not part of the run's identity
    a = execute(plain, tmp_path / "a", OPTS)
    b = execute(probed, tmp_path / "b", OPTS)
    assert a["metrics"] == b["metrics"]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]  # noqa: E731
    assert strip(store.read_history(tmp_path / "a")) == strip(store.read_history(tmp_path / "b"))
    wa, wb = (load_checkpoint(tmp_path / x)["G"] for x in "ab")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not (tmp_path / "a" / store.QUALITY).exists() and a["checkpoints"]["selection"] is None
    rows = store.read_history(tmp_path / "b", store.QUALITY)
    assert [int(r["step"]) for r in rows] == list(range(10, 81, 10))
    kept = store.load_torch(tmp_path / "b" / store.PROBE_POINTS)  # the points of every probe, for the figure
    assert kept["step"].tolist() == list(range(10, 81, 10)) and kept["points"].shape[0] == 8


def test_best_checkpoint_is_the_selected_probe_and_reproduces_it(tmp_path, tiny_mlp):
    spec = spec_of(tiny_mlp, quality_every=10, lr_g=3e-3, lr_d=3e-3)
    rec = execute(spec, tmp_path / "r", OPTS)
    sel = rec["checkpoints"]["selection"]
    rows = store.read_history(tmp_path / "r", store.QUALITY)
    assert sel["best"]["select"] == min(float(r["select"]) for r in rows)
    assert sel["final"]["step"] == 80 and sel["protocol"]["report"].startswith("half B")
    state = store.load_torch(tmp_path / "r" / store.BEST)
    assert state["step"] == sel["best"]["step"]
    s = build(spec)
    restore(s, state)
    again, _ = quality.probe(s)  # the kept weights are the chosen ones
    assert (again["select"], again["report"]) == (sel["best"]["select"], sel["best"]["report"])


def test_killed_run_resumes_to_the_same_curve_and_best_checkpoint(tmp_path, tiny_mlp):
    spec = spec_of(tiny_mlp, quality_every=10, lr_g=3e-3, lr_d=3e-3)
    execute(spec, tmp_path / "clean", OPTS)
    assert execute(spec, tmp_path / "killed", ExecOptions(progress=False, ckpt_every=20, stop_after=45)) is None
    execute(spec, tmp_path / "killed", ExecOptions(progress=False, ckpt_every=20))
    strip = lambda p: [{k: v for k, v in r.items() if k != "wall_time"} for r in store.read_history(p, store.QUALITY)]  # noqa: E731
    assert strip(tmp_path / "clean") == strip(tmp_path / "killed")
    a, b = (store.load_torch(tmp_path / x / store.BEST) for x in ("clean", "killed"))
    assert a["step"] == b["step"] and all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
    pa, pb = (store.load_torch(tmp_path / x / store.PROBE_POINTS) for x in ("clean", "killed"))
    assert torch.equal(pa["step"], pb["step"]) and torch.equal(pa["points"], pb["points"])


def test_diverged_run_keeps_its_last_good_checkpoints(tmp_path, tiny_mlp):
    """A planted blow-up (G's weights turn NaN after 33 updates): training stops at the next logged step, the last
    checkpoint and the best one predate it, and the best one is a finite generator."""
    spec = spec_of(tiny_mlp, quality_every=5)
    s = build(spec)

    def poisoned(s, sampler, progress):
        out = gan_step(s, sampler, progress)
        if progress * spec.steps >= 32:
            with torch.no_grad():
                next(s.G.parameters()).fill_(math.nan)
        return out

    assert train(s, tmp_path, ExecOptions(progress=False, ckpt_every=20), step_fn=poisoned)
    assert s.diverged_at == 39  # caught at the next checkpoint (after 40 updates), which is not written
    assert load_checkpoint(tmp_path)["step"] == 20
    rows = store.read_history(tmp_path, store.QUALITY)
    assert [r["step"] for r in rows] == [str(k) for k in range(5, 41, 5)] and rows[-1]["select"] == "nan"
    best = store.load_torch(tmp_path / store.BEST)
    assert best["step"] <= 30 and all(torch.isfinite(v).all() for v in best["G"].values() if v.is_floating_point())
    assert quality.selection(rows)["best"]["step"] == best["step"]


def test_a_started_run_keeps_its_observation_settings(tmp_path, tiny_mlp):
    first = spec_of(tiny_mlp, quality_every=10)
    assert prepare(tmp_path, first) == first
    later = spec_of(tiny_mlp, quality_every=40)
    assert prepare(tmp_path, later) == first  # the directory's settings win; the trained numbers are the same
    with pytest.raises(store.ResultsError):
        prepare(tmp_path, spec_of(tiny_mlp, seed=3))


def test_quality_every_defaults_to_a_tenth_of_the_steps_and_is_validated(tiny_mlp):
    assert spec_of(tiny_mlp).quality_every == 8
    assert spec_of(tiny_mlp, steps=5).quality_every == 1
    with pytest.raises(Exception, match="quality_every"):
        spec_of(tiny_mlp, quality_every=-1)
