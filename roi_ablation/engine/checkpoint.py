"""Checkpoints: everything needed to continue a run exactly where it stopped, kept so a bad one is survivable.

A checkpoint holds the model, optimizer, scheduler, AMP scaler, iteration, the
accumulated training time and every process's random state. The newest
`train.keep_checkpoints` are kept as `checkpoints/iter_NNNNNNN.pth` (each written
atomically); `checkpoints/last.pth` is a relative symlink to the newest. Loading
verifies a checkpoint (the zip members' CRCs, then its contents): if the newest is
unreadable the run says so, naming it, and resumes from the previous one; if none is
usable, `CheckpointError` names every file and the way out.
`checkpoints/model_final.pth` holds only the trained weights, for inference.
"""

import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from roi_ablation.atomic import atomic_symlink, atomic_torch_save
from roi_ablation.engine.distributed import DistContext, gather_to_main
from roi_ablation.engine.seeding import RngState, capture_rng_state, derive_seed, restore_rng_state, seed_everything

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = Path("checkpoints")
LAST = CHECKPOINT_DIR / "last.pth"
FINAL = CHECKPOINT_DIR / "model_final.pth"
_NAME = re.compile(r"iter_(\d+)\.pth")
_KEYS = frozenset({"model", "optimizer", "scheduler", "scaler", "iteration", "train_s", "rng", "config"})


class CheckpointError(ValueError):
    """No checkpoint of a run directory can be loaded; the message names each file and the choice."""


@dataclass
class TrainingState:
    """The objects a checkpoint saves and restores."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    iteration: int = 0
    train_s: float = 0.0


def checkpoint_path(run_dir: Path, iteration: int) -> Path:
    return run_dir / CHECKPOINT_DIR / f"iter_{iteration:07d}.pth"


def saved_checkpoints(run_dir: Path) -> list[Path]:
    """The run's checkpoints, newest first (a `last.pth` file from before numbered checkpoints counts as one)."""
    found = [(int(m.group(1)), p) for p in (run_dir / CHECKPOINT_DIR).glob("iter_*.pth") if (m := _NAME.fullmatch(p.name))]
    if not found and (run_dir / LAST).is_file():
        return [run_dir / LAST]
    return [p for _, p in sorted(found, reverse=True)]


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


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The verified contents of `path`; `ValueError` saying what is wrong with it otherwise."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
        if bad is not None:
            raise ValueError(f"{bad} fails its CRC check")
        payload = torch.load(path, map_location="cpu", weights_only=False)  # our own file: holds numpy RNG state
    except ValueError:
        raise
    except Exception as err:  # truncated, not a zip, unpicklable: whatever the cause, it cannot be used
        raise ValueError(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'unreadable'}") from err
    missing = _KEYS - set(payload) if isinstance(payload, dict) else _KEYS
    if missing:
        raise ValueError(f"not a training checkpoint (missing {', '.join(sorted(missing))})")
    return payload


def apply_checkpoint(payload: dict[str, Any], state: TrainingState) -> list[RngState]:
    """Restore `state` in place from a checkpoint's contents; returns the saved per-process RNG states."""
    state.model.load_state_dict(payload["model"])
    state.optimizer.load_state_dict(payload["optimizer"])
    state.scheduler.load_state_dict(payload["scheduler"])
    if payload["scaler"]:  # empty when saved without a GradScaler (CPU, bf16): keep the fresh one
        state.scaler.load_state_dict(payload["scaler"])
    state.iteration = int(payload["iteration"])
    state.train_s = float(payload["train_s"])
    return list(payload["rng"])


def load_checkpoint(path: Path, state: TrainingState) -> list[RngState]:
    """Verify `path` and restore `state` from it."""
    return apply_checkpoint(read_checkpoint(path), state)


def save_final_weights(path: Path, model: nn.Module) -> None:
    """The trained weights alone (no optimizer state): what inference needs."""
    atomic_torch_save(path, {"model": model.state_dict()})


class Checkpointer:
    """Saves the run's state (rank 0 writes, every rank contributes its RNG state) and resumes from it."""

    def __init__(
        self, run_dir: Path, state: TrainingState, ctx: DistContext, identity: dict[str, Any], keep: int, seed: int
    ) -> None:
        self.run_dir, self.state, self.ctx, self.identity, self.keep, self.seed = run_dir, state, ctx, identity, keep, seed
        self.saved_iter = -1

    def save(self) -> None:
        """Checkpoint the current iteration, unless it already is; keep the newest `keep`."""
        iteration = self.state.iteration
        if iteration == self.saved_iter:
            return
        rng_states = gather_to_main(self.ctx, capture_rng_state())
        if rng_states is not None:
            path = checkpoint_path(self.run_dir, iteration)
            save_checkpoint(path, self.state, rng_states, self.identity)
            atomic_symlink(self.run_dir / LAST, path.name)
            for old in saved_checkpoints(self.run_dir)[self.keep :]:
                old.unlink(missing_ok=True)
        self.saved_iter = iteration

    def resume(self) -> Path | None:
        """Restore the newest usable checkpoint (and this rank's random state); returns it, None when there is none."""
        paths = saved_checkpoints(self.run_dir)
        problems: list[str] = []
        for path in paths:
            try:
                rng_states = apply_checkpoint(read_checkpoint(path), self.state)
            except (ValueError, RuntimeError, KeyError) as err:  # unreadable, or does not fit this model
                problems.append(f"{path} ({err})")
                logger.warning("checkpoint %s is unusable (%s)%s", path, err, "; trying the previous one" if path != paths[-1] else "")
                continue
            self.saved_iter = self.state.iteration
            self._restore_rng(rng_states)
            return path
        if problems:
            raise CheckpointError(
                f"no usable checkpoint in {self.run_dir / CHECKPOINT_DIR}: {'; '.join(problems)}. Delete them to start "
                f"this run over (rm -r {self.run_dir / CHECKPOINT_DIR}), or give the run another directory (hydra.run.dir=...)"
            )
        return None

    def _restore_rng(self, rng_states: list[RngState]) -> None:
        if len(rng_states) == self.ctx.world_size:
            restore_rng_state(rng_states[self.ctx.rank])
            return
        logger.warning(
            "checkpoint saved by %d processes, resumed by %d: random streams are reseeded, so this run "
            "will not match an uninterrupted one exactly", len(rng_states), self.ctx.world_size,
        )
        seed_everything(derive_seed(self.seed, self.state.iteration, self.ctx.rank))
