"""Resolve root configs as `roi-ablation-train` does, and build a model from them."""

from collections.abc import Callable

import pytest
from torchvision.models.detection import MaskRCNN

from roi_ablation.config import RootConfig, compose_config, resolve
from roi_ablation.models import build_model


@pytest.fixture
def settings() -> Callable[..., RootConfig]:
    return lambda *overrides: resolve(compose_config(overrides))


@pytest.fixture
def build(settings) -> Callable[..., MaskRCNN]:
    def make(*overrides: str, num_classes: int = 3) -> MaskRCNN:
        resolved = settings(*overrides)
        return build_model(resolved.model, resolved.roi, num_classes)

    return make
