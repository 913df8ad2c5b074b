"""Progress of training: a one-line bar with ETA on a terminal, plain log lines always.

Log lines (every `train.log_period` iterations) go through `logging`, so they reach
Hydra's log file in the run dir; the bar is drawn on stderr only when it is a
terminal, and cleared before each log line so the two never interleave.
"""

import datetime
import logging
import sys
import time
from typing import TextIO

logger = logging.getLogger(__name__)

BAR_WIDTH = 30
REDRAW_S = 0.2


def format_eta(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))


class Progress:
    """Tracks iteration speed since (re)start and reports it."""

    def __init__(self, start_iter: int, max_iter: int, log_period: int, enabled: bool, stream: TextIO | None = None) -> None:
        self.start_iter, self.max_iter, self.log_period, self.enabled = start_iter, max_iter, log_period, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = enabled and self.stream.isatty()
        self.started = time.perf_counter()
        self.last_draw = 0.0

    def eta_s(self, iteration: int) -> float:
        done = iteration - self.start_iter
        elapsed = time.perf_counter() - self.started
        return elapsed / done * (self.max_iter - iteration) if done else 0.0

    def update(self, iteration: int, losses: dict[str, float], lr: float, iter_s: float, data_s: float) -> None:
        """Report the end of `iteration` (1-based): log line on the period and at the end, bar redraw."""
        if not self.enabled:
            return
        eta = self.eta_s(iteration)
        if self.log_period and (iteration % self.log_period == 0 or iteration == self.max_iter):
            self._clear()
            terms = "  ".join(f"{k} {v:.4f}" for k, v in losses.items())
            logger.info(
                "iter %d/%d  %s  lr %.3g  %.3fs/it (data %.3fs)  eta %s",
                iteration, self.max_iter, terms, lr, iter_s, data_s, format_eta(eta),
            )
        if self.interactive and (time.perf_counter() - self.last_draw > REDRAW_S or iteration == self.max_iter):
            self._draw(iteration, losses.get("loss", float("nan")), eta)

    def _draw(self, iteration: int, loss: float, eta: float) -> None:
        filled = int(BAR_WIDTH * iteration / self.max_iter)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\r[{bar}] {iteration}/{self.max_iter} loss {loss:.3f} eta {format_eta(eta)}\033[K")
        self.stream.flush()
        self.last_draw = time.perf_counter()

    def _clear(self) -> None:
        if self.interactive and self.last_draw:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line so later output starts on a fresh one."""
        if self.interactive and self.last_draw:
            self.stream.write("\n")
            self.stream.flush()
            self.last_draw = 0.0
