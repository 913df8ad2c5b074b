"""Compose root configs from configs/ as `roi-ablation-train` does."""

from collections.abc import Callable

import pytest
from omegaconf import DictConfig

from roi_ablation.train import compose_config


@pytest.fixture
def compose_cfg() -> Callable[..., DictConfig]:
    return lambda *overrides: compose_config(overrides)
