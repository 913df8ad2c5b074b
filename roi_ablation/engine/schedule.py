"""Optimizer and learning-rate schedule of the paper's recipe (SGD, warmup, step decay).

The lr scales linearly with the batch (Goyal et al. 2017), and decay steps are
fractions of `max_iter`, so a shortened schedule keeps the shape of the 1x schedule.
"""

import bisect
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


def scaled_lr(train_cfg: Any) -> float:
    """`base_lr` is given at `reference_batch_size`; scale it to `batch_size`."""
    return float(train_cfg.base_lr) * int(train_cfg.batch_size) / int(train_cfg.reference_batch_size)


def milestones(steps: Sequence[float], max_iter: int) -> list[int]:
    """Decay iterations from fractions of the run; refuses anything but increasing fractions in (0, 1)."""
    fractions = [float(s) for s in steps]
    if any(not 0.0 < f < 1.0 for f in fractions) or fractions != sorted(fractions):
        raise ValueError(
            f"train.steps={list(steps)} must be increasing fractions of train.max_iter in (0, 1), e.g. [0.667, 0.889]"
        )
    return [round(f * max_iter) for f in fractions]


class WarmupMultiStep:
    """lr multiplier at an iteration: linear warmup from `warmup_factor` to 1, times `gamma` per passed milestone.

    A callable object rather than a closure so `LambdaLR.state_dict()` stores its settings.
    """

    def __init__(self, milestones: Sequence[int], gamma: float, warmup_iters: int, warmup_factor: float) -> None:
        self.milestones = list(milestones)
        self.gamma = gamma
        self.warmup_iters = warmup_iters
        self.warmup_factor = warmup_factor

    def __call__(self, iteration: int) -> float:
        decay = self.gamma ** bisect.bisect_right(self.milestones, iteration)
        if iteration >= self.warmup_iters:
            return decay
        alpha = iteration / self.warmup_iters
        return decay * (self.warmup_factor * (1.0 - alpha) + alpha)


def validate_train_config(train_cfg: Any, world_size: int) -> None:
    """Refuse settings that cannot work, naming the key and a fix (before any data is read)."""
    positive = ("max_iter", "batch_size", "reference_batch_size")
    for key in positive:
        if int(train_cfg[key]) < 1:
            raise ValueError(f"train.{key}={train_cfg[key]} must be a positive integer")
    for key in ("warmup_iters", "eval_period", "checkpoint_period", "log_period", "num_workers", "vis_images"):
        if int(train_cfg[key]) < 0:
            raise ValueError(f"train.{key}={train_cfg[key]} must be >= 0")
    if not 0.0 <= float(train_cfg.warmup_factor) <= 1.0:
        raise ValueError(f"train.warmup_factor={train_cfg.warmup_factor} must be in [0, 1]")
    if float(train_cfg.base_lr) <= 0:
        raise ValueError(f"train.base_lr={train_cfg.base_lr} must be > 0")
    if train_cfg.clip_grad_norm is not None and float(train_cfg.clip_grad_norm) <= 0:
        raise ValueError(f"train.clip_grad_norm={train_cfg.clip_grad_norm} must be > 0, or null to disable clipping")
    if int(train_cfg.batch_size) % world_size:
        raise ValueError(
            f"train.batch_size={train_cfg.batch_size} is images per step over all {world_size} processes "
            f"and must be divisible by {world_size}"
        )
    milestones(train_cfg.steps, int(train_cfg.max_iter))


def build_optimizer(model: nn.Module, train_cfg: Any) -> torch.optim.SGD:
    """SGD with momentum and weight decay on every trainable parameter (as the paper)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.SGD(
        params, lr=scaled_lr(train_cfg), momentum=float(train_cfg.momentum), weight_decay=float(train_cfg.weight_decay)
    )


def build_scheduler(optimizer: torch.optim.Optimizer, train_cfg: Any) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-iteration `LambdaLR` with `WarmupMultiStep`; call `.step()` once per iteration."""
    factor = WarmupMultiStep(
        milestones(train_cfg.steps, int(train_cfg.max_iter)),
        float(train_cfg.gamma),
        int(train_cfg.warmup_iters),
        float(train_cfg.warmup_factor),
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
