"""The one builder of the training stack, shared by `runner.run`, `engine/bench.py` and the tests.

`build_training` turns a run's components (model, data sets, collate) and its
`TrainConfig` into the optimizer, schedule, loss scaler, the DDP-wrapped model, the
loaders and the `Trainer`, so whatever measures or tests training runs exactly the
step that `roi-ablation-train` runs (precision, clipping and all).
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from roi_ablation.engine.checkpoint import TrainingState
from roi_ablation.engine.config import TrainConfig
from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.loader import BatchSamplerFactory, Collate, TrainBatches, eval_loader, plain_batches, train_loader
from roi_ablation.engine.schedule import build_optimizer, build_scheduler, scaled_lr
from roi_ablation.engine.signals import StopRequest
from roi_ablation.engine.trainer import Batch, Trainer, autocast_dtype

logger = logging.getLogger(__name__)


@dataclass
class Components:
    """What a run trains and evaluates; built from the config by the entry point (or a test)."""

    model: nn.Module
    train_set: Dataset
    val_set: Any  # a Dataset with .coco, .image_ids, .label_to_category, .category_names
    collate: Collate
    make_batches: BatchSamplerFactory = plain_batches
    stride: int | None = None  # of the finest feature map the RoI layers read, measured on the built model


Builder = Callable[[], Components]  # the run's components, built when the runner is ready for them


@dataclass
class Training:
    """A built training stack: the state a checkpoint holds, the trainer that steps it, the data."""

    state: TrainingState
    trainer: Trainer
    components: Components
    batches: TrainBatches
    num_workers: int

    def train_batches(self, start_iter: int) -> Iterable[Batch]:
        """This rank's training batches from iteration `start_iter` on (an endless, resumable stream)."""
        self.batches.start_iter = start_iter
        return train_loader(self.components.train_set, self.components.collate, self.batches, self.num_workers)

    def val_loader(self) -> DataLoader:
        """This rank's shard of the validation set, in order."""
        c = self.components
        return eval_loader(c.val_set, c.collate, self.batches.ctx, self.batches.batch_size, self.num_workers)


def build_training(
    train: TrainConfig, components: Components, ctx: DistContext, seed: int, stop: StopRequest | None = None
) -> Training:
    """The training stack of `components` on `ctx.device`; `ValueError` naming the key when the settings cannot work."""
    if train.batch_size % ctx.world_size:
        raise ValueError(
            f"train.batch_size={train.batch_size} is images per step over all {ctx.world_size} processes "
            f"and must be divisible by {ctx.world_size}"
        )
    batches = TrainBatches(
        len(components.train_set), train.batch_size // ctx.world_size, ctx, seed, 0, components.make_batches  # type: ignore[arg-type]
    )
    model = components.model.to(ctx.device)
    amp_dtype = autocast_dtype(train.amp, ctx.device)
    optimizer = build_optimizer(model, train)
    state = TrainingState(
        model=model,
        optimizer=optimizer,
        scheduler=build_scheduler(optimizer, train),
        scaler=torch.amp.GradScaler(ctx.device.type, enabled=amp_dtype == torch.float16),
    )
    trained = (
        DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
        if ctx.distributed
        else model
    )
    logger.info(
        "device %s x%d, batch %d, lr %.4g, mixed precision %s, %d train / %d val images; box RoI layer: %s",
        ctx.device, ctx.world_size, train.batch_size, scaled_lr(train), amp_dtype or "off",
        len(components.train_set), len(components.val_set),  # type: ignore[arg-type]
        getattr(getattr(model, "roi_heads", None), "box_roi_pool", "n/a"),
    )
    trainer = Trainer(trained, state, ctx, amp_dtype, train.clip_grad_norm, stop=stop)
    return Training(state, trainer, components, batches, train.num_workers)
