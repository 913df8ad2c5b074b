"""One training iteration and the loop around it; periodic duties are the caller's hook.

A non-finite loss stops the run BEFORE the backward pass, so parameters, optimizer and
checkpoints all stay at the last good iteration. Loss values are averaged over ranks
first: a NaN on any rank stops every rank at the same iteration.
"""

import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from roi_ablation.engine.checkpoint import TrainingState
from roi_ablation.engine.distributed import DistContext, all_reduce_mean

Batch = tuple[list[torch.Tensor], list[dict[str, Any]]]
StepHook = Callable[[int, dict[str, float], float, float, float], None]


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


def to_device(targets: list[dict[str, Any]], device: torch.device) -> list[dict[str, Any]]:
    return [{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in t.items()} for t in targets]


class Trainer:
    """Owns the step: forward (under autocast when AMP is on), loss check, backward, clip, step."""

    def __init__(self, model: nn.Module, state: TrainingState, ctx: DistContext, amp: bool, clip_grad_norm: float | None) -> None:
        self.model, self.state, self.ctx = model, state, ctx
        self.amp, self.clip_grad_norm = amp, clip_grad_norm

    def step(self, images: list[torch.Tensor], targets: list[dict[str, Any]]) -> tuple[dict[str, float], float]:
        """Train on one batch; returns the rank-averaged loss terms with their sum ("loss"), and the lr used."""
        device = self.ctx.device
        with torch.autocast(device_type=device.type, enabled=self.amp):
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

    def train(self, batches: Iterator[Batch], max_iter: int, after_step: StepHook) -> None:
        """Step until `max_iter`; `after_step(iteration, losses, lr, iter_s, data_s)` runs after each step."""
        while self.state.iteration < max_iter:
            start = time.perf_counter()
            images, targets = next(batches)
            data_s = time.perf_counter() - start
            losses, lr = self.step(images, targets)
            iter_s = time.perf_counter() - start
            self.state.train_s += iter_s
            after_step(self.state.iteration, losses, lr, iter_s, data_s)
