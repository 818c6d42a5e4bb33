"""How a run executes, none of which changes its numbers: the device, CPU threads, and the fast path for
accelerators (bf16 autocast where every part of a run's step is safe in it, channels-last memory for convolutional
networks, torch.compile). Execution options never enter a run's identity; metrics.json records which were in force
(under cost.execution)."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import torch

from ganbench.build import Setup
from ganbench.errors import ConfigError

DEFAULT_THREADS = 1  # CPU results are bit-identical for a fixed thread count; 1 per worker process


@dataclass(frozen=True)
class ExecOptions:
    """How to execute a run; none of it changes the numbers, so none of it is in the spec or run_id."""

    device: str = "cpu"
    amp: bool = False  # bf16 autocast in the training step where every trick is bf16-safe (see prepare below)
    channels_last: bool = False  # channels-last memory for image networks and batches
    compile: bool = False  # torch.compile G and D
    ckpt_every: int = 1000
    # None: a bar when stderr is a terminal, nothing elsewhere (a suite's runs); True: a bar on a terminal, a line per
    # tenth of the steps elsewhere (`ganbench run`); False: nothing (-q). A suite's own progress: ganbench.launch.
    progress: bool | None = None
    verbose: bool = False  # a line per finished run of a suite (its time and directory), beside a bar too (-v)
    stop_after: int | None = None  # stop (as if killed) after this many steps; for tests of resume
    plugins: tuple[str, ...] = ()  # the user's plugins (modules or .py paths), loaded in whichever process runs the job
    tensorboard: str | None = None  # live curves of every run under this directory (monitor.Live)
    # Train the pending seeds of a cell as one stacked model (ganbench.batched, `bench --batch-seeds`): the same data
    # order, initialisation and latents per seed, so only float rounding differs from training them one by one (the
    # one option that changes numbers, at that level); recorded in metrics.json as cost.execution.batch_seeds.
    batch_seeds: bool = False


def check_device(name: str, where: str = "--device") -> torch.device:
    """A device this machine has, or one ConfigError line: an unknown name, CUDA/MPS where torch sees none, or a
    CUDA index past the last GPU."""

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"{where} {name!r} is not a device; use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"{where} {name!r}: torch sees no CUDA GPU on this machine; use --device cpu")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"{where} {name!r}: this machine has {count} CUDA GPU(s), cuda:0..cuda:{count - 1}")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"{where} {name!r}: MPS is not available on this machine; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"{where} {name!r}: ganbench runs on cpu, cuda or mps")
    return device


def set_threads(n: int | None = DEFAULT_THREADS) -> None:
    if n:
        torch.set_num_threads(n)


def bf16_blockers(s: Setup) -> list[str]:
    """The tricks of a run that must not run in bf16 (gradient penalties: a double backward through bf16
    activations loses the precision the penalty measures; StudioGAN saw NaNs from WGAN-GP under fp16)."""
    return [t.name for t in s.tricks.tricks if not type(t).bf16_safe]


def fast_path(s: Setup, amp: bool, channels_last: bool, compile: bool) -> dict:
    """Apply the requested options to the run's networks (in place) and return what is in force, with reasons."""
    record: dict = {"amp": "off", "channels_last": False, "compile": False}
    if amp:
        blockers = bf16_blockers(s)
        if blockers:
            record["amp"] = f"off: {', '.join(blockers)} not bf16-safe"
        else:
            record["amp"] = "bf16"
    if channels_last and s.data.kind == "image":
        s.G.to(memory_format=torch.channels_last)
        s.D.to(memory_format=torch.channels_last)
        record["channels_last"] = True
    if compile:
        s.G.compile()
        s.D.compile()
        record["compile"] = True
    s.execution = record
    s.channels_last = record["channels_last"]
    return record


@contextlib.contextmanager
def step_context(s: Setup) -> Iterator[None]:
    """bf16 autocast around a training step when the run's fast path has it on; a no-op otherwise."""
    if s.execution.get("amp") == "bf16":
        with torch.autocast(s.device.type, dtype=torch.bfloat16):
            yield
    else:
        yield
