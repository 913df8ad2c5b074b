"""What a run says while it works: training progress, evaluation progress, file-only detail.

Log lines go through `logging`, so they reach Hydra's log file in the run dir (with
timestamps) as well as the console. The bars are drawn on stderr only when it is a
terminal, and cleared before each log line so the two never interleave. Detail that
would flood the console (pycocotools' 24-line summaries) goes to the log file only.
"""

import collections
import datetime
import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

logger = logging.getLogger(__name__)

BAR_WIDTH = 30
REDRAW_S = 0.2
ETA_WINDOW = 50  # iterations in the moving average behind the ETA
EVAL_LOG_EVERY_S = 20.0  # without a terminal: one evaluation progress line this often


def format_eta(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))


def log_to_files(log: logging.Logger, message: str, *args: object) -> None:
    """Log at INFO through the file handlers of `log`'s chain only (Hydra's `<job>.log`), not the console."""
    if not log.isEnabledFor(logging.INFO):
        return
    record = log.makeRecord(log.name, logging.INFO, "(file only)", 0, message, args, None)
    current: logging.Logger | None = log
    while current is not None:
        for handler in current.handlers:
            if isinstance(handler, logging.FileHandler) and record.levelno >= handler.level:
                handler.handle(record)
        current = current.parent if current.propagate else None


class TerminalBar:
    """A one-line bar redrawn in place on a terminal stream; does nothing on any other stream."""

    def __init__(self, stream: TextIO | None, enabled: bool) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.active = enabled and self.stream.isatty()
        self.last_draw = 0.0

    def draw(self, done: int, total: int, text: str, force: bool = False) -> None:
        """Redraw at most every REDRAW_S seconds, unless `force` (e.g. the last step)."""
        if not self.active or not (force or time.perf_counter() - self.last_draw > REDRAW_S):
            return
        filled = int(BAR_WIDTH * done / max(total, 1))
        self.stream.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} {text}\033[K")
        self.stream.flush()
        self.last_draw = time.perf_counter()

    def clear(self) -> None:
        if self.active and self.last_draw:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line so later output starts on a fresh one."""
        if self.active and self.last_draw:
            self.stream.write("\n")
            self.stream.flush()
            self.last_draw = 0.0


class Progress:
    """Training progress: a log line every `log_period` iterations and a bar, both with an ETA.

    The ETA is the mean time of the last ETA_WINDOW iterations times the iterations left,
    so it follows a machine that slows down or speeds up instead of averaging the whole run.
    """

    def __init__(self, start_iter: int, max_iter: int, log_period: int, enabled: bool, stream: TextIO | None = None) -> None:
        self.start_iter, self.max_iter, self.log_period, self.enabled = start_iter, max_iter, log_period, enabled
        self.bar = TerminalBar(stream, enabled)
        self.recent: collections.deque[float] = collections.deque(maxlen=ETA_WINDOW)

    def eta_s(self, iteration: int) -> float:
        return sum(self.recent) / len(self.recent) * (self.max_iter - iteration) if self.recent else 0.0

    def update(self, iteration: int, losses: dict[str, float], lr: float, iter_s: float, data_s: float) -> None:
        """Report the end of `iteration` (1-based): log line on the period and at the end, bar redraw."""
        if not self.enabled:
            return
        self.recent.append(iter_s)
        eta = self.eta_s(iteration)
        if self.log_period and (iteration % self.log_period == 0 or iteration == self.max_iter):
            self.bar.clear()
            terms = "  ".join(f"{k} {v:.4f}" for k, v in losses.items())
            logger.info(
                "iter %d/%d  %s  lr %.3g  %.3fs/it (data %.3fs)  eta %s",
                iteration, self.max_iter, terms, lr, iter_s, data_s, format_eta(eta),
            )
        text = f"loss {losses.get('loss', float('nan')):.3f} eta {format_eta(eta)}"
        self.bar.draw(iteration, self.max_iter, text, force=iteration == self.max_iter)

    def close(self) -> None:
        self.bar.close()


class EvalProgress:
    """Progress of one evaluation: a bar on a terminal, else a log line every `log_every_s` seconds.

    `total_images` is the whole validation set (what the user asked for); `shard_images`
    is what this process predicts, which is what the bar and the ETA count.
    """

    def __init__(
        self,
        total_images: int,
        shard_images: int,
        enabled: bool,
        stream: TextIO | None = None,
        log_every_s: float = EVAL_LOG_EVERY_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.shard_images, self.enabled, self.log_every_s, self.clock = shard_images, enabled, log_every_s, clock
        self.bar = TerminalBar(stream, enabled)
        self.done = 0
        self.started = self.last_log = clock()
        if enabled:
            logger.info("evaluating %d images", total_images)

    def eta_s(self) -> float:
        elapsed = self.clock() - self.started
        return elapsed / self.done * (self.shard_images - self.done) if self.done else 0.0

    def advance(self, images: int) -> None:
        """`images` more images predicted."""
        if not self.enabled:
            return
        self.done += images
        eta = format_eta(self.eta_s())
        if not self.bar.active and self.clock() - self.last_log >= self.log_every_s:
            logger.info("evaluated %d/%d images, eta %s", self.done, self.shard_images, eta)
            self.last_log = self.clock()
        self.bar.draw(self.done, self.shard_images, f"images evaluated, eta {eta}", force=self.done >= self.shard_images)

    def close(self) -> None:
        """End the bar and say what comes next (scoring takes a while too)."""
        if not self.enabled:
            return
        self.bar.close()
        elapsed = self.clock() - self.started
        logger.info("predicted %d images in %.0fs; scoring with pycocotools", self.done, elapsed)
