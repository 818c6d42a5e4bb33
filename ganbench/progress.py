"""Progress that suits where it is written: a tqdm bar on a terminal, plain lines anywhere else (a log file, CI, a
notebook: a bar redrawn into a file is noise), or nothing."""
from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

from ganbench.console import seconds

RUN_LINES = 0.1  # a single run's progress off a terminal: one line per tenth of its steps
BAR_DESC = 40  # characters of a bar's description


class Progress:
    """A count towards `total`. `show`: False, nothing; None, a bar on a terminal and nothing elsewhere (a suite's
    runs inside workers); True, a bar on a terminal and lines elsewhere. Off a terminal a line is written for
    every finished item with its note (`every` None: a suite's cells, `[12/81] ring8 ns s0: ok (14 s)`), or each
    time another `every` share of the total is done (a run's steps, `run: step 300/3000 (10%), 12 s`). With
    `notes`, each item's note is also written above a terminal's bar (verbose)."""

    def __init__(self, total: int, desc: str = "", unit: str = "it", show: bool | None = True,
                 every: float | None = None, initial: int = 0, leave: bool = True, notes: bool = False,
                 stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.mode = "off" if show is False else "bar" if tty else "lines" if show else "off"
        self.total, self.desc, self.unit, self.every, self.notes = total, desc, unit, every, notes
        self.n, self.t0 = initial, time.perf_counter()
        self.tick = self._tick(initial)
        self.bar = tqdm(total=total, initial=initial, desc=desc[:BAR_DESC], unit=unit, leave=leave,
                        file=self.stream) if self.mode == "bar" else None

    def _tick(self, n: int) -> int:
        return int(n / max(self.total, 1) / self.every + 1e-9) if self.every else n

    def write(self, line: str) -> None:
        """A line on the stream (above the bar on a terminal)."""
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        elif self.mode == "lines":
            print(line, file=self.stream, flush=True)

    def update(self, n: int = 1, note: str | None = None) -> None:
        """`n` more items done; `note` says what the last one was."""
        self.n += n
        if self.bar is not None:
            self.bar.update(n)
            if self.notes and note:
                self.write(f"[{self.n}/{self.total}] {note}")
            return
        if self.mode != "lines":
            return
        if self.every is None:
            self.write(f"[{self.n}/{self.total}] {note or self.desc}")
        elif self._tick(self.n) > self.tick:
            self.tick = self._tick(self.n)
            share = 100 * self.n // max(self.total, 1)
            self.write(f"{self.desc}: {self.unit} {self.n}/{self.total} ({share}%), "
                       f"{seconds(time.perf_counter() - self.t0)}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
