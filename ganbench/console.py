"""How much the command line says: quiet (-q: results and errors only), normal, or verbose (-v: also per-run lines,
paths and timings). Light to import (the command line's start-up); progress bars and lines: ganbench.progress."""
from __future__ import annotations

from typing import Callable

QUIET, NORMAL, VERBOSE = 0, 1, 2
_level = NORMAL  # the command line's level in this process (set per invocation by ganbench.cli)


def set_level(level: int) -> None:
    global _level
    _level = level


def level() -> int:
    return _level


def gated(echo: Callable[[str], None], verbosity: int) -> Callable[..., None]:
    """`echo` for messages at a level: say(msg) at the normal level, say(msg, QUIET) always (results, errors),
    say(msg, VERBOSE) only with -v."""

    def say(msg: str, at: int = NORMAL) -> None:
        if verbosity >= at:
            echo(msg)

    return say


def seconds(s: float) -> str:
    """A duration for a progress line: 2.3 s, 14 s, 3 min 5 s."""
    if s < 10:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    return f"{int(s // 60)} min {int(s % 60)} s"
