"""Peak memory of the current process, resettable between the phases of a run (Linux: VmHWM, reset through
/proc/self/clear_refs; elsewhere the process's max RSS, which cannot be reset)."""
from __future__ import annotations

import contextlib
import resource
from typing import Iterator
from pathlib import Path

import torch


def reset_peak(device: torch.device) -> None:
    """Start a new peak: the next peak_mib measures from now (where the platform allows it)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
    except OSError:
        pass


def peak_mib(device: torch.device) -> float:
    """The peak memory since the last reset_peak: CUDA max allocated on a GPU, else the process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def kind(device: torch.device) -> str:
    return "cuda max_memory_allocated" if device.type == "cuda" else "process peak RSS (VmHWM)"


@contextlib.contextmanager
def peak_of(device: torch.device, into: dict, key: str) -> Iterator[None]:
    """The peak memory (MiB) of what runs inside the block, stored as into[key] when it ends."""
    reset_peak(device)
    yield
    into[key] = peak_mib(device)
