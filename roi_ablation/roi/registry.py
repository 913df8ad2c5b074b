"""Registry of RoI layers: a name -> plan builder dict plus a decorator (as timm's models).

A layer is a *plan builder*: given RoIs and the feature map's shape it returns a
:class:`~roi_ablation.roi.plan.SamplingPlan`. The shared gather and aggregation turn any
plan into pooled features with exact gradients, and the explainer can draw it, so a new
layer is a few lines of geometry. Register yours in your own module and select it from a
config with ``custom_imports=[your.module] roi.method=your_name``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from typing import Callable, Protocol

from torch import Tensor

from .plan import SamplingPlan


class PlanBuilder(Protocol):
    def __call__(
        self,
        rois: Tensor,
        feature_shape: tuple[int, int, int],
        *,
        output_size: tuple[int, int],
        spatial_scale: float,
        sampling_ratio: int,
        aligned: bool,
        layout: str,
    ) -> SamplingPlan: ...


REGISTRY: dict[str, PlanBuilder] = {}


def register(name: str) -> Callable[[PlanBuilder], PlanBuilder]:
    """Decorator adding a plan builder under ``name``; a taken name is an error."""

    def add(builder: PlanBuilder) -> PlanBuilder:
        if name in REGISTRY:
            raise ValueError(f"RoI layer {name!r} is already registered; pick another name")
        REGISTRY[name] = builder
        return builder

    return add


def get_layer(name: str) -> PlanBuilder:
    if name not in REGISTRY:
        raise ValueError(f"unknown RoI method {name!r}; valid: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def import_custom_modules(names: Iterable[str]) -> None:
    """`custom_imports`: import the user's modules so the layers they `@register` exist.

    The working directory is searched first, as `python -m` does, so a console script finds
    a `my_layers.py` next to where it is run.
    """
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ValueError(
                f"custom_imports: cannot import {name!r} ({err}); make it importable (installed, or on PYTHONPATH)"
            ) from err
