"""Batched seeds (`bench --batch-seeds`, ganbench.batched and ganbench.stacked): stacked networks compute what each
network computes, Adam over stacked parameters is K Adams, a batched group is deterministic and resumes exactly,
its metrics agree statistically with unbatched runs, its run directories are ordinary ones, and cells outside the
scope train seed by seed, said once."""
import csv
import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from ganbench import api, batched, stacked, store
from ganbench.build import build
from ganbench.execute import execute
from ganbench.execution import ExecOptions
from ganbench.models import build_models
from ganbench import step
from ganbench.data.base import BatchSampler, resident
from ganbench.optim import adam, rmsprop
from ganbench.spec import build_spec
from ganbench.stats import mann_whitney
from ganbench.step import step_seed
from helpers import gb_here, tiny_suite

ARCH = {"g_hidden": 32, "g_layers": 2, "d_hidden": 32, "d_layers": 2, "d_act": "lrelu", "init": "torch"}
OPTS = ExecOptions(progress=False, batch_seeds=True)


def ring8(seed, **fields):
    return build_spec({"dataset": "ring8", "loss": "ns", "seed": seed, "steps": 40, "batch_size": 32,
                       "log_every": 10, "eval_samples": 300, "quality_every": 20, "quality_samples": 200,
                       "arch_options": ARCH, **fields})


def history(path):
    with open(path / store.HISTORY) as f:
        return [{k: v for k, v in row.items() if k != "wall_time"} for row in csv.DictReader(f)]


# ---------------------------------------------------------------- stacked networks and Adam

@pytest.mark.parametrize("options", [
    {"g_hidden": 24, "g_layers": 2, "d_hidden": 16, "d_layers": 2},  # PacGAN's: G with batch norm, D maxout
    {**ARCH, "g_act": "tanh", "g_bn": False}])
def test_stacked_networks_compute_what_each_network_computes(options):
    nets = []
    for seed in range(3):
        torch.manual_seed(seed)
        nets.append(build_models("mlp", (2,), 2, options))
    G, D = stacked.stack([g for g, _ in nets]), stacked.stack([d for _, d in nets])
    z, x = torch.randn(3, 50, 2), torch.randn(3, 40, 2)
    for train in (True, False):  # batch statistics and running averages updated; then the running averages used
        for net in (G, D, *[m for pair in nets for m in pair]):
            net.train(train)
        out_g, out_d = G(z), D(x)
        for k, (g, d) in enumerate(nets):
            torch.testing.assert_close(out_g[k], g(z[k]), rtol=1e-6, atol=1e-6)
            torch.testing.assert_close(out_d[k], d(x[k]), rtol=1e-6, atol=1e-6)
    copies = [build_models("mlp", (2,), 2, options)[0] for _ in range(3)]
    G.copy_to(copies)
    for (g, _), c in zip(nets, copies):  # the running statistics too: what evaluation reads
        for a, b in zip(g.state_dict().values(), c.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_parts_without_a_stacked_form_are_refused_with_their_reason():
    torch.manual_seed(0)
    sn = nn.utils.parametrizations.spectral_norm(nn.Linear(2, 3))
    with pytest.raises(stacked.Unstackable, match="parametrized"):
        stacked.stack([nn.Sequential(sn), nn.Sequential(sn)])
    with pytest.raises(stacked.Unstackable, match="Conv2d"):
        stacked.stack([nn.Sequential(nn.Conv2d(1, 1, 3))] * 2)
    with pytest.raises(stacked.Unstackable, match="SGD"):
        stacked.stacked_optimizer(torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), stacked.stack([nn.Linear(2, 2)]))


@pytest.mark.parametrize("make, moment", [(lambda ps: adam(ps, 1e-3, 0.5, 0.999), "exp_avg_sq"),
                                          (lambda ps: rmsprop(ps, 5e-5, 0.5, 0.999), "square_avg")])
def test_adam_and_rmsprop_on_stacked_parameters_are_k_separate_ones_bit_for_bit(make, moment):
    """Adam and RMSprop are elementwise: the stacked update is each network's own, to the last bit (ganbench's
    fused Adam, its foreach RMSprop of WGAN)."""
    k, shapes = 4, [(128, 128), (128,), (37, 13), (1,)]  # 37 x 13: a length that leaves a tail past the vector width
    torch.manual_seed(0)
    params = [[nn.Parameter(torch.randn(s)) for s in shapes] for _ in range(k)]
    ref = [[nn.Parameter(p.detach().clone()) for p in ps] for ps in params]
    opts = [make(ps) for ps in ref]
    net = nn.Module()
    net.params = nn.ParameterList([nn.Parameter(torch.stack([ps[i].detach() for ps in params])) for i in range(4)])
    opt = type(opts[0])(net.params.parameters(), **opts[0].defaults)
    for _ in range(5):
        grads = [[torch.randn(s) for s in shapes] for _ in range(k)]
        for ps, gs, o in zip(ref, grads, opts):
            for p, g in zip(ps, gs):
                p.grad = g
            o.step()
        for i, p in enumerate(net.params):
            p.grad = torch.stack([gs[i] for gs in grads])
        opt.step()
    for i, p in enumerate(net.params):
        for j in range(k):
            assert torch.equal(p[j], ref[j][i]), f"parameter {i} of network {j} differs"
    stacked.copy_optimizer_state(opt, opts)  # and the state copied back is each Adam's own
    for i, p in enumerate(net.params):
        for j, o in enumerate(opts):
            assert torch.equal(o.state[ref[j][i]][moment], opt.state[p][moment][j])


@pytest.mark.parametrize("preset", ["wgan", "wgan-gp"])
def test_the_wgan_presets_stacked_step_is_each_seeds_own_step(preset):
    """WGAN's clipping and RMSprop, WGAN-GP's gradient penalty (its interpolation weights from each seed's own
    stream, where the unbatched step draws them) and their 5 D steps: three batched steps leave every seed's
    networks where three unbatched steps do (float rounding only), with the same per-seed penalty."""
    specs = [ring8(s, loss=preset, steps=3, log_every=1) for s in range(2)]
    runs = [build(spec) for spec in specs]
    group = batched.assemble(runs, [0, 0])
    hooks = [type(t).__name__ for t, _ in group.hooks]
    assert hooks == (["WeightClipping"] if preset == "wgan" else ["GradientPenalty"])
    alone = [build(spec) for spec in specs]
    samplers = [BatchSampler(resident(s.data.x, s.device), s.batch_size, s.spec.seed) for s in alone]
    for i in range(3):
        out = batched.gan_step(group, i)
        for k, (s, sampler) in enumerate(zip(alone, samplers)):
            ref = step.run(s, sampler, i, step.gan_step)
            for name in ("loss_d", "penalty_d", "loss_g"):
                torch.testing.assert_close(out[name][k], ref[name], rtol=1e-4, atol=1e-6)
    assert (out["penalty_d"] > 0).all() if preset == "wgan-gp" else (out["penalty_d"] == 0).all()
    for k, s in enumerate(alone):
        for a, b in zip(group.D.params, s.D.parameters()):
            torch.testing.assert_close(a[k], b, rtol=1e-4, atol=1e-6)
        for a, b in zip(group.G.params, s.G.parameters()):
            torch.testing.assert_close(a[k], b, rtol=1e-4, atol=1e-6)
    if preset == "wgan":
        assert max(p.abs().max().item() for p in group.D.params) <= 0.01


def test_a_group_across_data_sets_steps_each_run_on_its_own_data():
    """ring8 and grid25 cells of the same spec share one stacked model (points in the plane both): three batched
    steps leave each run's networks where three steps of that run alone, on its own data set, do."""
    specs = [ring8(0, steps=3, log_every=1), ring8(0, steps=3, log_every=1, dataset="grid25"),
             ring8(1, steps=3, log_every=1, dataset="grid25")]
    group = batched.assemble([build(spec) for spec in specs], [0, 0, 0])
    assert group.samplers[0].data is not group.samplers[1].data and group.samplers[1].data is group.samplers[2].data
    alone = [build(spec) for spec in specs]
    samplers = [BatchSampler(resident(s.data.x, s.device), s.batch_size, s.spec.seed) for s in alone]
    for i in range(3):
        out = batched.gan_step(group, i)
        for k, (s, sampler) in enumerate(zip(alone, samplers)):
            torch.testing.assert_close(out["loss_d"][k], step.run(s, sampler, i, step.gan_step)["loss_d"], rtol=1e-4,
                                       atol=1e-6)
    for k, s in enumerate(alone):
        for a, b in zip([*group.G.params, *group.D.params], [*s.G.parameters(), *s.D.parameters()]):
            torch.testing.assert_close(a[k], b, rtol=1e-4, atol=1e-6)


def test_plan_stacks_the_cells_that_differ_only_in_data_sets_of_one_shape():
    jobs = [(ring8(s, dataset=d), f"{d}{s}") for d in ("grid25", "ring8") for s in range(2)]
    jobs += [(ring8(0, loss="hinge"), "h0"), (ring8(1, loss="hinge", dataset="grid25"), "h1")]
    groups, lines = batched.plan(jobs, OPTS)
    assert [[p for _, p in g] for g in groups] == [["grid250", "grid251", "ring80", "ring81"], ["h1", "h0"]]
    assert lines == ["batch-seeds: 4 cell(s) train their seeds as one stacked model (K = 2, 4; 4 of them in 2 "
                     "model(s) shared across data sets of one sample shape)"]
    digits = build_spec({"dataset": "digits", "loss": "ns", "arch": "mlp", "steps": 40})  # 8x8 images: not stacked
    groups, _ = batched.plan([(digits, "d0"), (dataclasses.replace(digits, seed=1), "d1"),  # with points
                              (ring8(0, steps=40, arch_options=digits.arch_options), "r0")], OPTS)
    assert sorted([p for _, p in g] for g in groups) == [["d0", "d1"], ["r0"]]


def test_a_group_starts_from_each_seeds_own_initialisation_and_latents():
    """Step 0 of a batched seed is the unbatched seed's step 0 (same init, data and latents; float rounding only)."""
    specs = [ring8(s, steps=1, quality_every=0) for s in range(2)]
    runs = [build(spec) for spec in specs]
    group = batched.assemble(runs, [0, 0])
    for k, spec in enumerate(specs):
        for a, b in zip(group.G.params, build(spec).G.parameters()):
            assert torch.equal(a[k], b)
    for gen, spec in zip(group.generators, specs):
        gen.manual_seed(step_seed(spec.seed, 0))
    z = batched.latents(group)
    for k, spec in enumerate(specs):
        torch.manual_seed(step_seed(spec.seed, 0))
        assert torch.equal(z[k], torch.randn(spec.batch_size, spec.z_dim))


# ---------------------------------------------------------------- groups: determinism, resume, statistics

def test_a_batched_group_is_deterministic_and_resumes_exactly(tmp_path):
    specs = [ring8(s) for s in range(3)]
    first = batched.execute_group([(s, tmp_path / "a" / s.run_id) for s in specs], OPTS)
    again = batched.execute_group([(s, tmp_path / "b" / s.run_id) for s in specs], OPTS)
    stopped = [(s, tmp_path / "c" / s.run_id) for s in specs]
    assert batched.execute_group(stopped, dataclasses.replace(OPTS, stop_after=25, ckpt_every=10)) == [None] * 3
    resumed = batched.execute_group(stopped, dataclasses.replace(OPTS, ckpt_every=10))
    for a, b, c, spec in zip(first, again, resumed, specs):
        assert a["metrics"] == b["metrics"] == c["metrics"]
        assert history(tmp_path / "a" / spec.run_id) == history(tmp_path / "b" / spec.run_id)
        assert history(tmp_path / "a" / spec.run_id) == history(tmp_path / "c" / spec.run_id)
        assert a["cost"]["execution"]["batch_seeds"] == {"k": 3, "seeds": [0, 1, 2]}
    assert len({a["metrics"]["fd [coords]"] for a in first}) == 3  # the seeds are different runs


def test_a_diverging_seed_stops_alone_and_touches_no_other_seed(tmp_path, monkeypatch):
    """Seed 1's weights made non-finite after step 15: it is recorded as diverged at the next logged step (20), as
    an unbatched run would be, and seed 0 ends with exactly the numbers of a group where nothing diverged."""
    specs = [ring8(s) for s in range(2)]
    clean = batched.execute_group([(s, tmp_path / "clean" / s.run_id) for s in specs], OPTS)
    step = batched.gan_step

    def poisoned(g, i):
        out = step(g, i)
        if i == 15:
            with torch.no_grad():
                g.G.params[0][1].fill_(float("nan"))
        return out

    monkeypatch.setattr(batched, "gan_step", poisoned)
    hit = batched.execute_group([(s, tmp_path / "hit" / s.run_id) for s in specs], OPTS)
    assert hit[0]["metrics"] == clean[0]["metrics"] and hit[0]["diverged_at"] is None
    assert hit[1]["diverged_at"] == 20 and hit[1]["metrics"] == {}
    assert history(tmp_path / "hit" / specs[0].run_id) == history(tmp_path / "clean" / specs[0].run_id)


@pytest.mark.slow(seconds=42)
def test_batched_metrics_agree_with_unbatched_runs_statistically(tmp_path):
    """10 seeds on ring8, batched vs one by one: a Mann-Whitney test on the main metric (modes) and on the Frechet
    distance does not reject at alpha = 0.05. 400 steps: the seeds' metrics differ (modes from 0 to 7)."""
    specs = [ring8(s, steps=400, batch_size=64, lr_g=2e-3, lr_d=2e-3, log_every=100, eval_samples=1000,
                   quality_every=0) for s in range(10)]
    together = batched.execute_group([(s, tmp_path / "b" / s.run_id) for s in specs], OPTS)
    alone = [execute(s, tmp_path / "u" / s.run_id, ExecOptions(progress=False)) for s in specs]
    for metric in ("modes", "fd [coords]"):
        a = np.array([r["metrics"][metric] for r in together])
        b = np.array([r["metrics"][metric] for r in alone])
        assert np.ptp(b) > 0, f"{metric} does not vary across seeds: the test would be vacuous"
        p = mann_whitney([a], [b])[0]
        assert p > 0.05, f"{metric}: batched {a} vs unbatched {b}, Mann-Whitney p = {p:.3f}"


# ---------------------------------------------------------------- the suite command

def test_batched_cells_are_ordinary_runs_and_other_cells_train_seed_by_seed(tmp_path):
    suite = tiny_suite(tmp_path)
    suite.write_text(suite.read_text().replace("loss: [ns, hinge]", "loss: [wgan-gp]\n  tricks: [[], [ema]]"))
    out = gb_here("bench", str(suite), "--results", str(tmp_path / "res"), "--seeds", "3", "--batch-seeds")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "batch-seeds: 1 cell(s) train their seeds as one stacked model (K = 3)" in out.stdout
    assert out.stdout.count("train seed by seed") == 1
    assert "batch-seeds: 1 cell(s) train seed by seed: trick ema acts in every step (after_g_step," in out.stdout
    res = api.load_results(suite, tmp_path / "res", seeds=3)
    assert len(res) == 6 and set(res["method"]) == {"wgan-gp", "wgan-gp+ema"}
    board = api.leaderboard(suite, tmp_path / "res", seeds=3)
    assert set(board["method"]) == {"wgan-gp", "wgan-gp+ema"}
    records = [store.read_json(p / store.METRICS) for p in (tmp_path / "res" / "tiny" / "runs").iterdir()]
    assert sorted(r["cost"]["execution"].get("batch_seeds", {}).get("k", 1) for r in records) == [1, 1, 1, 3, 3, 3]
    status = gb_here("status", str(suite), "--results", str(tmp_path / "res"), "--seeds", "3")
    assert "6 done" in status.stdout, status.stdout


def test_a_suite_asks_for_batched_seeds_and_the_command_line_overrides(tmp_path):
    """`launch: {batch_seeds: true}` in a suite batches its cells as --batch-seeds does; --no-batch-seeds trains every
    seed alone."""
    suite = tiny_suite(tmp_path)
    suite.write_text(suite.read_text() + "launch:\n  batch_seeds: true\n")
    plan = gb_here("bench", str(suite), "--results", str(tmp_path / "res"), "--seeds", "3", "--dry-run")
    assert "batch-seeds: 2 cell(s) train their seeds as one stacked model (K = 3)" in plan.stdout, plan.stdout
    alone = gb_here("bench", str(suite), "--results", str(tmp_path / "res"), "--seeds", "3", "--dry-run",
                    "--no-batch-seeds")
    assert alone.returncode == 0 and "batch-seeds" not in alone.stdout


def test_scope():
    opts = OPTS
    assert batched.out_of_scope(ring8(0), opts) is None
    assert batched.out_of_scope(ring8(0, tricks=["ttur", "d-steps"]), opts) is None  # build-time tricks only
    assert "r1" in batched.out_of_scope(ring8(0, tricks=["r1"]), opts)
    assert "ema" in batched.out_of_scope(ring8(0, tricks=["ema"]), opts)
    assert "sgd" in batched.out_of_scope(ring8(0, tricks=["sgd-d"]), opts)
    assert batched.out_of_scope(ring8(0, loss="wgan"), opts) is None  # clipping, RMSprop and 5 D steps: stacked
    assert batched.out_of_scope(ring8(0, loss="wgan-gp"), opts) is None  # the gradient penalty: stacked
    assert "dcgan" in batched.out_of_scope(build_spec({"dataset": "digits", "loss": "ns"}), opts)
    assert "bf16" in batched.out_of_scope(ring8(0), dataclasses.replace(opts, amp=True))
    jobs = [(ring8(s), f"a{s}") for s in (2, 0, 1)] + [(ring8(0, loss="hinge"), "h0")] + \
        [(ring8(s, tricks=["r1"]), f"r{s}") for s in range(2)]
    groups, lines = batched.plan(jobs, opts)
    assert [[p for _, p in g] for g in groups] == [["a0", "a1", "a2"], ["h0"], ["r0"], ["r1"]]
    assert lines == ["batch-seeds: 1 cell(s) train their seeds as one stacked model (K = 3)",
                     "batch-seeds: 1 cell(s) train seed by seed: one seed left to train",
                     "batch-seeds: 1 cell(s) train seed by seed: trick r1 acts in every step (d_penalty)"]


def test_slurm_array_tasks_keep_a_cells_seeds_together(tmp_path):
    from ganbench.launch import Launch, packs

    jobs = [(ring8(s, steps=5, quality_every=0), tmp_path / f"ns{s}") for s in range(3)]
    jobs += [(ring8(s, steps=5, quality_every=0, loss="hinge"), tmp_path / f"hinge{s}") for s in range(3)]
    tasks = packs(jobs, Launch(runs_per_task=1), OPTS)
    assert sorted(sorted(p.name for _, p, _ in t.jobs) for t in tasks) == [["hinge0", "hinge1", "hinge2"],
                                                                            ["ns0", "ns1", "ns2"]]
    outcomes = tasks[0]()  # what an array task runs
    assert [o.message for o in outcomes] == ["batched x3"] * 3 and all(o.ok for o in outcomes)
    assert len(packs(jobs, Launch(runs_per_task=1), ExecOptions())) == 6  # without the option: a run per task


def test_the_losses_suite_stacks_the_seeds_of_every_2d_cell():
    """suites/losses.yaml asks for batched seeds: each of its 9 losses trains its 3 seeds on ring8 and its 3 on
    grid25 as one model (K = 6: the 18 2-D cells in 9 models); the 9 digits cells (DCGAN) seed by seed."""
    from ganbench.spec.suite import load_suite

    suite = load_suite("losses")
    assert suite.launch == {"batch_seeds": True}
    groups, lines = batched.plan([(s, s.run_id) for s in suite.expand()], OPTS)
    stacked_groups = [g for g in groups if len(g) > 1]
    losses = suite.grid[0]["loss"]
    assert sorted(g[0][0].method for g in stacked_groups) == sorted(losses)
    assert all([(s.dataset, s.seed) for s, _ in g] == [(d, i) for d in ("grid25", "ring8") for i in range(3)]
               for g in stacked_groups)
    assert lines == ["batch-seeds: 18 cell(s) train their seeds as one stacked model (K = 6; 18 of them in 9 "
                     "model(s) shared across data sets of one sample shape)",
                     "batch-seeds: 9 cell(s) train seed by seed: arch dcgan (only the MLP is stacked)"]
