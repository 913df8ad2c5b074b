"""Checkpoints: everything needed to continue a run exactly where it stopped.

`checkpoints/last.pth` holds the model, optimizer, scheduler, AMP scaler, iteration,
the accumulated training time and every process's random state; it is replaced
atomically, so a run killed at any moment resumes from the previous good one.
`checkpoints/model_final.pth` holds only the trained weights, for inference.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from roi_ablation.engine.atomic import atomic_torch_save
from roi_ablation.engine.seeding import RngState

LAST = Path("checkpoints/last.pth")
FINAL = Path("checkpoints/model_final.pth")


@dataclass
class TrainingState:
    """The objects a checkpoint saves and restores, held by the runner."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    iteration: int = 0
    train_s: float = 0.0


def save_checkpoint(path: Path, state: TrainingState, rng_states: list[RngState], config: dict[str, Any]) -> None:
    """Write `state` (+ one RNG state per process and the run's config) atomically to `path`."""
    atomic_torch_save(
        path,
        {
            "model": state.model.state_dict(),
            "optimizer": state.optimizer.state_dict(),
            "scheduler": state.scheduler.state_dict(),
            "scaler": state.scaler.state_dict(),
            "iteration": state.iteration,
            "train_s": state.train_s,
            "rng": rng_states,
            "config": config,
        },
    )


def load_checkpoint(path: Path, state: TrainingState) -> list[RngState]:
    """Restore `state` in place from `path`; returns the saved per-process RNG states."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)  # our own file: holds numpy RNG state
    state.model.load_state_dict(ckpt["model"])
    state.optimizer.load_state_dict(ckpt["optimizer"])
    state.scheduler.load_state_dict(ckpt["scheduler"])
    if ckpt["scaler"]:  # empty when saved without AMP (e.g. on CPU): keep the fresh scaler
        state.scaler.load_state_dict(ckpt["scaler"])
    state.iteration = int(ckpt["iteration"])
    state.train_s = float(ckpt["train_s"])
    return list(ckpt["rng"])


def save_final_weights(path: Path, model: nn.Module) -> None:
    """The trained weights alone (no optimizer state): what inference needs."""
    atomic_torch_save(path, {"model": model.state_dict()})
