"""Stopping a parallel sweep as one: Ctrl-C on a joblib sweep stops every job cleanly.

The jobs of a `hydra/launcher=joblib` sweep run in worker processes. Left alone, the
sweep's process answers Ctrl-C (or SIGTERM) by killing the workers at once: each job
loses the iterations since its last periodic checkpoint, its metrics.json is not
updated, and the user sees joblib's traceback. Instead, while the jobs run, this
callback handles the first SIGINT/SIGTERM in the sweep's process:

- it writes the sweep's stop file, `<sweep dir>/.stop`;
- every running job sees it at its next step boundary (`engine/signals.py`, checked
  whether or not the job got the signal too) and stops as on a signal: checkpoint of
  the current iteration, status "interrupted";
- the jobs still queued see it and do not start;
- the sweep then ends as always: its tables, the list of jobs that did not complete,
  exit status 1. Rerunning the command resumes every job.

A second signal aborts at once (joblib's own behaviour; the periodic checkpoints stay).
The stop file is removed when the sweep ends, and at the start of the next one (after a
sweep's process was itself killed). With the basic launcher the jobs run in the sweep's
own process and the run's own handler already does all this.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

logger = logging.getLogger(__name__)

STOP_FILE_NAME = ".stop"
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_file(sweep_dir: Path | str) -> Path:
    """Where a sweep's stop request is written (and where its jobs look for it)."""
    return Path(sweep_dir) / STOP_FILE_NAME


class StopCallback(Callback):
    """Turns the first SIGINT/SIGTERM of a parallel sweep into its stop file; see the module doc."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.previous: dict[int, Any] = {}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.path = stop_file(config.hydra.sweep.dir)
        self.path.unlink(missing_ok=True)  # left by a sweep whose process was killed
        if "joblib" in str(config.hydra.launcher.get("_target_", "")).lower():
            self.previous = {s: signal.signal(s, self._handle) for s in SIGNALS}

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._restore()
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        assert self.path is not None
        self._restore()  # a second signal: joblib's abort
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError as err:
            logger.error("cannot write the stop file %s (%s): stopping at once", self.path, err)
            signal.raise_signal(signum)
            return
        logger.warning(
            "%s received: stopping the sweep; running jobs stop after their current step with a checkpoint, "
            "queued jobs do not start (send it again to abort at once)",
            signal.Signals(signum).name,
        )

    def _restore(self) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.previous = {}
