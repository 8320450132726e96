"""Stage progress on stderr for long commands: `[2/6] search ... 0.41 s`, and a text progress bar.

Plain text, no dependency: on a terminal the bar redraws in place (`\\r`); on a
pipe or a log file it prints a line at each quarter, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import IO


@dataclass
class StageTime:
    name: str
    seconds: float
    note: str = ""


@dataclass
class Progress:
    total: int  # stages announced
    stream: IO[str] | None = field(default_factory=lambda: sys.stderr)  # None: silent
    stages: list[StageTime] = field(default_factory=list)
    _name: str = ""
    _start: float = 0.0
    _bar_shown: int = -1
    _bar_start: float = 0.0

    def _write(self, text: str) -> None:
        if self.stream is not None:
            self.stream.write(text)
            self.stream.flush()

    def _tty(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def start(self, name: str, what: str) -> None:
        self._name, self._start, self._bar_shown = name, time.perf_counter(), -1
        self._write(f"[{len(self.stages) + 1}/{self.total}] {name}: {what}\n")

    def done(self, note: str = "") -> float:
        seconds = time.perf_counter() - self._start
        self.stages.append(StageTime(self._name, seconds, note))
        self._write(f"      {self._name} done in {seconds:.2f} s" + (f" ({note})" if note else "") + "\n")
        return seconds

    def bar(self, done: int, total: int, label: str = "") -> None:
        """Show `done` of `total` items of the current stage; `bar(0, n)` starts the bar's clock."""
        if done == 0 or self._bar_start < self._start:
            self._bar_start = time.perf_counter()
        if self.stream is None or total <= 0 or done == 0:
            return
        width = 30
        filled = width * done // total
        elapsed = time.perf_counter() - self._bar_start
        eta = f", {elapsed / done * (total - done):.0f} s left" if 0 < done < total else ""
        line = f"      [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label} ({elapsed:.0f} s{eta})"
        if self._tty():
            self._write("\r" + line + ("\n" if done == total else ""))
            return
        quarter = 4 * done // total
        if quarter > self._bar_shown:  # a pipe: one line per quarter
            self._bar_shown = quarter
            self._write(line + "\n")
