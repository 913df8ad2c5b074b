"""The root config schema and the composition root's one conversion: DictConfig -> ``RootConfig``.

Each config group has one dataclass schema, owned by the package it configures:
``roi`` -> ``roi.RoISettings``, ``model`` -> ``models.ModelConfig``, ``data`` ->
``data.DataConfig``, ``train`` -> ``engine.TrainConfig``. ``RootConfig`` ties them
together and is stored in Hydra's ConfigStore as ``root_schema``, the first entry of
``configs/train.yaml``'s defaults, so composing checks every key and type (an unknown or
mistyped key fails at once, naming it). :func:`resolve` then builds the dataclasses
(``schema.typed``, the conversion every group's node goes through), whose ``__post_init__``
checks values (ranges, finiteness, names), so a bad value fails before anything is
built, with its dotted key in the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from roi_ablation.data.cache import cache_root_setting
from roi_ablation.data.config import DataConfig
from roi_ablation.engine.config import TrainConfig
from roi_ablation.engine.identity import not_in_directory_name
from roi_ablation.models.config import ModelConfig
from roi_ablation.roi import RoISettings
from roi_ablation.roi.registry import import_custom_modules
from roi_ablation.schema import typed

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class RootConfig:
    """The whole run: one RoI layer in one model on one data set with one schedule and seed."""

    roi: RoISettings = MISSING
    model: ModelConfig = MISSING
    data: DataConfig = MISSING
    train: TrainConfig = MISSING
    seed: int = 0
    device: str = "auto"  # cpu | cuda | auto (cuda when available)
    deterministic: bool = False  # torch.use_deterministic_algorithms + fixed worker seeds
    cpu_threads: int = 0  # torch threads per job on CPU; 0: torch's default (all cores)
    keep_freed_memory: bool = True  # glibc keeps freed blocks for reuse, no page faults per step (engine/host_memory.py)
    custom_imports: List[str] = field(default_factory=list)  # modules that @register RoI layers
    sweep_name: str = "sweep"

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {self.device!r}")
        if self.cpu_threads < 0:
            raise ValueError(f"cpu_threads must be >= 0 (0: torch's default); got {self.cpu_threads}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0; got {self.seed}")
        self.roi.check_plan_size()


def register_configs() -> None:
    """Store the schema Hydra composes ``configs/train.yaml`` against, and the resolvers it reads (idempotent)."""
    ConfigStore.instance().store(name="root_schema", node=RootConfig)
    OmegaConf.register_new_resolver("roi_ablation.not_identity", not_in_directory_name, replace=True)
    OmegaConf.register_new_resolver("roi_ablation.cache", cache_root_setting, replace=True)


def compose_config(overrides: Sequence[str] = (), return_hydra_config: bool = False) -> DictConfig:
    """The root config as `roi-ablation-train OVERRIDES...` composes it (for scripts and tests)."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=return_hydra_config)


def resolve(cfg: DictConfig) -> RootConfig:
    """The checked, typed config of a composed one; ``ValueError`` (one line, the key named) if anything is wrong.

    ``custom_imports`` are imported first, so the RoI layers they register can be checked.
    """
    import_custom_modules(OmegaConf.select(cfg, "custom_imports") or [])
    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    return typed(RootConfig, {str(k): v for k, v in container.items() if k != "hydra"})
