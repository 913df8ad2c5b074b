"""Stopping on a signal: SIGTERM, SIGINT (Ctrl-C) and SIGUSR2 end a run at the next step boundary.

The handler only records the request; the trainer checks it before each step (all
ranks agree on it, so they stop at the same iteration), then the runner saves a
checkpoint of the current iteration, logs "interrupted at iteration N; rerun the same
command to resume", records `status: "interrupted"` in metrics.json and returns
`Outcome.INTERRUPTED` (the command exits non-zero, without a traceback). A step is
never cut in half, so the checkpoint is exactly what an uninterrupted run had at N.
A second signal while a stop is pending stops at once, as if no handler were installed
(Ctrl-C twice when an evaluation takes too long); the last periodic checkpoint stays.
A stop file (`StopRequest(stop_file)`) asks the same from outside the process: when it
exists at a step boundary the run stops as on a signal. A parallel sweep uses it to stop
all its jobs at once (`engine/sweep_stop.py`).

SLURM preemption and time limits, with `hydra/launcher=submitit_slurm`:
- Preemption: SLURM sends SIGTERM to every task of the job, waits `GraceTime`, then
  kills. The run stops after its current step, saves its checkpoint and returns; with
  `PreemptMode=REQUEUE` SLURM requeues the job, which reruns the same Hydra job in the
  same run directory and resumes from that checkpoint, bit-identical to an
  uninterrupted run.
- Time limit: submitit sends SIGUSR2 `hydra.launcher.signal_delay_s` (default 120 s)
  before the limit. It is handled like SIGTERM, then handed on to the handler that was
  installed before ours (submitit's), which requeues the job when
  `hydra.launcher.max_num_timeout` > 0 and exits; the requeued job resumes.
  So set `hydra.launcher.max_num_timeout` to the number of requeues a run may need and
  keep `train.checkpoint_period` well below what a job's time limit allows: a signal
  that arrives during an evaluation is honoured when it ends, and a kill before that
  loses at most `checkpoint_period` iterations.
"""

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import torch

from roi_ablation.engine.distributed import DistContext, all_reduce_max

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2)
STOP_FILE = 0x100  # `Interrupted.signum` of a stop by the stop file (above every signal number)
Handler = Callable[[int, FrameType | None], Any] | int | None


class Interrupted(Exception):
    """A stop was requested by `signum` (or `STOP_FILE`); raised at a step boundary, after `iteration` complete steps."""

    def __init__(self, iteration: int, signum: int) -> None:
        self.iteration, self.signum = iteration, signum
        cause = "the sweep's stop file" if signum == STOP_FILE else signal.Signals(signum).name
        super().__init__(f"interrupted at iteration {iteration} by {cause}")


class StopRequest:
    """`with StopRequest() as stop:` installs the handlers for the block (main thread only) and restores them after.

    `stop_file`: a path whose existence is a stop request too (checked at each step boundary).
    """

    def __init__(self, stop_file: Path | None = None) -> None:
        self.signum: int | None = None
        self.stop_file = stop_file
        self.previous: dict[int, Handler] = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():  # signal.signal works only there
            self.previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._restore()

    def _restore(self) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.previous = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # the second signal: stop now, as without our handler
            self._restore()
            signal.raise_signal(signum)
            return
        self.signum = signum
        logger.warning(
            "%s received: stopping after the current step (send it again to stop at once)", signal.Signals(signum).name
        )

    def check(self, ctx: DistContext, iteration: int) -> None:
        """Raise `Interrupted` if any rank was asked to stop (a collective call under torchrun)."""
        signum = self.signum or 0
        if not signum and self.stop_file is not None and self.stop_file.exists():
            signum = STOP_FILE
        if ctx.distributed:
            signum = int(all_reduce_max(ctx, torch.tensor(signum, device=ctx.device)).item())
        if signum:
            raise Interrupted(iteration, signum)

    def hand_on(self) -> None:
        """Call the handler that was installed before ours for the signal that stopped the run, if it was a
        Python function (e.g. submitit's requeue on SIGUSR2); the default actions are not replayed."""
        previous = self.previous.get(self.signum or 0)
        self._restore()
        if callable(previous) and previous is not signal.default_int_handler and self.signum is not None:
            previous(self.signum, None)
