"""The fast path for accelerators: bf16 autocast where every part of a run's step is safe in it, channels-last
memory for convolutional networks, and torch.compile. Execution options, like the device: they never enter a run's
identity, and metrics.json records which were in force (under cost.execution)."""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from ganbench.build import Setup


def bf16_blockers(s: Setup) -> list[str]:
    """The tricks of a run that must not run in bf16 (gradient penalties: a double backward through bf16
    activations loses the precision the penalty measures; StudioGAN saw NaNs from WGAN-GP under fp16)."""
    return [t.name for t in s.tricks.tricks if not type(t).bf16_safe]


def prepare(s: Setup, amp: bool, channels_last: bool, compile: bool) -> dict:
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
