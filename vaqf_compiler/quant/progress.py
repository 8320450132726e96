"""A small progress line for training: bar, epoch, step/total, loss, rate, time left.

On a terminal it redraws one line (at most every 0.1 s). Otherwise (CI logs,
pipes) it prints a line only at the end of every `every`-th epoch and every
`LOG_EVERY_STEPS` steps inside long epochs, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

LOG_EVERY_STEPS = 500
REDRAW_S = 0.1
BAR_WIDTH = 20


class Progress:
    def __init__(self, label: str, epochs: int, steps_per_epoch: int, stream: TextIO | None = None, enabled: bool = True):
        self.label = label
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.total = epochs * steps_per_epoch
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and self.total > 0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        # Non-TTY: about ten epoch lines per stage at most.
        self.every = max(1, -(-epochs // 10))
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.images = 0
        self.first_step: int | None = None  # a resumed stage starts past 0
        self.loss_sum = 0.0
        self.loss_n = 0

    def _line(self, epoch: int, step: int) -> str:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        loss = self.loss_sum / max(self.loss_n, 1)
        done = step / self.total
        filled = int(BAR_WIDTH * done)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        steps_here = max(step - self.first_step, 1)
        eta = (self.total - step) * elapsed / steps_here
        return (
            f"{self.label:<6} [{bar}] epoch {epoch + 1}/{self.epochs}  step {step}/{self.total}  "
            f"loss {loss:.4f}  {self.images / elapsed:.0f} img/s  eta {eta:.0f} s"
        )

    def update(self, epoch: int, step: int, loss: float, images: int) -> None:
        """After optimizer step `step` (1-based over the stage) of `epoch` (0-based)."""
        if self.first_step is None:
            self.first_step = step - 1
        self.images += images
        self.loss_sum += loss
        self.loss_n += 1
        if not self.enabled:
            return
        now = time.perf_counter()
        end_of_epoch = step % self.steps_per_epoch == 0
        if self.tty:
            if now - self.last_draw >= REDRAW_S or step == self.total:
                self.stream.write("\r\033[K" + self._line(epoch, step))
                self.stream.flush()
                self.last_draw = now
        elif (end_of_epoch and ((epoch + 1) % self.every == 0 or epoch + 1 == self.epochs)) or (
            (step - epoch * self.steps_per_epoch) % LOG_EVERY_STEPS == 0 and not end_of_epoch
        ):
            print(self._line(epoch, step), file=self.stream, flush=True)
        if end_of_epoch:  # the loss shown is the mean since the last epoch line
            self.loss_sum, self.loss_n = 0.0, 0

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
