"""Throughput and memory of one configuration: the figures behind the cost column of a report.

Builds the stack with the run's own builder (`build_training`: the same optimizer,
mixed precision, loss scaling and clipping) and times its `Trainer.step` and the
prediction loop (`predict`), so the numbers are what `roi-ablation-train` achieves,
minus logging, checkpoints and scoring.
"""

import resource
import sys
import time
from typing import Any

import torch

from roi_ablation.engine.build import Components, build_training
from roi_ablation.engine.config import TrainConfig
from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.evaluate import predict
from roi_ablation.engine.loader import eval_loader
from roi_ablation.engine.seeding import seed_everything


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def benchmark(
    train: TrainConfig, components: Components, device: torch.device, seed: int, iters: int, warmup: int, eval_images: int
) -> dict[str, Any]:
    """Training images/s over `iters` steps (after `warmup`), evaluation images/s over `eval_images`, peak memory."""
    seed_everything(seed)
    ctx = DistContext(rank=0, world_size=1, device=device)
    training = build_training(train, components, ctx, seed)
    step, data = training.trainer.step, iter(training.train_batches(0))
    for _ in range(warmup):
        step(*next(data))
    _sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        step(*next(data))
    _sync(device)
    train_s = time.perf_counter() - start

    val = torch.utils.data.Subset(components.val_set, range(min(eval_images, len(components.val_set))))
    start = time.perf_counter()
    predict(training.state.model, eval_loader(val, components.collate, ctx, train.batch_size, 0), components.val_set.label_to_category, device)
    _sync(device)
    eval_s = time.perf_counter() - start
    return {
        "device": str(device),
        "batch_size": train.batch_size,
        "amp": train.amp,
        "train_images_per_s": round(iters * train.batch_size / train_s, 3),
        "eval_images_per_s": round(len(val) / eval_s, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "peak_cuda_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None,
    }
