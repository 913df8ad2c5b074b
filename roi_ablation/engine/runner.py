"""One run in one directory: start, resume, or skip it; train; evaluate; record the outcome.

Rerunning the same command in the same run directory is how a run is resumed, so
the runner first decides (on rank 0, shared with all ranks) what the directory holds:
- a different run (its stored identity differs from this config): refuse, naming the keys;
- this run, complete: nothing to do;
- this run, with a checkpoint: resume from it (and say so);
- nothing: start.
User mistakes (bad config values, unreadable data) and a diverging loss end the run
with one clear log line and `metrics.json` status "failed"; bugs keep their traceback.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from roi_ablation.engine import checkpoint as ckpt
from roi_ablation.engine.atomic import atomic_write_json
from roi_ablation.engine.distributed import DistContext, broadcast_from_main, gather_to_main, make_context, process_rank
from roi_ablation.engine.evaluate import Evaluation, evaluate
from roi_ablation.engine.identity import identity_diff, read_identity, run_identity, write_identity
from roi_ablation.engine.loader import BatchSamplerFactory, Collate, TrainBatches, eval_loader, plain_batches, train_loader
from roi_ablation.engine.metrics import read_metrics, write_metrics
from roi_ablation.engine.progress import Progress
from roi_ablation.engine.schedule import build_optimizer, build_scheduler, scaled_lr, validate_train_config
from roi_ablation.engine.seeding import (
    capture_rng_state,
    configure_determinism,
    derive_seed,
    restore_rng_state,
    rng_preserved,
    seed_everything,
)
from roi_ablation.engine.tensorboard import Board
from roi_ablation.engine.trainer import NonFiniteLossError, Trainer

logger = logging.getLogger(__name__)


@dataclass
class Components:
    """What a run trains and evaluates; built from the config by the entry point (or a test)."""

    model: nn.Module
    train_set: Dataset
    val_set: Any  # a Dataset with .coco, .image_ids, .label_to_category, .category_names
    collate: Collate
    make_batches: BatchSamplerFactory = plain_batches


Builder = Callable[[DictConfig], Components]


class Outcome(str, Enum):
    """How `run` ended; anything but COMPLETE and SKIPPED makes the command exit with 1."""

    COMPLETE = "complete"
    SKIPPED = "skipped"
    FAILED = "failed"
    REFUSED = "refused"


def _decide(cfg: DictConfig, run_dir: Path) -> tuple[Outcome | None, str]:
    """What the run directory holds: (REFUSED, why) | (SKIPPED, why) | (None, "") to go ahead."""
    metrics = read_metrics(run_dir)
    complete = bool(metrics and metrics.get("status") == "complete")
    stored = read_identity(run_dir)
    if stored is not None and (complete or (run_dir / ckpt.LAST).exists()):
        diff = identity_diff(stored, run_identity(cfg))
        if diff:
            return Outcome.REFUSED, (
                f"{run_dir} holds a different run; refusing to resume it with this config. "
                f"Differences (stored -> current): {'; '.join(diff)}. "
                "Give this run its own directory (e.g. hydra.run.dir=outputs/runs/<new name>) "
                "or rerun with the stored settings."
            )
    if complete and metrics and metrics.get("iterations") == int(cfg.train.max_iter):
        return Outcome.SKIPPED, f"{run_dir} already holds this run, complete ({metrics['iterations']} iterations); nothing to do"
    return None, ""


class Run:
    """One run once its components are built: `resume_or_start`, then `train`, then `finish`."""

    def __init__(self, cfg: DictConfig, run_dir: Path, ctx: DistContext, components: Components) -> None:
        self.cfg, self.run_dir, self.ctx, self.c = cfg, run_dir, ctx, components
        train_cfg = cfg.train
        self.max_iter = int(train_cfg.max_iter)
        self.per_rank_batch = int(train_cfg.batch_size) // ctx.world_size
        model = components.model.to(ctx.device)
        amp = bool(train_cfg.amp) and ctx.device.type == "cuda"
        optimizer = build_optimizer(model, train_cfg)
        self.state = ckpt.TrainingState(
            model=model,
            optimizer=optimizer,
            scheduler=build_scheduler(optimizer, train_cfg),
            scaler=torch.amp.GradScaler(ctx.device.type, enabled=amp),
        )
        self.identity = run_identity(cfg)
        self.saved_iter = -1
        trained = (
            DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
            if ctx.distributed
            else model
        )
        clip = None if train_cfg.clip_grad_norm is None else float(train_cfg.clip_grad_norm)
        self.trainer = Trainer(trained, self.state, ctx, amp, clip)
        self.batches = TrainBatches(
            len(components.train_set), self.per_rank_batch, ctx, int(cfg.seed), 0, components.make_batches  # type: ignore[arg-type]
        )
        self.val_loader = eval_loader(components.val_set, components.collate, ctx, self.per_rank_batch, int(train_cfg.num_workers))
        logger.info(
            "device %s x%d, batch %d, lr %.4g, AMP %s, %d train / %d val images; box RoI layer: %s",
            ctx.device, ctx.world_size, int(train_cfg.batch_size), scaled_lr(train_cfg), "on" if amp else "off",
            len(components.train_set), len(components.val_set),  # type: ignore[arg-type]
            getattr(getattr(model, "roi_heads", None), "box_roi_pool", "n/a"),
        )
        self.board = Board(run_dir, enabled=ctx.is_main)  # last: a setup error leaves no event file

    def resume_or_start(self) -> None:
        """Load `checkpoints/last.pth` when there is one, restoring this rank's random state."""
        path = self.run_dir / ckpt.LAST
        if not path.exists():
            logger.info("Starting a new run in %s", self.run_dir)
            return
        rng_states = ckpt.load_checkpoint(path, self.state)
        self.saved_iter = self.state.iteration
        logger.info("Resuming from %s at iteration %d/%d", path, self.state.iteration, self.max_iter)
        if len(rng_states) == self.ctx.world_size:
            restore_rng_state(rng_states[self.ctx.rank])
        else:
            logger.warning(
                "checkpoint saved by %d processes, resumed by %d: random streams are reseeded, so this run "
                "will not match an uninterrupted one exactly", len(rng_states), self.ctx.world_size,
            )
            seed_everything(derive_seed(int(self.cfg.seed), self.state.iteration, self.ctx.rank))

    def save(self) -> None:
        """Checkpoint the current iteration (rank 0 writes; every rank contributes its RNG state)."""
        rng_states = gather_to_main(self.ctx, capture_rng_state())
        if rng_states is not None:
            ckpt.save_checkpoint(self.run_dir / ckpt.LAST, self.state, rng_states, self.identity)
        self.saved_iter = self.state.iteration

    def evaluate(self) -> Evaluation | None:
        """Evaluate the current model without moving the training's random streams; log and record on rank 0."""
        iteration = self.state.iteration
        with rng_preserved():
            result = evaluate(self.state.model, self.c.val_set, self.val_loader, self.ctx, keep=int(self.cfg.train.vis_images))
        if result is not None:
            self.board.evaluation(result.metrics, iteration)
            self.board.images(result.predictions.samples, self.c.val_set.category_names, iteration)
            self.board.flush()
            for iou_type, entries in result.predictions.results.items():
                atomic_write_json(self.run_dir / f"results_{iou_type}.json", entries)
            logger.info(
                "eval at iteration %d: segm AP %.2f, bbox AP %.2f",
                iteration, result.metrics["segm"]["AP"] or 0.0, result.metrics["bbox"]["AP"] or 0.0,
            )
        return result

    def _after_step(self, progress: Progress) -> Callable[[int, dict[str, float], float, float, float], None]:
        train_cfg = self.cfg.train
        log_period, ckpt_period, eval_period = int(train_cfg.log_period), int(train_cfg.checkpoint_period), int(train_cfg.eval_period)

        def after_step(iteration: int, losses: dict[str, float], lr: float, iter_s: float, data_s: float) -> None:
            progress.update(iteration, losses, lr, iter_s, data_s)
            if iteration % max(log_period, 1) == 0 or iteration == self.max_iter:
                scalars = {f"loss/{k}" if k != "loss" else "loss/total": v for k, v in losses.items()}
                self.board.scalars({**scalars, "lr": lr, "time/iter": iter_s, "time/data": data_s}, iteration)
            if iteration < self.max_iter:
                if ckpt_period and iteration % ckpt_period == 0:
                    self.save()
                if eval_period and iteration % eval_period == 0:
                    self.evaluate()

        return after_step

    def train(self) -> None:
        """Train from the current iteration to `max_iter`, then save the final checkpoint and weights."""
        if self.state.iteration < self.max_iter:
            self.batches.start_iter = self.state.iteration
            data = train_loader(self.c.train_set, self.c.collate, self.batches, int(self.cfg.train.num_workers))
            progress = Progress(self.state.iteration, self.max_iter, int(self.cfg.train.log_period), self.ctx.is_main)
            try:
                self.trainer.train(data, self.max_iter, self._after_step(progress))
            finally:
                progress.close()
        trained = self.saved_iter != self.state.iteration
        if trained:
            self.save()
        if self.ctx.is_main and (trained or not (self.run_dir / ckpt.FINAL).exists()):
            ckpt.save_final_weights(self.run_dir / ckpt.FINAL, self.state.model)

    def finish(self) -> None:
        """Final evaluation, metrics.json and the HParams record."""
        start = time.perf_counter()
        result = self.evaluate()
        eval_s = time.perf_counter() - start
        if result is None:
            return
        write_metrics(
            self.run_dir, self.cfg, iterations=self.state.iteration, segm=result.metrics["segm"],
            bbox=result.metrics["bbox"], train_s=self.state.train_s, eval_s=eval_s,
        )
        self.board.hparams(self.cfg, result.metrics, self.state.iteration)
        logger.info("Run complete: %s (train %.0fs, eval %.0fs)", self.run_dir / "metrics.json", self.state.train_s, eval_s)


def _fail(cfg: DictConfig, run_dir: Path, error: str, current: Run | None) -> None:
    """Record a failed run in metrics.json (rank 0)."""
    if process_rank() == 0:
        state = current.state if current else None
        write_metrics(
            run_dir, cfg, iterations=state.iteration if state else 0, segm=None, bbox=None,
            train_s=state.train_s if state else 0.0, eval_s=0.0, error=error,
        )


def run(cfg: DictConfig, run_dir: Path, build: Builder, ctx: DistContext | None = None) -> Outcome:
    """Train and evaluate the run `cfg` in `run_dir`; every rank calls this. See the module doc.

    `ctx` defaults to this process's place in the torchrun group, on device `cfg.device`.
    """
    decision, message = broadcast_from_main(_decide(cfg, run_dir) if process_rank() == 0 else None)
    if decision is Outcome.REFUSED:
        if process_rank() == 0:
            logger.error(message)
        return decision
    if decision is Outcome.SKIPPED:
        logger.info(message)
        return decision

    current: Run | None = None
    try:
        try:
            ctx = ctx or make_context(str(cfg.device))
            configure_determinism(bool(cfg.deterministic))
            seed_everything(int(cfg.seed) + ctx.rank)
            validate_train_config(cfg.train, ctx.world_size)
            current = Run(cfg, run_dir, ctx, build(cfg))
        except ValueError as err:  # config and data mistakes (DataError is a ValueError)
            logger.error("%s", err)
            logger.debug("where it was raised:", exc_info=True)  # shown with hydra.verbose=true
            _fail(cfg, run_dir, str(err), current)
            return Outcome.FAILED
        if ctx.is_main:
            write_identity(run_dir, current.identity)
        current.resume_or_start()
        current.train()
        current.finish()
        return Outcome.COMPLETE
    except NonFiniteLossError as err:
        logger.error("%s", err)
        _fail(cfg, run_dir, str(err), current)
        return Outcome.FAILED
    except BaseException as err:
        _fail(cfg, run_dir, f"{type(err).__name__}: {err}", current)
        raise
    finally:
        if current is not None:
            current.board.close()
