"""The seeds of one cell trained as one stacked model (`ganbench bench --batch-seeds`, ExecOptions.batch_seeds).

Each seed is built as an ordinary run (its own initialisation from its seed), then the K seeds' networks are stacked
(ganbench.stacked) and trained together: one batched matrix product where K small ones were, one Adam over the
stacked parameters (Adam is elementwise: exactly K Adams). Each seed keeps its own data order (its own
BatchSampler) and its own latents (a torch.Generator per seed, seeded each step from step_seed(seed, step) and drawn
in the unbatched order, so the latents are the unbatched run's own); only float rounding differs from training the
seeds one by one, and a batched run is deterministic for a fixed group. Each seed keeps an ordinary run directory:
its networks and optimizers are copied back from the stack whenever something reads them (logged steps, probes,
checkpoints, the final evaluation), so history.csv, the checkpoints (resumable batched or not) and metrics.json are
an ordinary run's; metrics.json's cost.execution.batch_seeds records the group (K, its seeds and data sets).
Cells that differ only in their data set, on data of the same sample shape (ring8 and grid25: points in the plane),
share one stacked model: each seed draws its batches from its own data set, so a group of 2 cells x 3 seeds is
K = 6, where the stacking pays more than at K = 3 (the step's cost is mostly per operation, not per seed).

Scope: MLP G and D (the layers ganbench.stacked knows), any loss of the registry, Adam or RMSprop, tricks that act
when the run is built, and the per-step tricks with a stacked form here (STACKED_HOOKS: WGAN-GP's gradient penalty
and WGAN's weight clipping, so both WGAN presets); no other penalty, input transform, latent trick, average or
state. The bf16 and compile fast paths stay per seed. Other cells train seed by seed, said once in the log
(`plan`)."""
from __future__ import annotations

import contextlib
import functools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from ganbench import checkpoint, memory, monitor, progress, quality, store
from ganbench.build import Setup, build
from ganbench.data.base import BatchSampler, get_dataset, resident
from ganbench.execute import finish
from ganbench.execution import ExecOptions
from ganbench.losses import d_accuracy
from ganbench.optim import OptimSettings
from ganbench.spec import RunSpec
from ganbench.stacked import (StackedNet, Unstackable, copy_optimizer_state, load_optimizer_state, stack,
                              stacked_optimizer)
from ganbench.step import step_seed, to_device
from ganbench.train import bookkeep
from ganbench.tricks.base import Trick, compose
from ganbench.tricks.penalties import GradientPenalty, WeightClipping

MAX_SEEDS = 64  # seeds stacked in one group at most (a cell with more trains in several groups)
PER_STEP_HOOKS = ("latent", "latent_codes", "fake_labels", "d_inputs", "d_targets", "d_penalty", "after_d_step",
                  "g_context", "g_objective", "g_penalty", "after_g_step", "eval_generator", "sampling_curve",
                  "sampling_setting", "state_dict", "load_state_dict")
Job = tuple[RunSpec, Path]


# ---------------------------------------------------------------- which cells, in which groups

def unstacked_hooks(t: Trick) -> list[str]:
    """The per-step hooks trick `t` overrides that have no stacked form (STACKED_HOOKS)."""
    mine = STACKED_HOOKS.get(type(t), {})
    return [h for h in PER_STEP_HOOKS if getattr(type(t), h) is not getattr(Trick, h) and h not in mine]


def out_of_scope(spec: RunSpec, opts: ExecOptions) -> str | None:
    """Why `spec`'s seeds cannot train as one stacked model (None: they can), in a few words."""
    if opts.amp or opts.compile:
        return "the bf16 / compile fast path runs per seed"
    if spec.arch != "mlp":
        return f"arch {spec.arch} (only the MLP is stacked)"
    if spec.arch_options.get("vbn") or spec.arch_options.get("d_dropout"):
        return "virtual batch norm or dropout in the MLP"
    tricks = compose(spec.tricks)
    for t in tricks.tricks:
        hooks = unstacked_hooks(t)
        if hooks or t.simultaneous or t.needs_labels:
            return f"trick {t.name} acts in every step ({', '.join(hooks) or 'simultaneous or labelled'})"
    settings = tricks.configure_optim(OptimSettings(spec.optimizer, spec.lr_g, spec.lr_d, spec.beta1, spec.beta2))
    if not {settings.optimizer, settings.optimizer_d or settings.optimizer} <= {"adam", "rmsprop"}:
        return (f"optimizer {settings.optimizer}/{settings.optimizer_d or settings.optimizer} (only Adam and "
                "RMSprop are stacked)")
    return None


def cell_key(spec: RunSpec) -> str:
    """A cell's identity: its spec without the seed."""
    return json.dumps({k: v for k, v in spec.to_json().items() if k != "seed"}, sort_keys=True, default=str)


def stack_key(spec: RunSpec) -> str:
    """The runs that can share one stacked model: the same spec but the seed and the data set, on data of the same
    sample shape (the data set is loaded once per process, as building the spec did)."""
    rest = {k: v for k, v in spec.to_json().items() if k not in ("seed", "dataset")}
    return json.dumps([list(get_dataset(spec.dataset).sample_shape), rest], sort_keys=True, default=str)


def plan(jobs: Sequence[Job], opts: ExecOptions) -> tuple[list[list[Job]], list[str]]:
    """The jobs in groups, each group in (data set, seed) order: the pending seeds of the cells in scope that differ
    only in their data set (of one sample shape) together, at most MAX_SEEDS to a group; every other job alone; and
    the lines that say so, once per reason a cell trains seed by seed."""
    cells: dict[str, list[Job]] = {}
    for job in jobs:
        cells.setdefault(cell_key(job[0]), []).append(job)
    reasons: dict[str, int] = {}
    # (stackable, stack key or the cell's own key) -> its cells, in the jobs' order
    units: dict[tuple[bool, str], list[list[Job]]] = {}
    for key, cell in cells.items():
        cell.sort(key=lambda j: j[0].seed)
        why = out_of_scope(cell[0][0], opts)
        if why is None:
            units.setdefault((True, stack_key(cell[0][0])), []).append(cell)
            continue
        reasons[why] = reasons.get(why, 0) + 1
        units[(False, key)] = [cell]
    groups: list[list[Job]] = []
    batched = []
    for (stackable, _), unit in units.items():
        together = sorted((job for cell in unit for job in cell), key=lambda j: (j[0].dataset, j[0].seed))
        if not stackable or len(together) == 1:
            if stackable:
                reasons["one seed left to train"] = reasons.get("one seed left to train", 0) + 1
            groups += [[job] for job in together]
            continue
        batched.append(len(unit))
        groups += [together[i:i + MAX_SEEDS] for i in range(0, len(together), MAX_SEEDS)]
    return groups, plan_lines(groups, batched, reasons)


def plan_lines(groups: list[list[Job]], batched: list[int], reasons: dict[str, int]) -> list[str]:
    """What `plan` decided, a line per kind: the stacked cells (and how many shared a model across data sets),
    then the cells that train seed by seed, by reason."""
    sizes = sorted({len(g) for g in groups if len(g) > 1})
    shared = sum(n for n in batched if n > 1)
    models = len([n for n in batched if n > 1])
    across = f"; {shared} of them in {models} model(s) shared across data sets of one sample shape" if shared else ""
    lines = [f"batch-seeds: {sum(batched)} cell(s) train their seeds as one stacked model "
             f"(K = {', '.join(map(str, sizes))}{across})"] if batched else []
    return lines + [f"batch-seeds: {n} cell(s) train seed by seed: {why}" for why, n in sorted(reasons.items())]


# ---------------------------------------------------------------- the stacked step

@dataclass
class Group:
    """The K runs of one cell trained as one: their ordinary Setups (each seed's own networks, optimizers and
    state, which checkpoints, probes and evaluation read), the stacked networks and optimizers that train, each
    seed's batch sampler and latent generator."""

    runs: list[Setup]
    G: StackedNet
    D: StackedNet
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    samplers: list[BatchSampler]
    generators: list[torch.Generator] = field(default_factory=list)
    log_step: bool = True
    hooks: list[tuple[Trick, dict[str, Callable]]] = field(default_factory=list)  # the tricks' stacked hooks, in order

    def hook(self, name: str):
        """The stacked form of hook `name` of each trick that has one, bound to its trick, in the tricks' order."""
        return [functools.partial(forms[name], t) for t, forms in self.hooks if name in forms]

    @property
    def first(self) -> Setup:
        return self.runs[0]

    def sync(self, optimizers: bool) -> None:
        """The stacked state copied into each seed's networks (and optimizers), for whatever reads them next."""
        self.G.copy_to([s.G for s in self.runs])
        self.D.copy_to([s.D for s in self.runs])
        if optimizers:
            copy_optimizer_state(self.opt_g, [s.opt_g for s in self.runs])
            copy_optimizer_state(self.opt_d, [s.opt_d for s in self.runs])


def assemble(runs: list[Setup], drawn: Sequence[int]) -> Group:
    """The stacked networks and optimizers of `runs` (restored or fresh), from their current state; Unstackable
    when a network, an optimizer or a setting has no stacked form."""
    first = runs[0]
    if first.tricks.simultaneous or first.conditional or first.needs_labels:
        raise Unstackable("the run's step is not the plain alternating one")
    for t in first.tricks.tricks:
        if unstacked_hooks(t):
            raise Unstackable(f"trick {t.name} acts in every step ({', '.join(unstacked_hooks(t))})")
    G, D = stack([s.G for s in runs]), stack([s.D for s in runs])
    opt_g, opt_d = stacked_optimizer(first.opt_g, G), stacked_optimizer(first.opt_d, D)
    load_optimizer_state(opt_g, [s.opt_g for s in runs])
    load_optimizer_state(opt_d, [s.opt_d for s in runs])
    data: dict[int, Tensor] = {}  # one copy of each training set, shared by its seeds' samplers
    for s in runs:
        if id(s.data) not in data:  # (not setdefault: it would copy the set to the device for every seed)
            data[id(s.data)] = resident(s.data.x, first.device)
    if len({tuple(x.shape[1:]) for x in data.values()}) > 1:
        raise Unstackable("the data sets' samples differ in shape")
    samplers = [BatchSampler(data[id(s.data)], s.batch_size, s.spec.seed, n) for s, n in zip(runs, drawn)]
    generators = [torch.Generator(device=first.device) for _ in runs]
    hooks = [(t, STACKED_HOOKS[type(t)]) for t in first.tricks.tricks if type(t) in STACKED_HOOKS]
    return Group(runs, G, D, opt_g, opt_d, samplers, generators, hooks=hooks)


def latents(g: Group) -> Tensor:
    """(K, batch, z) latents, each seed's from its own generator, drawn by the run's own latent code."""
    return torch.stack([s.latent(s.batch_size, gen) for s, gen in zip(g.runs, g.generators)])


def reals(g: Group) -> Tensor:
    """(K, batch, ...) real batches, each from its seed's sampler."""
    return torch.stack([to_device(s, sampler.next()) for s, sampler in zip(g.runs, g.samplers)])


def grad_norms(net: StackedNet) -> Tensor:
    """Each seed's global gradient norm over the stacked network's parameters: (K,)."""
    norms = [torch.linalg.vector_norm(p.grad.flatten(1), dim=1) for p in net.params if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms), dim=0) if norms else torch.zeros(len(net.params[0]))


def d_update(g: Group, report: bool) -> tuple[dict[str, Tensor] | None, Tensor]:
    """One D update of every seed (step.d_update without tricks); its statistics, (K,) each, when `report` on a
    logged step (an empty dict on the others)."""
    s = g.first
    real, z = reals(g), latents(g)
    with torch.no_grad():
        fake = g.G(z)
    if s.d_joint:
        out = g.D(torch.cat([real, fake], 1))
        d_real, d_fake = out[:, : real.shape[1]], out[:, real.shape[1] :]
    else:
        d_real, d_fake = g.D(real), g.D(fake)
    loss_d = torch.vmap(s.loss.d_loss)(d_real, d_fake)  # each seed's loss; their sum's gradient is each one's own
    penalty = None
    for term in g.hook("d_penalty"):  # summed in the tricks' order, as TrickStack.d_penalty does
        penalty = term(g, real, fake) if penalty is None else penalty + term(g, real, fake)
    g.opt_d.zero_grad(set_to_none=True)
    (loss_d if penalty is None else loss_d + penalty).sum().backward()
    g.opt_d.step()
    for after in g.hook("after_d_step"):
        after(g)
    if not report:
        return None, real
    if not g.log_step:  # the statistics are read at logged steps only (monitor.log): none computed in between
        return {}, real
    acc_real, acc_fake = torch.vmap(functools.partial(d_accuracy, s.loss))(d_real.detach(), d_fake.detach())
    stats = {"loss_d": loss_d.detach(),
             "penalty_d": penalty.detach() if penalty is not None else torch.zeros_like(loss_d), "d_acc_real": acc_real,
             "d_acc_fake": acc_fake, "grad_norm_d": grad_norms(g.D)}
    return stats, real


# ---------------------------------------------------------------- per-step tricks in stacked form

def gradient_penalty(t: GradientPenalty, g: Group, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP's penalty of every seed, (K,): each seed's interpolation weights drawn from its own generator where
    the unbatched step draws them (after its latents), the norm of its own D's gradient at its interpolates."""
    shape = (real.shape[1], *([1] * (real.dim() - 2)))
    eps = torch.stack([torch.rand(shape, generator=gen, device=real.device, dtype=real.dtype) for gen in g.generators])
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(g.D(x_hat).sum(), x_hat, create_graph=True)  # seeds and samples are independent
    return t.lam * ((grad.flatten(2).norm(2, dim=2) - 1) ** 2).mean(1)


@torch.no_grad()
def clip_weights(t: WeightClipping, g: Group) -> None:
    """WGAN's clipping of every seed's D parameters to [-c, c] (elementwise: each seed's own clipping)."""
    for p in g.D.params:
        p.clamp_(-t.c, t.c)


# the tricks whose per-step hooks have a stacked form: {trick class: {hook: function(trick, group, ...)}}
STACKED_HOOKS: dict[type, dict[str, Callable]] = {
    GradientPenalty: {"d_penalty": gradient_penalty},
    WeightClipping: {"after_d_step": clip_weights},
}


def g_update(g: Group, real: Tensor) -> tuple[Tensor, Tensor | None]:
    """One G update of every seed against its current D (D's parameters frozen): G's losses and, on logged steps,
    G's gradient norms, (K,) each."""
    loss = g.first.loss
    fake = g.G(latents(g))
    g.D.params.requires_grad_(False)
    try:
        d_fake = g.D(fake)
        if loss.g_needs_real:
            with torch.no_grad():
                d_real = g.D(real)
            loss_g = torch.vmap(loss.g_loss)(d_real, d_fake)
        else:
            loss_g = torch.vmap(lambda f: loss.g_loss(None, f))(d_fake)
        g.opt_g.zero_grad(set_to_none=True)
        loss_g.sum().backward()
    finally:
        g.D.params.requires_grad_(True)
    norm = grad_norms(g.G) if g.log_step else None
    g.opt_g.step()
    return loss_g.detach(), norm


def gan_step(g: Group, step: int) -> dict[str, Tensor]:
    """Training step `step` of every seed: each seed's generator seeded from step_seed(seed, step), then d_steps D
    updates and g_steps G updates (step.gan_step); the statistics, (K,) each."""
    s = g.first
    for run, gen in zip(g.runs, g.generators):
        gen.manual_seed(step_seed(run.spec.seed, step))
    g.log_step = step % s.spec.log_every == 0 or step == s.spec.steps - 1
    for run in g.runs:
        run.log_step = g.log_step
    for i in range(s.d_steps):
        stats, real = d_update(g, report=i == 0)
        if i == 0:
            out = stats
    for _ in range(s.g_steps):
        loss_g, g_norm = g_update(g, real)
    out["loss_g"] = loss_g
    if g_norm is not None:
        out["grad_norm_g"] = g_norm
    return out


# ---------------------------------------------------------------- the loop and the runs

@dataclass
class Clock:
    """A group's training time, shared out: each seed's wall_time is its earlier segments' plus the group's
    training time (without probes) divided by K, so that its history reads like an unbatched run's."""

    k: int
    start: float = field(default_factory=time.perf_counter)
    probes: float = 0.0

    def t0(self, resumed: float) -> float:
        """The clock start that makes perf_counter() - t0 this seed's wall_time."""
        now = time.perf_counter()
        return now - (resumed + (now - self.start - self.probes) / self.k)


def group_record(g: Group) -> dict:
    """What metrics.json records of the group a run trained in: K and the seeds (and the data sets, one per seed,
    when the group spans several)."""
    record = {"k": len(g.runs), "seeds": [r.spec.seed for r in g.runs]}
    datasets = [r.spec.dataset for r in g.runs]
    return record | ({"datasets": datasets} if len(set(datasets)) > 1 else {})


def train_group(g: Group, paths: Sequence[Path], logs: Sequence[checkpoint.Logs], start: int,
                opts: ExecOptions) -> bool:
    """train.train for the group: each step, the stacked update, then each live seed's logged statistics, probe
    and kept state (train.bookkeep) on its own networks, copied from the stack first. A seed that diverges stops
    being recorded (its slice trains on, touching no other seed's). False if stopped early by opts.stop_after."""
    spec, k = g.first.spec, len(g.runs)
    resumed = [lg.history[-1]["wall_time"] if lg.history else 0.0 for lg in logs]
    live = [monitor.Live(opts.tensorboard, s.spec.run_id) if opts.tensorboard else None for s in g.runs]
    for s in g.runs:
        s.execution = {"amp": "off", "channels_last": False, "compile": False,
                       "batch_seeds": group_record(g)}
    for net in (g.G, g.D, *[s.G for s in g.runs], *[s.D for s in g.runs]):
        net.train()
    bar = progress.Progress(spec.steps, f"{spec.run_id} x{k}", "step", opts.progress, every=progress.RUN_LINES,
                            initial=start, leave=False)
    stop = spec.steps if opts.stop_after is None else min(spec.steps, start + opts.stop_after)
    clock, alive = Clock(k), list(range(k))
    for step in range(start, stop):
        out = gan_step(g, step)
        done = step + 1
        probed = quality.is_probe_step(done, spec.quality_every, spec.steps)
        due = done % opts.ckpt_every == 0 or done == stop
        if g.log_step or probed or due:  # else bookkeep has nothing to do
            g.sync(optimizers=probed or due)
            for i in list(alive):
                kept, took = bookkeep(g.runs[i], paths[i], step, stop, {n: v[i] for n, v in out.items()}, logs[i],
                                      g.samplers[i].drawn, opts, live[i], clock.t0(resumed[i]))
                clock.probes += took
                if not kept:
                    alive.remove(i)
        if not alive:
            break
        bar.update(1)
    bar.close()
    train_s = (time.perf_counter() - clock.start - clock.probes) / k
    for i, s in enumerate(g.runs):
        if s.diverged_at is not None:
            logs[i].write(paths[i])
        if live[i] is not None:
            live[i].close()
        s.batches_drawn = g.samplers[i].drawn
        s.timings["train_s"] = resumed[i] + train_s
    return bool(not alive or stop == spec.steps)


def claimed(jobs: Sequence[Job], claims: contextlib.ExitStack) -> list[Job]:
    """Claim every job's run directory (ClaimHeld: one is another worker's) and prepare the unfinished ones (as
    execute.execute does); the jobs left to train."""
    todo = []
    for spec, path in jobs:
        if store.is_finished(path):
            store.same_spec(path, spec)  # a finished run of another spec is never returned as this one's
            continue
        claims.enter_context(store.claim(path))
        if store.is_finished(path):  # finished by another process meanwhile
            continue
        if (path / store.METRICS).exists():
            store.set_aside(path / store.METRICS, "is unreadable")
        todo.append((store.prepare(path, spec), path))
    return todo


def execute_group(jobs: Sequence[Job], opts: ExecOptions = ExecOptions()) -> list[dict | None]:
    """execute.execute for the seeds of one cell, trained as one stacked model: every run directory claimed,
    built, resumed, trained, then each seed evaluated and its metrics.json written (last). Returns each job's
    metrics.json content (None when stopped early by opts.stop_after). Unstackable, with nothing trained and every
    claim released, when the seeds cannot train together (a part without a stacked form, or checkpoints at
    different steps): the caller then trains them one by one."""
    jobs = [(spec, Path(path)) for spec, path in jobs]
    if len({store.checkpoint_step(path) or 0 for _, path in jobs if not store.is_finished(path)}) > 1:
        raise Unstackable("the seeds resume from checkpoints at different steps")
    device = torch.device(opts.device)
    with contextlib.ExitStack() as claims:
        todo = claimed(jobs, claims)
        if todo:
            memory.reset_peak(device)
            t0 = time.perf_counter()
            runs = [build(spec, device) for spec, _ in todo]
            resumed = [checkpoint.resume(s, path) for s, (_, path) in zip(runs, todo)]
            if len({r[0] for r in resumed}) > 1:
                raise Unstackable("the seeds resume from checkpoints at different steps")
            group = assemble(runs, [r[1] for r in resumed])
            if not train_group(group, [p for _, p in todo], [r[2] for r in resumed], resumed[0][0], opts):
                return [None if any(p == path for _, p in todo) else store.read_json(path / store.METRICS)
                        for _, path in jobs]
            group.sync(optimizers=False)
            share = (time.perf_counter() - t0) / len(runs)
            peak = memory.peak_mib(device)
            for s, (_, path) in zip(runs, todo):
                s.timings["peak_train_mib"] = peak
                finish(s, path, share)
        return [store.read_json(path / store.METRICS) for _, path in jobs]
