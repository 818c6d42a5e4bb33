"""The `ganbench` command line: parse, call the library, print. No logic lives here."""
from __future__ import annotations

import difflib
import json
import os
import re
import sys
import time
from pathlib import Path

import click

from ganbench import console
from ganbench.console import NORMAL, QUIET, VERBOSE
from ganbench.env import DATA_ENV, DOWNLOAD_ENV, FEATURES_ENV, INCEPTION_WEIGHTS_ENV, VGG16_WEIGHTS_ENV
from ganbench.errors import GanbenchError, ResultsError
from ganbench.registry import load_builtins, load_plugin, user_plugins

# Each command imports what it runs, and nothing is imported for `ganbench --help` or a mistyped command: the
# modules behind the commands import torch, pandas and matplotlib (about 4 s), the command line alone 0.05 s.
# Those imports are marked "start-up" below.

RESULTS = click.option("--results", type=click.Path(path_type=Path), default=Path("results"), show_default=True,
                       help="Root directory of results; a suite writes to RESULTS/SUITE/.")
TENSORBOARD = click.option("--tensorboard", type=click.Path(file_okay=False, path_type=Path), default=None,
                           help="Live curves: each run's losses, D accuracy, sigma and probe scores as TensorBoard "
                                "scalars under DIR/<run_id> (needs `pip install tensorboard`).")
PLUGIN = click.option("--plugin", "plugins", multiple=True, help="Import a plugin first: a module name or a path to a .py file; it registers its own entries (worker processes load it too).")
SCALE = click.option("--scale", default=None,
                     help="Run the suite at one of its scales (e.g. smoke: a few steps and samples); results go to SUITE-SCALE/.")
ADD_TRICK = click.option("--add-trick", "add_tricks", multiple=True,
                         help="One more value on the suite's tricks axis (e.g. a trick from --plugin); finished cells are reused.")
LEVEL = "ganbench.verbosity"  # the invocation's -q/-v, in click's context meta (shared by the group and its command)


def _verbosity(ctx, param, value):
    """-q/-v, on the group or the command: one level per invocation; both is a mistake."""
    if value:
        level = QUIET if param.name == "gb_quiet" else VERBOSE
        if ctx.meta.get(LEVEL, level) != level:
            raise click.UsageError("-q/--quiet and -v/--verbose contradict each other; give one", ctx=ctx)
        ctx.meta[LEVEL] = level
        console.set_level(level)
    return value


def verbosity_options(f):
    """-q/--quiet and -v/--verbose, taken by the group (`ganbench -q bench ...`) and by every command."""
    options = [
        click.option("-q", "--quiet", "gb_quiet", is_flag=True, expose_value=False, callback=_verbosity,
                     help="Print only results and errors: no progress, no summaries, no `wrote` lines."),
        click.option("-v", "--verbose", "gb_verbose", is_flag=True, expose_value=False, callback=_verbosity,
                     help="Also print a line per finished run (above a terminal's bar too), paths and timings."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def say(msg: str, at: int = NORMAL, err: bool = False) -> None:
    """Print at a verbosity level: QUIET for results and errors (always), NORMAL, VERBOSE (only with -v)."""
    if console.level() >= at:
        click.echo(msg, err=err)


def example(line: str) -> str:
    """A command's --help epilog: its last line, one example (a test checks every command has one)."""
    return f"\b\nExample: {line}"


def variant_options(help_set: str):
    """--set and --seeds on a suite command: the cells as `bench --set/--seeds` changed them."""

    def decorate(f):
        options = [
            click.option("--set", "sets", multiple=True, help=help_set),
            click.option("--seeds", type=click.IntRange(min=1), default=None,
                         help="Seeds 0..N-1 instead of the suite's seeds (finished runs of those seeds are reused)."),
        ]
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def _set_env(name: str):
    """A click callback that exports an option's value to the environment, where worker processes inherit it."""

    def callback(ctx, param, value):
        if value is not None:
            os.environ[name] = str(value)
        return value

    return callback


def _feature_weights(ctx, param, values):
    """--feature-weights FILE (Inception-v3) or NAME=FILE (ganbench's own extractors, vgg16, inception-v3-compat)
    -> the variables the extractors read."""
    from ganbench.metrics import labels, pinned  # start-up

    variables = {**{n: pinned.env_name(n) for n in pinned.NETS}, "inception-v3-compat": INCEPTION_WEIGHTS_ENV,
                 "vgg16": VGG16_WEIGHTS_ENV}
    for value in values:
        name, sep, path = value.partition("=")
        if sep and (name in variables or name.startswith(labels.PREFIX)):
            os.environ[variables.get(name) or pinned.env_name(name)] = path
        elif sep and re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
            close = difflib.get_close_matches(name, list(variables), n=2)
            hint = f"did you mean {' or '.join(close)}?" if close else f"names: {', '.join(variables)}"
            raise click.BadParameter(f"no extractor {name!r} takes weights; {hint}", param=param)
        else:  # a path (which may itself hold '='): the Inception-v3 weights
            os.environ[INCEPTION_WEIGHTS_ENV] = value
    return values


def data_options(f):
    """--data-root, --no-download, --feature-extractor and --feature-weights: where data and weights come from."""

    options = [
        click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), expose_value=False,
                     callback=_set_env(DATA_ENV), help=f"Where data sets live (default: ${DATA_ENV}, else the ganbench cache)."),
        click.option("--no-download", is_flag=True, default=None, flag_value="0", expose_value=False,
                     callback=_set_env(DOWNLOAD_ENV), help="Never download data or weights; stop with what to place where."),
        click.option("--feature-extractor", default=None, expose_value=False, callback=_set_env(FEATURES_ENV),
                     help="Score paper-scale image sets in this torch-fidelity extractor's space instead of Inception/VGG16."),
        click.option("--feature-weights", multiple=True, expose_value=False, callback=_feature_weights,
                     help="A local Inception-v3 weights file (torch-fidelity's), for machines without internet; or "
                          "NAME=FILE: weights for ganbench's extractor NAME (from `ganbench extractor train`; "
                          "ganbench-classifier:<set> for a set's trained mode counter). Repeatable."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def fast_options(f):
    """--bf16, --channels-last and --compile: the accelerator fast path (execution options, recorded in metrics.json)."""
    options = [
        click.option("--bf16", "amp", is_flag=True, help="bf16 autocast in training steps whose tricks are bf16-safe."),
        click.option("--channels-last", is_flag=True, help="Channels-last memory for image networks and batches."),
        click.option("--compile", "compile_", is_flag=True, help="torch.compile G and D."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _plugins(plugins: tuple[str, ...]) -> None:
    load_builtins()
    for p in plugins:
        load_plugin(p)


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             epilog=example("ganbench bench smoke --workers 2"))
@click.version_option(package_name="ganbench")
@verbosity_options
@click.pass_context
def cli(ctx) -> None:
    """ganbench: benchmark GAN losses, tricks and architectures across data sets. -q/-v go before or after the
    command: `ganbench -q bench ...` or `ganbench bench ... -q`."""
    console.set_level(ctx.meta.get(LEVEL, NORMAL))


@cli.command("list", epilog=example("ganbench list tricks"))
@click.argument("kind", type=click.Choice(["losses", "presets", "tricks", "archs", "datasets", "metrics", "protocols", "executors", "tests", "distributions", "suites"]),
              default="losses")
@PLUGIN
@verbosity_options
def list_cmd(kind: str, plugins: tuple[str, ...]) -> None:
    """List registered names with a one-line description."""
    from ganbench import catalog  # start-up

    _plugins(plugins)
    listing = catalog.listing(kind)
    width = max((len(n) for n in listing), default=0)
    for name, desc in listing.items():
        say(f"{name:<{width}}  {desc}", QUIET)


@cli.command(epilog=example("ganbench run -d ring8 -l ns --steps 500 --set lr_d=4e-4"))
@click.option("--dataset", "-d", required=True, help="Data set name (see `ganbench list datasets`).")
@click.option("--loss", "-l", required=True, help="Loss or preset name (see `ganbench list losses`).")
@click.option("--arch", "-a", default=None, help="Architecture (default: the data set's).")
@click.option("--trick", "-t", "tricks", multiple=True, help="Trick, optionally with parameters: gp:lam=5. Repeatable.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--steps", type=int, default=None, help="G updates (default: 2000).")
@click.option("--set", "sets", multiple=True, help="Override any run-spec field: --set lr_d=4e-4. Repeatable.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run directory (default: results/runs/<run_id>).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--dry-run", is_flag=True, help="Print the resolved spec and exit.")
@PLUGIN
@fast_options
@TENSORBOARD
@data_options
@verbosity_options
def run(dataset, loss, arch, tricks, seed, steps, sets, out, device, dry_run, plugins, amp, channels_last,
        compile_, tensorboard) -> None:
    """Train and evaluate one run (the same code path as a suite cell). Progress: a bar on a terminal, else a line
    per tenth of the steps (none with -q)."""
    from ganbench import execute, execution, spec as specs  # start-up

    _plugins(plugins)
    fields = {"dataset": dataset, "loss": loss, "seed": seed, "tricks": list(tricks)}
    if arch:
        fields["arch"] = arch
    if steps is not None:
        fields["steps"] = steps
    spec = specs.build_spec(fields, specs.parse_set(sets), where="the command line")
    path = out or Path("results") / "runs" / spec.run_id
    if dry_run:
        say(json.dumps(spec.to_json(), indent=2), QUIET)
        say(f"run_id: {spec.run_id}\nrun directory: {path}", QUIET)
        return

    opts = execution.ExecOptions(device=device, amp=amp, channels_last=channels_last, compile=compile_,
                                 progress=console.level() > QUIET, tensorboard=_live(tensorboard))
    record = execute.execute_here(spec, path, opts)
    say(f"{spec.run_id} -> {path}")
    for k, v in record["metrics"].items():
        say(f"  {k:<45} {v:.4g}", QUIET)
    h = record.get("health") or {}
    say(f"  health: {h.get('verdict')}" + (f" ({h['evidence']})" if h.get("evidence") else ""), QUIET)
    sel = (record.get("checkpoints") or {}).get("selection")
    if sel:
        m = sel["protocol"]["metric"]
        say(f"  best.pt: step {sel['best']['step']}, {m} {sel['best']['report']:.4g} on half B "
            f"(last checkpoint: {sel['final']['report']:.4g})", QUIET)
    say(run_cost(record.get("cost") or {}), VERBOSE)
    say(f"  files: {', '.join(sorted(p.name for p in Path(path).iterdir() if not p.name.startswith('.')))}", VERBOSE)


def run_cost(cost: dict) -> str:
    """A run's timings and peak memory in one line (ganbench run -v)."""
    parts = [f"{k.removesuffix('_s')} {console.seconds(cost[k])}" for k in ("train_s", "probe_s", "eval_s", "wall_s")
             if isinstance(cost.get(k), (int, float))]
    peak = cost.get("peak_memory_mib")
    return "  time: " + ", ".join(parts) + (f"; peak memory {peak:,.0f} MiB" if isinstance(peak, (int, float)) else "")


@cli.command(epilog=example("ganbench speed -d digits --steps 100 --repeats 2"))
@click.option("--dataset", "-d", required=True, help="Data set name (see `ganbench list datasets`).")
@click.option("--arch", "-a", default=None, help="Architecture (default: the data set's).")
@click.option("--set", "sets", multiple=True, help="Override any run-spec field: --set batch_size=256. Repeatable.")
@click.option("--steps", type=int, default=200, show_default=True, help="Timed training steps per repeat.")
@click.option("--repeats", type=int, default=3, show_default=True, help="Alternating repeats of the loops.")
@click.option("--run-steps", type=int, default=300, show_default=True,
              help="Steps of the whole run split by phase against a plain script (0: no whole run).")
@click.option("--threads", type=int, default=1, show_default=True, help="CPU threads (suites use 1 per worker).")
@click.option("--device", default="cpu", show_default=True)
@PLUGIN
@fast_options
@data_options
@verbosity_options
def speed(dataset, arch, sets, steps, repeats, run_steps, threads, device, plugins, amp, channels_last,
          compile_) -> None:
    """What the framework costs: ganbench's training step against a minimal plain-PyTorch loop doing the same work
    (the plain non-saturating GAN), with statistics off and on, evaluation images/s, and a whole run split by
    phase against a plain script doing the same training and final evaluation."""
    from ganbench import execution, spec as specs, speed as timing  # start-up

    _plugins(plugins)
    fields = {"dataset": dataset, "loss": "ns"}
    if arch:
        fields["arch"] = arch
    spec = specs.build_spec(fields, specs.parse_set(sets), where="the command line")
    if steps < 1 or repeats < 1 or run_steps < 0:
        raise GanbenchError("--steps and --repeats must be at least 1, --run-steps at least 0")
    execution.set_threads(threads)
    fast = {"amp": amp, "channels_last": channels_last, "compile": compile_}
    result = timing.measure(spec, steps=steps, repeats=repeats, device=device, **fast)
    say(f"{spec.dataset} {spec.arch} {dict(spec.arch_options)} batch {spec.batch_size}, {steps} steps x "
        f"{repeats}, {threads} thread(s), {device}")
    for k, v in result.rows():
        say(f"  {k:<62} {v}", QUIET)
    if run_steps:
        run_spec = specs.build_spec(fields, specs.parse_set(sets), {"steps": run_steps}, where="the command line")
        say("\n".join(timing.whole_run(run_spec, device, **fast).lines()), QUIET)


def launch_options(f):
    """How a suite is executed: executor, workers, devices, Slurm settings (command line over the suite's launch:)."""
    options = [
        click.option("--executor", default="local", show_default=True,
                     help="Where runs execute: local (worker processes here) or slurm (a submitit job array)."),
        click.option("--workers", type=int, default=None,
                     help="Local worker processes, one thread each (default: the suite's launch.workers, else 1)."),
        click.option("--devices", default=None,
                     help="Comma-separated devices for local workers, e.g. cuda:0,cuda:1; worker i runs on device i "
                          "mod their number (default: --device)."),
        click.option("--retry-failed", is_flag=True, help="Re-run only the cells that failed (error.txt)."),
        click.option("--checkpoint-every", "ckpt_every", type=int, default=None,
                     help="Checkpoint every N steps (default 1000); a killed run resumes from its last checkpoint."),
        click.option("--partition", default=None, help="Slurm partition."),
        click.option("--time", "time_min", type=int, default=None, help="Slurm time limit per array task, minutes."),
        click.option("--gpus-per-task", type=int, default=None, help="GPUs per Slurm array task."),
        click.option("--cpus-per-task", type=int, default=None, help="CPUs per Slurm array task."),
        click.option("--runs-per-task", type=int, default=None,
                     help="Runs packed into one Slurm array task (run one after the other)."),
        click.option("--slurm-cluster", type=click.Choice(["slurm", "local", "debug"]), default=None,
                     help="submitit's cluster: slurm (default), or local/debug to run the same array on this machine."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@cli.command(epilog=example("ganbench bench smoke --set steps=50 --seeds 1"))
@click.argument("suite")
@RESULTS
@click.option("--device", default="cpu", show_default=True)
@click.option("--dry-run", is_flag=True, help="List the cells and their state, and what would be launched, without running.")
@variant_options("Set a run-spec field on every cell, read as `ganbench run --set` reads it (e.g. --set steps=50); "
                 "changed cells are runs of their own, and the leaderboard aggregates the cells run. Repeatable.")
@launch_options
@PLUGIN
@ADD_TRICK
@SCALE
@fast_options
@click.option("--batch-seeds/--no-batch-seeds", default=None, help="Train the pending seeds of each cell as one "
              "stacked model (MLP cells with Adam and build-time tricks only; other cells train seed by seed, said "
              "once), or not (default: the suite's launch.batch_seeds, else not).")
@TENSORBOARD
@data_options
@verbosity_options
def bench(suite, results, device, dry_run, sets, seeds, executor, workers, devices, retry_failed, ckpt_every,
          partition, time_min, gpus_per_task, cpus_per_task, runs_per_task, slurm_cluster, plugins, add_tricks, scale,
          amp, channels_last, compile_, batch_seeds, tensorboard) -> None:
    """Run a suite's missing cells, then write its leaderboard and plots. Progress: a bar on a terminal, else a
    line per finished cell (none with -q)."""
    from ganbench import bench as suite_bench  # start-up

    _plugins(plugins)
    launch = {"devices": devices, "partition": partition, "time_min": time_min, "gpus_per_task": gpus_per_task,
              "cpus_per_task": cpus_per_task, "runs_per_task": runs_per_task, "cluster": slurm_cluster}
    code = suite_bench.bench(suite, results, workers=workers, device=device, dry_run=dry_run, executor=executor,
                             echo=click.echo, add_tricks=add_tricks, scale=scale, retry_failed=retry_failed,
                             launch=launch, ckpt_every=ckpt_every, sets=sets, seeds=seeds,
                             fast={"amp": amp, "channels_last": channels_last, "compile": compile_,
                                   "batch_seeds": batch_seeds},
                             progress=False if console.level() == QUIET else None, verbosity=console.level(),
                             tensorboard=_live(tensorboard))
    sys.exit(code)


@cli.command("status", epilog=example("ganbench status losses --workers 2"))
@click.argument("suite")
@RESULTS
@click.option("--workers", type=int, default=1, show_default=True, help="Workers to compute the ETA for.")
@click.option("--all", "verbose", is_flag=True, help="List every cell, the finished ones too.")
@variant_options("The cells as `bench --set` changed them (same syntax). Repeatable.")
@PLUGIN
@ADD_TRICK
@SCALE
@verbosity_options
def status_cmd(suite, results, workers, verbose, sets, seeds, plugins, add_tricks, scale) -> None:
    """Each cell's state (done, running, failed, interrupted, pending), the failures' reasons, and an ETA from the
    measured run times."""
    from ganbench import spec, status, store  # start-up

    _plugins(plugins)
    loaded = spec.load_suite(suite, add_tricks, scale, spec.parse_set(sets), seeds)
    root = store.suite_dir(results, loaded.name)
    for line in status.report(loaded.name, status.cells([(cell, root / "runs" / cell.run_id) for cell in loaded.expand()]),
                              workers, verbose):
        say(line, QUIET)
    say(f"runs under {root / 'runs'}", VERBOSE)


@cli.command(epilog=example("ganbench leaderboard smoke --format latex"))
@click.argument("suite")
@RESULTS
@PLUGIN
@ADD_TRICK
@SCALE
@variant_options("The cells as `bench --set` changed them (same syntax). Repeatable.")
@verbosity_options
@click.option("--format", "formats", multiple=True, type=click.Choice(["csv", "markdown", "html", "latex"]),
              help="Output format; repeatable. Default: csv, markdown and html (latex writes leaderboard.tex).")
@click.option("--test", default="welch", show_default=True,
              help="Significance test of each method against its baseline (see `ganbench list tests`).")
@click.option("--baseline", default=None,
              help="Compare every method with this one (default: the suite's `baseline:`, else trick-free twins).")
def leaderboard(suite, results, plugins, add_tricks, scale, sets, seeds, formats, test, baseline) -> None:
    """Aggregate the suite's finished runs (its current cells only) into leaderboard.csv, .md and .html, and a
    search's budget curve (budget.csv, budget.md, plots/budget_<dataset>.png)."""
    from ganbench import budget, leaderboard as board, stats  # start-up

    stats.TESTS.get(test)
    loaded, ids, baseline = _suite_cells(suite, plugins, add_tricks, scale, baseline, sets, seeds)
    options = board.Options(test=test, baseline=baseline, variant=loaded.variant)
    paths = budget.write_suite_budget(results / loaded.name, ids)  # nothing without a search
    for p in paths + board.write_leaderboard(results / loaded.name, ids, loaded.reproduces, options,
                                             formats or board.DEFAULT_FORMATS):
        say(f"wrote {p}")


@cli.command(epilog=example("ganbench report unrolled-ring"))
@click.argument("suite")
@RESULTS
@SCALE
@verbosity_options
def report(suite, results, scale) -> None:
    """Re-render a reproduction suite's report (reproduction.md) from its committed leaderboard.csv, without its
    runs: the verdicts need each cell's mean, spread and seeds, which the CSV holds."""
    from ganbench import reproduction, spec  # start-up

    loaded = spec.load_suite(suite, (), scale)
    if loaded.reproduces is None:
        raise ResultsError(f"suite {loaded.name} reproduces no paper: it has no report")
    if not (results / loaded.name / "leaderboard.csv").is_file():
        raise ResultsError(f"{results / loaded.name / 'leaderboard.csv'} does not exist; run `ganbench bench {suite}"
                           f"{' --scale ' + scale if scale else ''}` first")
    say(f"wrote {reproduction.rerender(loaded.reproduces, results / loaded.name)}")


@cli.command(epilog=example("ganbench plot smoke"))
@click.argument("suite")
@RESULTS
@PLUGIN
@ADD_TRICK
@SCALE
@variant_options("The cells as `bench --set` changed them (same syntax). Repeatable.")
@verbosity_options
def plot(suite, results, plugins, add_tricks, scale, sets, seeds) -> None:
    """Write a suite's figures (its current cells only) to RESULTS/SUITE/plots/; each method is compared with its
    baseline (the suite's `baseline:`, else its trick-free twin) as in the leaderboard."""
    from ganbench import leaderboard as board, plots  # start-up

    loaded, ids, baseline = _suite_cells(suite, plugins, add_tricks, scale, None, sets, seeds)
    for p in plots.write_plots(results / loaded.name, ids, options=board.Options(baseline=baseline)):
        say(f"wrote {p}")


@cli.command(epilog=example("ganbench evaluate smoke --draws 5 --workers 2"))
@click.argument("suite")
@RESULTS
@click.option("--workers", type=int, default=1, show_default=True, help="Parallel worker processes (one thread each).")
@click.option("--dataset", "datasets", multiple=True, help="Only the runs on this data set. Repeatable.")
@click.option("--draws", type=int, default=1, show_default=True,
              help="Score each final checkpoint on this many sample draws (sampling seeds) into draws.json.")
@PLUGIN
@ADD_TRICK
@data_options
@verbosity_options
def evaluate(suite, results, workers, datasets, draws, plugins, add_tricks) -> None:
    """Add metrics introduced since a suite's runs were trained, from their final checkpoints (no retraining);
    numbers already recorded must be reproduced exactly, or that run is left as it was. With --draws K, score each
    final checkpoint on K sample draws instead (the spread over sampling seeds). Then the leaderboard."""
    from ganbench import execution, launch, leaderboard as board, spec, store  # start-up

    if draws < 1:
        raise click.BadParameter("must be at least 1", param_hint="--draws")
    _plugins(plugins)
    loaded = spec.load_suite(suite, add_tricks)
    cells = loaded.expand()
    opts = execution.ExecOptions(progress=False, plugins=user_plugins())
    jobs = [(cell, store.run_dir(results, loaded.name, cell), opts, draws) for cell in cells]
    jobs = [j for j in jobs if store.is_finished(j[1]) and (not datasets or j[0].dataset in datasets)]
    outcomes = launch.pool_map(launch.reevaluate_one, jobs, workers, show=console.level() > QUIET,
                               desc="draws" if draws > 1 else "evaluate", verbose=console.level() >= VERBOSE)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.message if o.ok else "failed"] = counts.get(o.message if o.ok else "failed", 0) + 1
        if not o.ok:
            say(f"{o.run_id}: {o.message}", QUIET, err=True)
    say(f"suite {loaded.name}: {len(jobs)} finished runs{' on ' + ', '.join(datasets) if datasets else ''}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())), QUIET)
    if jobs:
        options = board.Options(baseline=loaded.baseline)
        for p in board.write_leaderboard(results / loaded.name, [cell.run_id for cell in cells], loaded.reproduces, options):
            say(f"wrote {p}")
    sys.exit(1 if counts.get("failed") else 0)


@cli.command("health", epilog=example("ganbench health results/runs/RUN_ID --checkpoint best"))
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--plot/--no-plot", default=True, show_default=True,
              help="Write health.png (signals, spectra, quality probe) into each run directory.")
@click.option("--samples/--no-samples", default=True, show_default=True,
              help="Also regenerate the evaluated samples from a kept checkpoint and write modes.png (mode "
                   "histogram) and neighbours.png (nearest training images).")
@click.option("--checkpoint", type=click.Choice(["final", "best"]), default="final", show_default=True,
              help="Which kept checkpoint --samples looks at: the last, or the quality probe's choice (best.pt).")
@data_options
@verbosity_options
def health_cmd(runs, plot, samples, checkpoint) -> None:
    """Print each finished run's health verdict with its evidence (and plot its signals and samples)."""
    from ganbench import health, plots, store  # start-up

    for run in runs:
        if not store.is_finished(run):
            raise GanbenchError(f"{run} is not a finished run directory (it has no metrics.json)")
        v = health.run_verdict(run)
        at = f" at step {v['step']}" if v["step"] is not None else ""
        say(f"{run.name}: {v['verdict']}{at}" + (f": {v['evidence']}" if v["evidence"] else ""), QUIET)
        if plot:
            say(f"  wrote {plots.health_plot(run)}", VERBOSE)
        if samples:
            for line, problem in plots.sample_figures(run, store.BEST if checkpoint == "best" else store.CHECKPOINT):
                say(f"  {line}", QUIET, err=problem)  # the figures' findings (modes covered, memorized share)


@cli.group(epilog=example("ganbench extractor train ganbench-mnist --out mnist.pt"))
@verbosity_options
def extractor() -> None:
    """ganbench's own feature extractors: the digit classifiers (their weights ship with ganbench) and the mode
    counters of labelled sets (ganbench-classifier:<set>, trained once on the set's labels and cached)."""


@extractor.command("train", epilog=example("ganbench extractor train ganbench-mnist --out mnist.pt"))
@click.argument("name", metavar="NAME")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the weights (FILE, and its record FILE.json).")
@data_options
@verbosity_options
def extractor_train(name: str, out: Path) -> None:
    """Retrain an extractor from scratch (one thread, fixed seed) and write its weights: score with them through
    --feature-weights NAME=FILE; their hash tags every value scored in their space. NAME: ganbench-digits,
    ganbench-mnist, or ganbench-classifier:<data set> (e.g. ganbench-classifier:cifar10)."""
    from ganbench import extractor_train as et  # start-up

    load_builtins()
    et.check_name(name)
    record = et.train(name, out)
    say(f"{out}: {name}@{record['sha256'][:8]}, held-out accuracy {record['heldout_accuracy']:.4f} "
        f"({record['heldout']}); score with it: --feature-weights {name}={out}", QUIET)


def _suite_cells(suite: str, plugins: tuple[str, ...], add_tricks: tuple[str, ...], scale: str | None = None,
                 baseline: str | None = None, sets: tuple[str, ...] = (),
                 seeds: int | None = None) -> tuple[object, list[str], str | None]:
    """A suite (spec.Suite, after plugins, --add-trick, --set and --seeds), the run_ids of its current cells and
    the baseline method (`baseline`, else the suite's; checked against its methods)."""
    from ganbench import spec  # start-up

    _plugins(plugins)
    loaded = spec.load_suite(suite, add_tricks, scale, spec.parse_set(sets), seeds)
    cells = loaded.expand()
    return loaded, [cell.run_id for cell in cells], loaded.check_baseline(cells, baseline)


def _live(tensorboard: Path | None) -> str | None:
    """--tensorboard's directory, once its package is known to be there (else one line before anything trains)."""
    if tensorboard is None:
        return None
    from ganbench import monitor  # start-up

    monitor.summary_writer()
    return str(tensorboard)


def _took(t0: float) -> None:
    """With -v: how long the command took, last."""
    command = next((a for a in sys.argv[1:] if a in cli.commands), "")
    say(f"ganbench {command} took {console.seconds(time.perf_counter() - t0)}", VERBOSE)


def main() -> None:
    """Entry point: user mistakes end in one line on stderr and exit status 2, never a traceback; with -v, the
    command's wall time last."""
    console.set_level(NORMAL)
    t0 = time.perf_counter()
    try:
        cli.main(standalone_mode=False)
        _took(t0)
    except SystemExit:  # a command's own exit status (bench: 1 while a cell is not done)
        _took(t0)
        raise
    except GanbenchError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as e:  # one line, not click's usage block: what is wrong, and where the help is
        where = f"; see `{e.ctx.command_path} --help`" if e.ctx is not None else ""
        click.echo(f"error: {' '.join(e.format_message().split()).rstrip('.')}{where}", err=True)
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted; finished runs are kept and the rest resume from their checkpoints", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
