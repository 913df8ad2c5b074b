"""Optimizer and learning-rate schedule of the paper's recipe (SGD, warmup, step decay).

The lr scales linearly with the batch (Goyal et al. 2017), and decay steps are
fractions of `max_iter`, so a shortened schedule keeps the shape of the 1x schedule.
"""

import bisect
from collections.abc import Sequence

import torch
from torch import nn

from roi_ablation.engine.config import TrainConfig


def scaled_lr(train: TrainConfig) -> float:
    """`base_lr` is given at `reference_batch_size`; scale it to `batch_size`."""
    return train.base_lr * train.batch_size / train.reference_batch_size


def milestones(steps: Sequence[float], max_iter: int) -> list[int]:
    """Decay iterations from fractions of the run (`TrainConfig` checks that they are increasing, in (0, 1))."""
    return [round(float(f) * max_iter) for f in steps]


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


def build_optimizer(model: nn.Module, train: TrainConfig) -> torch.optim.SGD:
    """SGD with momentum and weight decay on every trainable parameter (as the paper)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.SGD(
        params, lr=scaled_lr(train), momentum=train.momentum, weight_decay=train.weight_decay
    )


def build_scheduler(optimizer: torch.optim.Optimizer, train: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-iteration `LambdaLR` with `WarmupMultiStep`; call `.step()` once per iteration."""
    factor = WarmupMultiStep(
        milestones(train.steps, train.max_iter), train.gamma, train.warmup_iters, train.warmup_factor
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
