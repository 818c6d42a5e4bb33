"""`ganbench speed`: what the framework costs, against a minimal plain-PyTorch loop that does the same work.

The **minimal loop** (`minimal_loop`) is ganbench's training step with statistics off, written out as plain PyTorch:
the same G and D (the same architecture builders, initialised from the same seed), fused Adam as ganbench's `adam`,
the same data order (each epoch a permutation seeded by (seed, epoch), one slice of it per step), the global RNG
reseeded from (seed, step) before each step, D on real and fake in one call (ganbench's mixed batch), the
non-saturating loss, and the same order of updates (D, then G against D with D's weights frozen). It uses nothing
of ganbench's step, build or sampler: the two formulas it shares with them (the step seed and the epoch seed) are
copied, and a test proves that both loops end bit-identical (tests/unit/test_speed.py).

Per step, `measure` times ganbench's step (`step.run`, as train() calls it) with statistics off and with the
statistics of every log_every-th step (`monitor.log`: losses, D accuracies, gradient norms, spectra), the minimal
loop, and the textbook loop (D called on the real and the fake batch separately, random batch indices: more work,
kept for comparison with earlier measurements), alternated repeat by repeat so that drift in the machine's load
hits all of them. Ratio = ganbench's time / the minimal loop's: 1 means the framework costs nothing.

For a whole short run, `whole_run` times ganbench's `run` path (imports, spec checks, execute: run directory,
build, training with its statistics and quality probes, checkpoints, final evaluation, run files) phase by phase
(PhaseTimer), and a plain script doing the same training (the minimal loop) and the same final evaluation, each in
a fresh interpreter as a user would start them (so that each pays its own imports and first-use loading); the
script's metrics must equal the run's metrics.json bit for bit.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from ganbench import execution, monitor
from ganbench.build import build
from ganbench.checkpoint import Logs
from ganbench.data import get_dataset
from ganbench.data.base import BatchSampler, resident, scored_with
from ganbench.errors import GanbenchError, SpecError
from ganbench.evaluate import Sampler, evaluate, generate
from ganbench.execute import execute
from ganbench.execution import ExecOptions
from ganbench.metrics.probe import features_and_modes
from ganbench.models import build_models
from ganbench.registry import load_plugin, user_plugins
from ganbench.spec import RunSpec, build_spec
from ganbench.step import gan_step, run as run_step


@dataclass(frozen=True)
class Loop:
    """A training loop ready to run: train(n) trains n more steps of G and D."""

    train: Callable[[int], None]
    G: torch.nn.Module
    D: torch.nn.Module


def check_comparable(spec: RunSpec) -> None:
    """The minimal loop is the plain GAN: the non-saturating loss, Adam, no tricks."""
    if spec.loss != "ns" or spec.tricks or spec.optimizer != "adam":
        raise SpecError("ganbench speed compares against the minimal loop of the plain GAN: use --loss ns, the adam "
                        f"optimizer and no tricks (got loss {spec.loss!r}, optimizer {spec.optimizer!r}, "
                        f"tricks {[t.name for t in spec.tricks]})")


def _models(spec: RunSpec, device: torch.device):
    """G and D as ganbench builds them for a run without tricks: the architecture's builder after seeding."""
    data = get_dataset(spec.dataset)
    torch.manual_seed(spec.seed)
    G, D = build_models(spec.arch, data.sample_shape, spec.z_dim, dict(spec.arch_options))
    return data, G.to(device), D.to(device)


def minimal_loop(spec: RunSpec, device: str = "cpu", amp: bool = False, channels_last: bool = False,
                 compile: bool = False) -> Loop:
    """ganbench's training step with statistics off, as a plain PyTorch loop (see the module's docstring); the
    fast-path options as ganbench applies them (bf16 autocast around the step, channels-last image networks and
    batches, torch.compile)."""
    device = torch.device(device)
    data, G, D = _models(spec, device)
    image_cl = channels_last and data.kind == "image"
    if image_cl:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    if compile:
        G.compile()
        D.compile()
    opt_g = torch.optim.Adam(G.parameters(), lr=spec.lr_g, betas=(spec.beta1, spec.beta2), fused=True)
    opt_d = torch.optim.Adam(D.parameters(), lr=spec.lr_d, betas=(spec.beta1, spec.beta2), fused=True)
    x, b, z_dim = data.x.to(device), spec.batch_size, spec.z_dim
    per_epoch, d_params = len(x) // b, list(D.parameters())
    G.train()
    D.train()
    at = {"step": 0, "perm": None}

    def real_batch(step: int) -> torch.Tensor:  # slice `step` of its epoch's permutation, as float32 in [-1, 1]
        epoch, i = divmod(step, per_epoch)
        if i == 0:
            g = torch.Generator().manual_seed((spec.seed * 1_000_003 + epoch) % (1 << 63))
            at["perm"] = torch.randperm(len(x), generator=g).to(device)
        real = x[at["perm"][i * b : (i + 1) * b]]
        real = real.float() / 127.5 - 1.0 if real.dtype == torch.uint8 else real
        return real.contiguous(memory_format=torch.channels_last) if image_cl and real.dim() == 4 else real

    def one_step(step: int) -> None:
        h = (spec.seed * 0x9E3779B97F4A7C15 + step * 0xBF58476D1CE4E5B9 + 1) % (1 << 64)
        seed = (h ^ (h >> 31)) % (1 << 63)
        torch.default_generator.manual_seed(seed)
        if device.type == "cuda":
            torch.cuda.manual_seed(seed)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            real = real_batch(step)
            with torch.no_grad():
                fake = G(torch.randn(b, z_dim, device=device))
            out = D(torch.cat([real, fake]))
            loss_d = F.softplus(-out[:b]).mean() + F.softplus(out[b:]).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            for p in d_params:
                p.requires_grad_(False)
            loss_g = F.softplus(-D(G(torch.randn(b, z_dim, device=device)))).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            for p in d_params:
                p.requires_grad_(True)

    def train(n: int) -> None:
        for _ in range(n):
            one_step(at["step"])
            at["step"] += 1

    return Loop(train, G, D)


def textbook_loop(spec: RunSpec, device: str = "cpu") -> Loop:
    """The textbook loop (Goodfellow et al. 2014 with the non-saturating G loss, as in the PyTorch DCGAN tutorial):
    the same G and D, `torch.optim.Adam` with its default implementation, D called on the real and on the fake
    batch, a random batch index per step, no seeding, no logging. More work than ganbench's step."""
    device = torch.device(device)
    data, G, D = _models(spec, device)
    opt_g = torch.optim.Adam(G.parameters(), lr=spec.lr_g, betas=(spec.beta1, spec.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=spec.lr_d, betas=(spec.beta1, spec.beta2))
    x, b = data.floats().to(device), spec.batch_size

    def train(n: int) -> None:
        for _ in range(n):
            real = x[torch.randint(len(x), (b,), device=device)]
            fake = G(torch.randn(b, spec.z_dim, device=device))
            loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            loss_g = F.softplus(-D(G(torch.randn(b, spec.z_dim, device=device)))).mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()

    return Loop(train, G, D)


def ganbench_loop(spec: RunSpec, device: str = "cpu", stats: bool = True, amp: bool = False,
                  channels_last: bool = False, compile: bool = False) -> Loop:
    """ganbench's training loop as train() runs it, without the run directory: each step `step.run` (seeded, in
    the fast path's context) and, with `stats`, every log_every-th step's statistics recorded by `monitor.log`
    (losses, D accuracies, gradient norms, spectra); without, no step is logged. The quality probes and checkpoints
    are left out (the whole-run split times them)."""
    s = build(spec, device)
    execution.fast_path(s, amp, channels_last, compile)
    sampler = BatchSampler(resident(s.data.x, s.device), s.batch_size, spec.seed)
    s.G.train()
    s.D.train()
    logs, t0, step = Logs([], [], []), time.perf_counter(), 0

    def train(n: int) -> None:
        nonlocal step
        for _ in range(n):
            out = run_step(s, sampler, step, gan_step, log=stats)
            if s.log_step:
                monitor.log(s, step, out, logs, t0)
            step += 1

    return Loop(train, s.G, s.D)


def _sync(device: str | torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)


def time_loop(loop: Loop, steps: int, warmup: int, device: str = "cpu") -> float:
    """Seconds for `steps` steps after `warmup` (the accelerator's queue drained before and after)."""
    sync = _sync(device)
    loop.train(warmup)
    sync()
    t = time.perf_counter()
    loop.train(steps)
    sync()
    return time.perf_counter() - t


def eval_throughput(spec: RunSpec, device: str = "cpu", n: int = 2000) -> float:
    """Images per second of evaluation's sampling and feature pass (the probe's work) on n samples."""

    s = build(spec, device)
    features_and_modes(s.data, generate(Sampler.of(s), min(n, 100), spec.seed))  # warm-up (extractor load)
    t = time.perf_counter()
    features_and_modes(s.data, generate(Sampler.of(s), n, spec.seed))
    return n / (time.perf_counter() - t)


LOOPS = ("ganbench", "ganbench+stats", "minimal", "textbook")


@dataclass(frozen=True)
class SpeedResult:
    steps: int
    batch_size: int
    log_every: int
    seconds: dict[str, list[float]]  # LOOPS -> seconds per repeat
    eval_images_per_s: float

    def ratio(self, loop: str, to: str = "minimal") -> float:
        """`loop`'s time over `to`'s (best of the repeats of each)."""
        return min(self.seconds[loop]) / min(self.seconds[to])

    def paired_ratio(self, loop: str, to: str = "minimal") -> float:
        """The median over repeats of `loop`'s time over `to`'s in the same repeat (robust to load drifting)."""
        return statistics.median(a / b for a, b in zip(self.seconds[loop], self.seconds[to]))

    def rows(self) -> list[tuple[str, str]]:
        spread = lambda s: f"{1000 * min(s) / self.steps:.3f} / {1000 * statistics.median(s) / self.steps:.3f} / {1000 * max(s) / self.steps:.3f}"  # noqa: E731
        ratio = lambda k: f"{self.ratio(k):.3f} (paired median {self.paired_ratio(k):.3f})"  # noqa: E731
        t = self.seconds
        return [("ganbench ms/step, statistics off (min / median / max)", spread(t["ganbench"])),
                (f"ganbench ms/step, statistics every {self.log_every} steps", spread(t["ganbench+stats"])),
                ("minimal loop ms/step (same work, plain PyTorch)", spread(t["minimal"])),
                ("textbook loop ms/step (D called twice: more work)", spread(t["textbook"])),
                ("minimal loop training images/s", f"{self.steps * self.batch_size / min(t['minimal']):,.0f}"),
                ("ratio ganbench / minimal, statistics off (1: costs nothing)", ratio("ganbench")),
                (f"ratio ganbench / minimal, statistics every {self.log_every} steps", ratio("ganbench+stats")),
                ("evaluation images/s (generate + metric features)", f"{self.eval_images_per_s:,.0f}")]


def measure(spec: RunSpec, steps: int = 200, repeats: int = 3, warmup: int = 20,
            device: str = "cpu", **fast: bool) -> SpeedResult:
    """Every loop of LOOPS, `repeats` times in alternating order (so that drift in the machine's load hits them
    all), each freshly built and timed after a warm-up."""
    check_comparable(spec)
    spec = replace(spec, steps=max(spec.steps, steps + warmup))
    make = {"ganbench": lambda: ganbench_loop(spec, device, stats=False, **fast),
            "ganbench+stats": lambda: ganbench_loop(spec, device, stats=True, **fast),
            "minimal": lambda: minimal_loop(spec, device, **fast),
            "textbook": lambda: textbook_loop(spec, device)}
    seconds: dict[str, list[float]] = {k: [] for k in LOOPS}
    for r in range(repeats):
        for k in LOOPS if r % 2 == 0 else reversed(LOOPS):
            seconds[k].append(time_loop(make[k](), steps, warmup, device))
    return SpeedResult(steps, spec.batch_size, spec.log_every, seconds, eval_throughput(spec, device))


# The whole-run split: where a `ganbench run` spends its time, phase by phase.

PHASES = {  # name -> what it holds
    "imports": "imports (a fresh interpreter)",
    "start-up": "start-up: spec checks, run directory, build",
    "data": "data: real batches",
    "D step": "D step: G's fakes, D forward, backward, Adam",
    "G step": "G step: G and D forward, backward, Adam",
    "step glue": "step glue: seeding, D frozen/unfrozen, hooks",
    "statistics": "statistics: monitor.log, spectra, grad norms",
    "probes": "quality probes",
    "checkpoints": "checkpoints: resume, best.pt, checkpoint.pt",
    "final evaluation": "final evaluation",
    "run files": "run files: samples.png, health, metrics.json",
    "other": "other: the loop, progress, bookkeeping",
}
TRAINING = ("data", "D step", "G step", "step glue")  # the plain script's training does the work of these
# (module, function, phase): the calls timed; time inside a timed call nested in another is its own phase's
TIMED = [("ganbench.execute", "build", "start-up"), ("ganbench.store", "prepare", "start-up"),
         ("ganbench.checkpoint", "resume", "checkpoints"), ("ganbench.checkpoint", "keep", "checkpoints"),
         ("ganbench.train", "run_step", "step glue"), ("ganbench.step", "next_real", "data"),
         ("ganbench.step", "d_update", "D step"), ("ganbench.step", "g_update", "G step"),
         ("ganbench.checkpoint", "at_init", "statistics"), ("ganbench.monitor", "log", "statistics"),
         ("ganbench.step", "grad_norm", "statistics"), ("ganbench.step", "d_accuracy", "statistics"),
         ("ganbench.quality", "probe", "probes"), ("ganbench.execute", "score", "final evaluation"),
         ("ganbench.execute", "sampling_curve", "final evaluation"),
         ("ganbench.execute", "save_samples_picture", "run files"), ("ganbench.health", "run_verdict", "run files"),
         ("ganbench.quality", "checkpoints", "run files"), ("ganbench.execute", "metrics_record", "run files"),
         ("ganbench.store", "write_json", "run files")]
GANBENCH_IMPORTS = ("import ganbench.cli; from ganbench import execute, execution, spec; "
                    "from ganbench.registry import load_builtins; load_builtins()")
PLAIN_IMPORTS = ("import torch, torch.nn.functional; from ganbench.evaluate import evaluate; "
                 "from ganbench.registry import load_builtins; load_builtins()")  # the evaluation's metric code


class PhaseTimer:
    """Wall time by phase: a timed call's time goes to its phase, less the time of timed calls inside it (their
    own phases'), and the time outside any timed call to "other"; so the phases partition the timed span."""

    def __init__(self, sync: Callable[[], None] = lambda: None):
        self.seconds = {name: 0.0 for name in PHASES}
        self.stack, self.sync, self.last = ["other"], sync, 0.0

    def _charge(self) -> None:
        self.sync()  # on an accelerator, its queue drained: the time lands in the phase that queued the work
        now = time.perf_counter()
        self.seconds[self.stack[-1]] += now - self.last
        self.last = now

    def timed(self, fn: Callable, phase: str) -> Callable:
        @functools.wraps(fn)
        def call(*args, **kwargs):
            self._charge()
            self.stack.append(phase)
            try:
                return fn(*args, **kwargs)
            finally:
                self._charge()
                self.stack.pop()

        return call

    @contextlib.contextmanager
    def span(self) -> Iterator["PhaseTimer"]:
        """Time the block: the calls named in TIMED are wrapped (and restored on exit)."""
        saved = [(importlib.import_module(m), name, getattr(importlib.import_module(m), name)) for m, name, _ in TIMED]
        for (module, name, fn), (_, _, phase) in zip(saved, TIMED):
            setattr(module, name, self.timed(fn, phase))
        try:
            self.sync()
            self.last = time.perf_counter()
            yield self
            self._charge()
        finally:
            for module, name, fn in saved:
                setattr(module, name, fn)


@dataclass(frozen=True)
class RunSplit:
    """A whole short run of ganbench by phase (PHASES; seconds), and the plain script's (imports, start-up,
    training, final evaluation); each in a fresh interpreter unless `fresh` is False (then in this process, after
    a warm-up, with the imports not measured)."""

    steps: int
    ganbench: dict[str, float]
    plain: dict[str, float]
    run_s: float  # ganbench's run after its imports, measured around it
    same_metrics: bool  # the plain script's final metrics equal the run's metrics.json, bit for bit
    fresh: bool = True
    mismatched: list[str] = field(default_factory=list)

    @property
    def whole_s(self) -> float:
        """The imports and the run measured around it (the phases' sum, to rounding: a test checks it)."""
        return self.ganbench["imports"] + self.run_s

    @property
    def plain_s(self) -> float:
        return sum(self.plain.values())

    @property
    def ratio(self) -> float:
        return self.whole_s / self.plain_s

    @property
    def ratio_without_imports(self) -> float:
        return self.run_s / (self.plain_s - self.plain["imports"])

    def lines(self) -> list[str]:
        """The split as a table: ganbench's phases with their shares, and the plain script's beside them. A phase
        holds what its calls load on first use (the run files: matplotlib's import; start-up: torch._dynamo's,
        which spec checks and optimizers import, the plain script's too)."""
        g, p, w = self.ganbench, self.plain, self.whole_s
        row = lambda label, s, plain="": f"  {label:<48} {s:>9.3f} {100 * s / w:>6.1f}% {plain:>9}"  # noqa: E731
        where = "each in a fresh interpreter" if self.fresh else "in this process, imports not measured"
        out = [f"whole {self.steps}-step run, seconds ({where}): ganbench against a plain script doing the same "
               "training and final evaluation",
               f"  {'phase':<48} {'ganbench':>9} {'share':>7} {'plain':>9}"]
        for name, label in PHASES.items():
            out.append(row(label, g[name], f"{p[name]:.3f}" if name in p else ""))
            if name == TRAINING[-1]:
                out.append(row("  training: the four rows above", sum(g[k] for k in TRAINING), f"{p['training']:.3f}"))
        out.append(row("whole", w, f"{self.plain_s:.3f}"))
        out.append(f"  whole-run ratio ganbench / plain script: {self.ratio:.3f} (without imports "
                   f"{self.ratio_without_imports:.3f})")
        same = "yes, bit for bit" if self.same_metrics else f"NO: {', '.join(self.mismatched)}"
        out.append(f"  final metrics equal to the plain script's: {same}")
        return out


def _spec_fields(spec: RunSpec) -> dict:
    """The fields that build `spec` again (build_spec refuses hp_sample, which only a suite's search sets)."""
    fields = spec.to_json()
    if fields.get("hp_sample") is None:
        fields.pop("hp_sample", None)
    return fields


def ganbench_side(fields: dict, device: str = "cpu", **fast: bool) -> dict:
    """`ganbench run`'s path after its imports, timed by phase: the spec built and checked (start-up), then
    execute.execute in a temporary run directory. {"phases": seconds by phase, "run_s": seconds measured around it
    all, "metrics": metrics.json's values}."""
    sync = _sync(device)
    with tempfile.TemporaryDirectory(prefix="ganbench-speed-") as tmp:
        sync()
        t = time.perf_counter()
        with PhaseTimer(sync).span() as timer:
            spec = timer.timed(build_spec, "start-up")(fields)
            record = execute(spec, Path(tmp) / spec.run_id, ExecOptions(device=device, progress=False, **fast))
        run_s = time.perf_counter() - t
    return {"phases": timer.seconds, "run_s": run_s, "metrics": record["metrics"]}


def plain_side(fields: dict, device: str = "cpu", **fast: bool) -> dict:
    """The plain script after its imports: the minimal loop trains the spec's steps, then the final evaluation
    ganbench's run does (evaluate.evaluate: the same samples, the same metrics). {"phases": seconds of start-up,
    training and final evaluation, "metrics": the values by column}."""
    spec, sync = RunSpec.from_json(fields), _sync(device)
    t0 = time.perf_counter()
    loop = minimal_loop(spec, device, **fast)
    sync()
    t1 = time.perf_counter()
    loop.train(spec.steps)
    sync()
    t2 = time.perf_counter()
    data = scored_with(get_dataset(spec.dataset), spec.features)
    latent = lambda n, g: torch.randn(n, spec.z_dim, device=device, generator=g)  # noqa: E731
    values, _ = evaluate(Sampler(loop.G, latent, torch.device(device)), data, spec)
    sync()
    t3 = time.perf_counter()
    return {"phases": {"start-up": t1 - t0, "training": t2 - t1, "final evaluation": t3 - t2},
            "metrics": {v.column: float(v.value) for v in values or []}}


SIDES = {"ganbench": (ganbench_side, GANBENCH_IMPORTS), "plain": (plain_side, PLAIN_IMPORTS)}
CHILD = ("import time; t = time.perf_counter(); {imports}; imported = time.perf_counter() - t; import json, sys; "
         "from ganbench.speed import child; print(json.dumps(child(json.loads(sys.argv[1]), imported)))")


def child(job: dict, imported: float) -> dict:
    """A side of the whole run in the fresh interpreter `in_fresh_interpreter` started: the parent's threads and
    plugins, then the side; its imports' seconds added."""
    execution.set_threads(job["threads"])
    for plugin in job["plugins"]:
        load_plugin(plugin)
    out = SIDES[job["side"]][0](job["fields"], job["device"], **job["fast"])
    out["phases"]["imports"] = imported
    return out


def in_fresh_interpreter(side: str, fields: dict, device: str, **fast: bool) -> dict:
    """One side of the whole run in a fresh interpreter (this process's ganbench first on its path), as a user
    starts one: its imports and whatever it loads on first use are its own. Importing ganbench.speed there to
    drive it comes after the imports are timed."""
    job = {"side": side, "fields": fields, "device": device, "fast": fast, "threads": torch.get_num_threads(),
           "plugins": list(user_plugins())}
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    code = CHILD.format(imports=SIDES[side][1])
    done = subprocess.run([sys.executable, "-c", code, json.dumps(job)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise GanbenchError(f"the whole run's {side} side failed in its own process:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _same(a: float | None, b: float | None) -> bool:
    return a == b or (a is not None and b is not None and math.isnan(a) and math.isnan(b))


def whole_run(spec: RunSpec, device: str = "cpu", fresh: bool = True, **fast: bool) -> RunSplit:
    """A whole run of `spec` by ganbench (timed by phase) and by the plain script, one after the other, each in a
    fresh interpreter; with fresh=False both in this process, after a warm-up run of the plain script (so that
    neither pays for loading the feature extractors and the real data's statistics), the imports left at 0."""
    check_comparable(spec)
    fields = _spec_fields(spec)
    if fresh:
        ours, plain = (in_fresh_interpreter(side, fields, device, **fast) for side in SIDES)
    else:
        plain_side({**fields, "steps": 1}, device, **fast)  # warm-up
        ours, plain = ganbench_side(fields, device, **fast), plain_side(fields, device, **fast)
        ours["phases"]["imports"] = plain["phases"]["imports"] = 0.0
    theirs = ours["metrics"]
    mismatched = sorted(k for k in set(plain["metrics"]) | set(theirs) if not _same(plain["metrics"].get(k), theirs.get(k)))
    phases = {name: ours["phases"][name] for name in PHASES}
    return RunSplit(spec.steps, phases, plain["phases"], ours["run_s"], not mismatched, fresh, mismatched)
