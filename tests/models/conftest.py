"""Compose root configs from configs/ as `roi-ablation-train` does."""

from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture
def compose_cfg() -> Callable[..., DictConfig]:
    def _compose(*overrides: str) -> DictConfig:
        with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
            return compose("train", overrides=list(overrides))

    return _compose
