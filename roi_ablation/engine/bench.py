"""Throughput and memory of one configuration: the figures behind the cost column of a report.

Uses the run's own training step (`Trainer.step`) and prediction loop (`predict`), so
the numbers are what `roi-ablation-train` achieves, minus logging and checkpoints.
"""

import resource
import sys
import time
from typing import Any

import torch
from omegaconf import DictConfig

from roi_ablation.engine.checkpoint import TrainingState
from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.evaluate import predict
from roi_ablation.engine.loader import TrainBatches, eval_loader, train_loader
from roi_ablation.engine.runner import Components
from roi_ablation.engine.schedule import build_optimizer, build_scheduler
from roi_ablation.engine.seeding import seed_everything
from roi_ablation.engine.trainer import Trainer


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def benchmark(cfg: DictConfig, components: Components, device: torch.device, iters: int, warmup: int, eval_images: int) -> dict[str, Any]:
    """Training images/s over `iters` steps (after `warmup`), evaluation images/s over `eval_images`, peak memory."""
    seed_everything(int(cfg.seed))
    ctx = DistContext(rank=0, world_size=1, device=device)
    model = components.model.to(device)
    optimizer = build_optimizer(model, cfg.train)
    state = TrainingState(model, optimizer, build_scheduler(optimizer, cfg.train), torch.amp.GradScaler(device.type, enabled=False))
    amp = bool(cfg.train.amp) and device.type == "cuda"
    trainer = Trainer(model, state, ctx, amp, None)
    batch = int(cfg.train.batch_size)
    data = train_loader(
        components.train_set, components.collate,
        TrainBatches(len(components.train_set), batch, ctx, int(cfg.seed), 0, components.make_batches),  # type: ignore[arg-type]
        int(cfg.train.num_workers),
    )
    for _ in range(warmup):
        trainer.step(*next(data))
    _sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        trainer.step(*next(data))
    _sync(device)
    train_s = time.perf_counter() - start

    val = torch.utils.data.Subset(components.val_set, range(min(eval_images, len(components.val_set))))
    start = time.perf_counter()
    predict(model, eval_loader(val, components.collate, ctx, batch, 0), components.val_set.label_to_category, device)
    _sync(device)
    eval_s = time.perf_counter() - start
    return {
        "device": str(device),
        "batch_size": batch,
        "train_images_per_s": round(iters * batch / train_s, 3),
        "eval_images_per_s": round(len(val) / eval_s, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "peak_cuda_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None,
    }
