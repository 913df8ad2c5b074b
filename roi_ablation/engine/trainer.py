"""The training loop: one step, repeated, with hooks around it (as Detectron2's `HookBase`).

The trainer owns only the step: forward under autocast when mixed precision is on, the
loss check, backward, clipping, optimizer and schedule. Everything periodic or final
(checkpoints, evaluation, TensorBoard, progress, final weights and metrics) is a hook
(`engine/hooks.py`) that gets explicit arguments, never the config.

A non-finite loss stops the run BEFORE the backward pass, so parameters, optimizer and
checkpoints all stay at the last good iteration. Loss values are averaged over ranks
first: a NaN on any rank stops every rank at the same iteration. A stop request (a
signal, `engine/signals.py`) is honoured before each step, never inside one.
"""

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from roi_ablation.engine.checkpoint import TrainingState
from roi_ablation.engine.distributed import DistContext, all_reduce_mean
from roi_ablation.engine.signals import StopRequest

Batch = tuple[list[torch.Tensor], list[dict[str, Any]]]


def autocast_dtype(amp: bool, device: torch.device) -> torch.dtype | None:
    """Mixed precision on `device`: fp16 on CUDA (with loss scaling), bf16 on CPU (needs none); None when off."""
    if not amp:
        return None
    return torch.float16 if device.type == "cuda" else torch.bfloat16


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or inf; the message names the iteration and every loss term."""

    def __init__(self, iteration: int, losses: dict[str, float]) -> None:
        self.iteration, self.losses = iteration, losses
        terms = ", ".join(f"{k}={v:.6g}" for k, v in losses.items())
        super().__init__(
            f"non-finite loss at iteration {iteration}: {terms}. Training stopped; the last checkpoint "
            "(before this iteration) is intact. Try a lower train.base_lr, a longer train.warmup_iters "
            "or train.clip_grad_norm=10."
        )


@dataclass(frozen=True)
class StepInfo:
    """What a step reports to the hooks; `iteration` counts completed steps (1 after the first)."""

    iteration: int
    losses: dict[str, float]  # rank-averaged terms and their sum, "loss"
    lr: float
    iter_s: float
    data_s: float


class HookBase:
    """A duty around the loop; every method is optional. Hooks run in the order they were given.

    `after_train` runs when the loop reached `max_iter`; `close` runs always, also after an
    exception or an interrupt, to release what the hook holds (e.g. end a progress bar's line).
    """

    def before_train(self, iteration: int) -> None:
        """Training (re)starts after `iteration` completed steps."""

    def after_step(self, step: StepInfo) -> None:
        """A step completed."""

    def after_train(self, iteration: int) -> None:
        """The last step completed (also when a resumed run had none left to do)."""

    def close(self) -> None:
        """The loop ended, however it ended."""


def to_device(targets: list[dict[str, Any]], device: torch.device) -> list[dict[str, Any]]:
    return [{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in t.items()} for t in targets]


class Trainer:
    """Steps `model` (the DDP-wrapped one under torchrun) and calls the hooks."""

    def __init__(
        self,
        model: nn.Module,
        state: TrainingState,
        ctx: DistContext,
        amp_dtype: torch.dtype | None,
        clip_grad_norm: float | None,
        stop: StopRequest | None = None,
    ) -> None:
        self.model, self.state, self.ctx = model, state, ctx
        self.amp_dtype, self.clip_grad_norm, self.stop = amp_dtype, clip_grad_norm, stop
        self.hooks: list[HookBase] = []

    def register_hooks(self, hooks: Sequence[HookBase]) -> None:
        """Add hooks after those already registered (they run in this order)."""
        self.hooks.extend(hooks)

    def step(self, images: list[torch.Tensor], targets: list[dict[str, Any]]) -> tuple[dict[str, float], float]:
        """Train on one batch; returns the rank-averaged loss terms with their sum ("loss"), and the lr used."""
        device = self.ctx.device
        with torch.autocast(device_type=device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            loss_dict = self.model([image.to(device) for image in images], to_device(targets, device))
        total = sum(loss_dict.values())
        assert isinstance(total, torch.Tensor), "the model returned no loss terms"
        values = all_reduce_mean(self.ctx, torch.stack([v.detach().float() for v in (*loss_dict.values(), total)]))
        losses = dict(zip([*loss_dict, "loss"], values.tolist()))
        if not torch.isfinite(values).all():
            raise NonFiniteLossError(self.state.iteration + 1, losses)
        state = self.state
        state.optimizer.zero_grad(set_to_none=True)
        state.scaler.scale(total).backward()
        if self.clip_grad_norm:
            state.scaler.unscale_(state.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
        lr = state.optimizer.param_groups[0]["lr"]
        state.scaler.step(state.optimizer)
        state.scaler.update()
        state.scheduler.step()
        state.iteration += 1
        return losses, lr

    def train(self, batches: Iterable[Batch], max_iter: int) -> None:
        """Step from the current iteration to `max_iter`; `batches` is iterated only if a step is left to do."""
        stream: Iterator[Batch] | None = None
        try:
            for hook in self.hooks:
                hook.before_train(self.state.iteration)
            while True:
                if self.stop is not None:
                    self.stop.check(self.ctx, self.state.iteration)
                if self.state.iteration >= max_iter:
                    break
                start = time.perf_counter()
                if stream is None:
                    stream = iter(batches)
                images, targets = next(stream)
                data_s = time.perf_counter() - start
                losses, lr = self.step(images, targets)
                iter_s = time.perf_counter() - start
                self.state.train_s += iter_s
                info = StepInfo(self.state.iteration, losses, lr, iter_s, data_s)
                for hook in self.hooks:
                    hook.after_step(info)
            for hook in self.hooks:
                hook.after_train(self.state.iteration)
        finally:
            for hook in self.hooks:
                hook.close()
