"""`TrainConfig`: the schema of the `train` config group, its defaults and its checks.

Defaults are `configs/train/cpu.yaml`'s values (the short CPU schedule), so the yaml
files only say what differs. Types are enforced by OmegaConf when the schema backs the
config group; `__post_init__` checks what a type cannot say (finite, in range, ordered)
and also refuses a wrong type, so an instance built in Python is held to the same rules.
Every error is a `ValueError` that starts with the dotted key: one line the runner shows.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from roi_ablation.values import is_int, is_number


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


@dataclass
class TrainConfig:
    """Schedule, batch, optimizer, precision and the periods of a run's duties."""

    max_iter: int = 300
    batch_size: int = 4  # images per step, all processes together
    base_lr: float = 0.04  # at reference_batch_size; scaled linearly with batch_size
    reference_batch_size: int = 16
    momentum: float = 0.9
    weight_decay: float = 1.0e-4
    steps: list[float] = field(default_factory=lambda: [0.667, 0.889])  # fractions of max_iter
    gamma: float = 0.1
    warmup_iters: int = 50
    warmup_factor: float = 0.001
    clip_grad_norm: Optional[float] = None  # noqa: UP045 (OmegaConf reads typing.Optional)
    amp: bool = False  # CUDA: fp16 autocast + GradScaler; CPU: bf16 autocast
    eval_period: int = 0  # 0: evaluate only at the end
    checkpoint_period: int = 100  # 0: checkpoint only at the end (and when interrupted)
    log_period: int = 20
    num_workers: int = 0
    vis_images: int = 4
    keep_checkpoints: int = 2  # the newest k checkpoints are kept; an unreadable one falls back to the previous

    def __post_init__(self) -> None:
        for key, minimum in (("max_iter", 1), ("batch_size", 1), ("reference_batch_size", 1), ("keep_checkpoints", 1),
                             ("warmup_iters", 0), ("eval_period", 0), ("checkpoint_period", 0), ("log_period", 0),
                             ("num_workers", 0), ("vis_images", 0)):
            value = getattr(self, key)
            _require(is_int(value) and value >= minimum, key, f"an integer >= {minimum}", value)
        _require(is_number(self.base_lr) and self.base_lr > 0, "base_lr", "a finite number > 0", self.base_lr)
        _require(is_number(self.momentum) and 0 <= self.momentum < 1, "momentum", "a number in [0, 1)", self.momentum)
        _require(is_number(self.weight_decay) and self.weight_decay >= 0, "weight_decay", "a finite number >= 0", self.weight_decay)
        _require(is_number(self.gamma) and 0 < self.gamma <= 1, "gamma", "a number in (0, 1]", self.gamma)
        _require(is_number(self.warmup_factor) and 0 <= self.warmup_factor <= 1, "warmup_factor", "a number in [0, 1]",
                 self.warmup_factor)
        clip = self.clip_grad_norm
        _require(clip is None or (is_number(clip) and clip > 0), "clip_grad_norm", "a finite number > 0, or null to disable clipping",
                 clip)
        _require(isinstance(self.amp, bool), "amp", "true or false", self.amp)
        steps = self.steps
        _require(
            _is_list(steps) and all(is_number(s) and 0 < s < 1 for s in steps) and all(a < b for a, b in zip(steps, steps[1:])),
            "steps", "a list of increasing fractions of train.max_iter in (0, 1), e.g. [0.667, 0.889]", self.steps,
        )


def _require(ok: bool, key: str, what: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"train.{key} must be {what}; got {value!r}")
