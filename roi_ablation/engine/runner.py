"""One run in one directory: claim it, start, resume or skip it; train; evaluate; record the outcome.

Rerunning the same command in the same run directory is how a run is resumed, so rank 0
first takes the directory's lock (`engine/lock.py`: a second process is refused at once,
naming the holder's pid), then decides what the directory holds and tells every rank:
- a different run (its stored identity differs from this config): refuse, naming the keys;
- this run, complete: nothing to do;
- this run, with a checkpoint: resume from the newest usable one (and say so);
- nothing: start.
User mistakes (bad config values, unreadable data, no usable checkpoint), a diverging
loss and a file that cannot be written (disk full, permissions) end the run with one
clear log line and `metrics.json` status "failed". SIGTERM/SIGINT end it at the next
step boundary with a checkpoint and status "interrupted" (`engine/signals.py`). Bugs
keep their traceback.

The runner reads a `RunSpec` (schedule, seed, device, determinism, identity), not the
config; the model and data come from the builder it is given, called once.
"""

import contextlib
import logging
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Any

from roi_ablation.data.errors import DataError
from roi_ablation.atomic import WriteError
from roi_ablation.engine.build import Builder, Components, Training, build_training
from roi_ablation.engine.checkpoint import FINAL, Checkpointer, saved_checkpoints
from roi_ablation.engine.distributed import DistContext, broadcast_from_main, make_context, process_rank
from roi_ablation.engine.evaluate import Evaluation
from roi_ablation.engine.hooks import (
    CheckpointHook,
    EvaluationHook,
    Evaluator,
    FinalEvaluationHook,
    FinalWeightsHook,
    ProgressHook,
    ScalarsHook,
)
from roi_ablation.engine.identity import identity_diff, read_identity, write_identity
from roi_ablation.engine.lock import RunDirBusy, RunDirLock
from roi_ablation.engine.metrics import RunRecord, read_metrics, write_metrics
from roi_ablation.engine.seeding import configure_determinism, seed_everything
from roi_ablation.engine.signals import Interrupted, StopRequest
from roi_ablation.engine.tensorboard import Board
from roi_ablation.engine.spec import RunSpec
from roi_ablation.engine.trainer import NonFiniteLossError

__all__ = ["Builder", "Components", "Outcome", "RunSpec", "run"]

logger = logging.getLogger(__name__)


class Outcome(str, Enum):
    """How `run` ended; anything but COMPLETE and SKIPPED makes the command exit non-zero."""

    COMPLETE = "complete"
    SKIPPED = "skipped"
    FAILED = "failed"
    REFUSED = "refused"
    INTERRUPTED = "interrupted"


def _decide(spec: RunSpec, run_dir: Path) -> tuple[Outcome | None, str]:
    """What the run directory holds: (REFUSED, why) | (SKIPPED, why) | (None, "") to go ahead."""
    metrics = read_metrics(run_dir)
    complete = metrics is not None and metrics.status == "complete"
    stored = read_identity(run_dir)
    if stored is not None and (complete or saved_checkpoints(run_dir)):
        diff = identity_diff(stored, spec.identity)
        if diff:
            return Outcome.REFUSED, (
                f"{run_dir} holds a different run; refusing to resume it with this config. "
                f"Differences (stored -> current): {'; '.join(diff)}. "
                "Give this run its own directory (e.g. hydra.run.dir=outputs/runs/<new name>) "
                "or rerun with the stored settings."
            )
    if complete and metrics is not None and metrics.iterations == spec.train.max_iter:
        return Outcome.SKIPPED, f"{run_dir} already holds this run, complete ({metrics.iterations} iterations); nothing to do"
    return None, ""


def _claim(spec: RunSpec, run_dir: Path, held: contextlib.ExitStack) -> tuple[Outcome | None, str]:
    """Rank 0: lock the run directory (held until `held` closes), then decide what it holds."""
    try:
        held.enter_context(RunDirLock(run_dir))
    except (RunDirBusy, WriteError) as err:
        return Outcome.REFUSED, str(err)
    return _decide(spec, run_dir)


class Run:
    """One run once its training stack is built: `resume_or_start`, then `train` (whose hooks finish it)."""

    def __init__(self, spec: RunSpec, run_dir: Path, training: Training, record: RunRecord) -> None:
        train = spec.train
        self.run_dir, self.training, self.max_iter, self.record = run_dir, training, train.max_iter, record
        self.state, ctx = training.state, training.trainer.ctx
        self.is_main = ctx.is_main
        self.identity = spec.identity
        self.checkpointer = Checkpointer(run_dir, self.state, ctx, self.identity, train.keep_checkpoints, spec.seed)
        self.board = Board(run_dir, enabled=ctx.is_main)  # last: a setup error leaves no event file
        evaluator = Evaluator(
            self.state.model, training.components.val_set, training.val_loader(), ctx, self.board, run_dir, train.vis_images
        )
        training.trainer.register_hooks([
            ProgressHook(train.max_iter, train.log_period, ctx.is_main),
            ScalarsHook(self.board, train.log_period, train.max_iter),
            CheckpointHook(self.checkpointer, train.checkpoint_period, train.max_iter),
            EvaluationHook(evaluator, train.eval_period, train.max_iter),
            FinalWeightsHook(run_dir / FINAL, self.state.model, ctx.is_main),
            FinalEvaluationHook(evaluator, self._record_result),
        ])

    def resume_or_start(self) -> None:
        """Restore the newest usable checkpoint (CheckpointError, a ValueError, when none is), or start afresh."""
        if self.is_main:
            write_identity(self.run_dir, self.identity)
        path = self.checkpointer.resume()
        if path is None:
            logger.info("Starting a new run in %s", self.run_dir)
        else:
            logger.info("Resuming from %s at iteration %d/%d", path, self.state.iteration, self.max_iter)

    def train(self) -> None:
        """Train to `max_iter`; the hooks checkpoint, evaluate and record on the way and at the end."""
        self.training.trainer.train(self.training.train_batches(self.state.iteration), self.max_iter)

    def ended(self, status: str, **values: Any) -> RunRecord:
        return self.record.ended(status, iterations=self.state.iteration, train_s=self.state.train_s, **values)

    def _record_result(self, result: Evaluation, eval_s: float) -> None:
        record = write_metrics(self.run_dir, self.ended("complete", segm=result.metrics["segm"],
                                                        bbox=result.metrics["bbox"], eval_s=eval_s))
        self.board.hparams(record.to_json())
        logger.info("Run complete: %s (train %.0fs, eval %.0fs)", self.run_dir / "metrics.json", self.state.train_s, eval_s)

    def interrupted(self, err: Interrupted) -> None:
        """Checkpoint the iteration the run stopped at and record it as interrupted."""
        self.checkpointer.save()
        logger.warning("interrupted at iteration %d; rerun the same command to resume", err.iteration)
        if self.is_main:
            write_metrics(self.run_dir, self.ended("interrupted", error=str(err)))


def _fail(run_dir: Path, record: RunRecord, error: BaseException, current: Run | None) -> Outcome:
    """A user's mistake or a fault of the machine: one log line, and the failed run in metrics.json (rank 0)."""
    logger.error("%s", error)
    logger.debug("where it was raised:", exc_info=error)  # shown with hydra.verbose=true
    _record_failure(run_dir, record, str(error), current)
    return Outcome.FAILED


def _record_failure(run_dir: Path, record: RunRecord, message: str, current: Run | None) -> None:
    if process_rank() == 0:
        try:
            write_metrics(run_dir, current.ended("failed", error=message) if current else record.ended("failed", error=message))
        except WriteError as write_error:
            logger.error("the failure could not be recorded either: %s", write_error)


def run(
    spec: RunSpec, run_dir: Path, build: Builder, record: RunRecord, ctx: DistContext | None = None,
    stop_file: Path | None = None,
) -> Outcome:
    """Train and evaluate the run `spec` in `run_dir`; every rank calls this. See the module doc.

    `build()` makes the model and data sets (a `ValueError` from it fails the run with its
    one line). `record` describes the run for metrics.json (its stride is replaced by the built
    model's, `Components.stride`, when that is known). `ctx` defaults to this process's
    place in the torchrun group, on device `spec.device`. `stop_file`: a file whose
    appearance stops the run like a signal (a parallel sweep's, `engine/sweep_stop.py`).
    """
    with contextlib.ExitStack() as held:
        decision, message = broadcast_from_main(_claim(spec, run_dir, held) if process_rank() == 0 else None)
        if decision is Outcome.REFUSED:
            if process_rank() == 0:
                logger.error(message)
            return decision
        if decision is Outcome.SKIPPED:
            logger.info(message)
            return decision
        with StopRequest(stop_file) as stop:
            outcome = _train_and_evaluate(spec, run_dir, build, record, ctx, stop)
            if outcome is Outcome.INTERRUPTED:
                stop.hand_on()  # e.g. submitit's requeue, for the signal it asked for
            return outcome


def _train_and_evaluate(
    spec: RunSpec, run_dir: Path, build: Builder, record: RunRecord, ctx: DistContext | None, stop: StopRequest
) -> Outcome:
    current: Run | None = None
    try:
        try:
            ctx = ctx or make_context(spec.device)
            configure_determinism(spec.deterministic)
            seed_everything(spec.seed + ctx.rank)
            record = replace(record, device=ctx.where())
            components = build()
            if components.stride is not None:
                record = replace(record, stride=components.stride)
            current = Run(spec, run_dir, build_training(spec.train, components, ctx, spec.seed, stop), record)
            current.resume_or_start()
        except ValueError as err:  # config and data mistakes (DataError, CheckpointError are ValueErrors)
            return _fail(run_dir, record, err, current)
        try:
            current.train()
        except Interrupted as err:
            current.interrupted(err)
            return Outcome.INTERRUPTED
        return Outcome.COMPLETE
    except (NonFiniteLossError, WriteError, DataError) as err:  # DataError: an image that fails to decode
        return _fail(run_dir, record, err, current)
    except BaseException as err:
        _record_failure(run_dir, record, f"{type(err).__name__}: {err}", current)
        raise
    finally:
        if current is not None:
            current.board.close()
