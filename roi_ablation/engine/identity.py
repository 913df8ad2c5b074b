"""What makes two runs the same run, so a run directory is never resumed with another config.

The identity is the resolved `roi`, `model`, `data`, `train` and `seed`, minus the
settings that change how a run is executed or observed but not what it computes
(data order and augmentation are seeded per iteration, evaluation never touches the
training's random streams).
"""

import json
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from roi_ablation.atomic import atomic_write_json

IDENTITY_GROUPS = ("roi", "model", "data", "train", "seed")
NOT_IDENTITY = ("train.num_workers", "train.log_period", "train.eval_period", "train.checkpoint_period", "train.vis_images",
                "train.keep_checkpoints")
HOW_LAUNCHED = ("experiment", "sweep_name", "device", "cpu_threads", "keep_freed_memory",  # never part of a result
                "hydra.launcher.n_jobs")
IDENTITY_FILE = "run_identity.json"


def not_in_directory_name() -> list[str]:
    """The overrides a sweep job's directory name leaves out, so the same run finds the same directory.

    `configs/train.yaml` reads them through the `${roi_ablation.not_identity:}` resolver.
    """
    return [*HOW_LAUNCHED, *NOT_IDENTITY]


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat if flat or not prefix else {prefix[:-1]: {}}
    return {prefix[:-1]: node}


def run_identity(cfg: Any) -> dict[str, Any]:
    """Flat `{dotted.key: value}` of the settings that define the run's result (`cfg`: a DictConfig or the typed root)."""
    container = OmegaConf.to_container(OmegaConf.structured(cfg) if is_dataclass(cfg) else cfg, resolve=True)
    assert isinstance(container, dict)
    picked = {group: container.get(group) for group in IDENTITY_GROUPS}
    return {k: v for k, v in _flatten(picked).items() if k not in NOT_IDENTITY}


def identity_diff(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable differences, one per key: `key: stored -> current`."""
    missing = object()
    return [
        f"{key}: {stored.get(key, '<unset>')!r} -> {current.get(key, '<unset>')!r}"
        for key in sorted(set(stored) | set(current))
        if stored.get(key, missing) != current.get(key, missing)
    ]


def read_identity(run_dir: Path) -> dict[str, Any] | None:
    """The identity stored in `run_dir` (None for a fresh directory)."""
    path = run_dir / IDENTITY_FILE
    return json.loads(path.read_text()) if path.exists() else None


def write_identity(run_dir: Path, identity: dict[str, Any]) -> None:
    """Store the identity; Hydra rewrites `.hydra/config.yaml` on every launch, so it cannot serve."""
    atomic_write_json(run_dir / IDENTITY_FILE, identity)
