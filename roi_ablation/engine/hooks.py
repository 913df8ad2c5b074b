"""The run's duties around the training loop, one hook each, given explicit arguments.

Order matters only at the end: the runner registers the final checkpoint before the
final weights, and both before the final evaluation, so a run killed while evaluating
resumes with nothing left to train.
"""

import logging
import time
from collections.abc import Callable
from pathlib import Path

from torch import nn

from roi_ablation.atomic import atomic_write_json
from roi_ablation.engine.checkpoint import Checkpointer, save_final_weights
from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.evaluate import Evaluation, evaluate
from roi_ablation.engine.progress import Progress
from roi_ablation.engine.seeding import rng_preserved
from roi_ablation.engine.tensorboard import Board
from roi_ablation.engine.trainer import HookBase, StepInfo

logger = logging.getLogger(__name__)


def _due(iteration: int, period: int, max_iter: int) -> bool:
    """A periodic duty falls due every `period` iterations (0: never) before the last one, which has its own."""
    return bool(period) and iteration % period == 0 and iteration < max_iter


class Evaluator:
    """Evaluates the model without moving the training's random streams; rank 0 logs, draws and writes the results."""

    def __init__(self, model: nn.Module, val_set: object, val_loader: object, ctx: DistContext, board: Board,
                 run_dir: Path, vis_images: int) -> None:
        self.model, self.val_set, self.val_loader, self.ctx = model, val_set, val_loader, ctx
        self.board, self.run_dir, self.vis_images = board, run_dir, vis_images

    def __call__(self, iteration: int) -> Evaluation | None:
        with rng_preserved():
            result = evaluate(self.model, self.val_set, self.val_loader, self.ctx, keep=self.vis_images)  # type: ignore[arg-type]
        if result is not None:
            self.board.evaluation(result.metrics, iteration)
            self.board.images(result.predictions.samples, self.val_set.category_names, iteration)  # type: ignore[attr-defined]
            self.board.flush()
            for iou_type, entries in result.predictions.results.items():
                atomic_write_json(self.run_dir / f"results_{iou_type}.json", entries)
            logger.info(
                "eval at iteration %d: segm AP %.2f, bbox AP %.2f",
                iteration, result.metrics["segm"]["AP"] or 0.0, result.metrics["bbox"]["AP"] or 0.0,
            )
        return result


class ProgressHook(HookBase):
    """Log lines every `log_period` iterations and a bar on a terminal (rank 0)."""

    def __init__(self, max_iter: int, log_period: int, enabled: bool) -> None:
        self.max_iter, self.log_period, self.enabled = max_iter, log_period, enabled
        self.progress: Progress | None = None

    def before_train(self, iteration: int) -> None:
        self.progress = Progress(iteration, self.max_iter, self.log_period, self.enabled)

    def after_step(self, step: StepInfo) -> None:
        assert self.progress is not None
        self.progress.update(step.iteration, step.losses, step.lr, step.iter_s, step.data_s)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()


class ScalarsHook(HookBase):
    """Loss terms, lr and step times to TensorBoard every `period` iterations and at the last one."""

    def __init__(self, board: Board, period: int, max_iter: int) -> None:
        self.board, self.period, self.max_iter = board, max(period, 1), max_iter

    def after_step(self, step: StepInfo) -> None:
        if step.iteration % self.period == 0 or step.iteration == self.max_iter:
            scalars = {f"loss/{k}" if k != "loss" else "loss/total": v for k, v in step.losses.items()}
            self.board.scalars({**scalars, "lr": step.lr, "time/iter": step.iter_s, "time/data": step.data_s}, step.iteration)


class CheckpointHook(HookBase):
    """A checkpoint every `period` iterations (0: none on the way) and one at the end."""

    def __init__(self, checkpointer: Checkpointer, period: int, max_iter: int) -> None:
        self.checkpointer, self.period, self.max_iter = checkpointer, period, max_iter

    def after_step(self, step: StepInfo) -> None:
        if _due(step.iteration, self.period, self.max_iter):
            self.checkpointer.save()

    def after_train(self, iteration: int) -> None:
        self.checkpointer.save()  # a no-op when this iteration is saved already


class EvaluationHook(HookBase):
    """`evaluate(iteration)` every `period` iterations before the last (0: only the final evaluation)."""

    def __init__(self, evaluate: Callable[[int], object], period: int, max_iter: int) -> None:
        self.evaluate, self.period, self.max_iter = evaluate, period, max_iter

    def after_step(self, step: StepInfo) -> None:
        if _due(step.iteration, self.period, self.max_iter):
            self.evaluate(step.iteration)


class FinalWeightsHook(HookBase):
    """The trained weights alone at `path` (rank 0), rewritten only when this process trained or it is missing."""

    def __init__(self, path: Path, model: nn.Module, enabled: bool) -> None:
        self.path, self.model, self.enabled = path, model, enabled
        self.trained = False

    def after_step(self, step: StepInfo) -> None:
        self.trained = True

    def after_train(self, iteration: int) -> None:
        if self.enabled and (self.trained or not self.path.exists()):
            save_final_weights(self.path, self.model)


class FinalEvaluationHook(HookBase):
    """The final evaluation; rank 0 hands it and its duration to `record` (metrics.json, HParams)."""

    def __init__(self, evaluate: Callable[[int], Evaluation | None], record: Callable[[Evaluation, float], None]) -> None:
        self.evaluate, self.record = evaluate, record

    def after_train(self, iteration: int) -> None:
        start = time.perf_counter()
        result = self.evaluate(iteration)
        if result is not None:
            self.record(result, time.perf_counter() - start)
