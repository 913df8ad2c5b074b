"""Registry of RoI layers: a name -> ``LayerSpec`` dict plus a decorator (as timm's models).

A layer is a *plan builder*: given RoIs and the feature map's shape it returns a
:class:`~roi_ablation.roi.plan.SamplingPlan`. The shared gather and aggregation turn any
plan into pooled features with exact gradients, and the explainer can draw it, so a new
layer is a few lines of geometry.

Everything the rest of the package knows about a layer lives in its entry: the name a
table prints, the paper's "align?" / "bilinear?" flags, the aggregations it supports,
which geometry arguments it reads (RoIPool reads no sampling ratio, offset or layout, so
runs that differ only there are one table row) and the settings the paper ran it with.
Register yours in your own module and select it from a config with
``custom_imports=[your.module] roi.method=your_name``::

    @register("align_wide", title="RoIAlign (wide)", align=True, bilinear=True)
    def align_wide(rois, feature_shape, **geometry): ...
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Protocol

from torch import Tensor

from .plan import SamplingPlan

AGGREGATIONS = ("max", "avg")
#: The geometry arguments a plan builder may read (besides output size and spatial scale).
GEOMETRY_ARGS = ("sampling_ratio", "aligned", "layout")


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


@dataclass(frozen=True)
class LayerSpec:
    """One registered RoI layer: its plan builder and what tables and configs know of it.

    - ``title``: the name a table prints (``RoIAlign``); the registry name if not given
    - ``align`` / ``bilinear``: the paper's Table 2c flags (None: not stated)
    - ``aggs``: the aggregations it supports, in the order tables list them
    - ``reads``: which of ``GEOMETRY_ARGS`` the builder uses; the others are ignored,
      so settings that differ only there are the same layer
    - ``paper``: the geometry the paper ran it with (a subset of ``reads``); a run with
      exactly these settings (and no mask override) is the paper's row, others are extras
    - ``order``: position among the rows of a table (registration order by default)

    Calling the spec calls its builder, so ``REGISTRY["align"](rois, shape, ...)`` is a plan.
    """

    name: str
    build: PlanBuilder
    title: str
    align: bool | None = None
    bilinear: bool | None = None
    aggs: tuple[str, ...] = AGGREGATIONS
    reads: frozenset[str] = frozenset(GEOMETRY_ARGS)
    paper: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    order: int = 0

    def __call__(self, rois: Tensor, feature_shape: tuple[int, int, int], **geometry: Any) -> SamplingPlan:
        return self.build(rois, feature_shape, **geometry)

    def check_agg(self, agg: str) -> None:
        """``ValueError`` naming what this layer supports, for an aggregation it does not."""
        if agg not in self.aggs:
            raise ValueError(f"RoI method {self.name!r} does not support agg {agg!r}; valid: {', '.join(self.aggs)}")


REGISTRY: dict[str, LayerSpec] = {}


def register(
    name: str,
    *,
    title: str | None = None,
    align: bool | None = None,
    bilinear: bool | None = None,
    aggs: Iterable[str] = AGGREGATIONS,
    reads: Iterable[str] = GEOMETRY_ARGS,
    paper: Mapping[str, Any] | None = None,
) -> Callable[[PlanBuilder], PlanBuilder]:
    """Decorator adding a plan builder under ``name`` with its metadata; a taken name is an error.

    The decorated function is returned unchanged; its entry is ``REGISTRY[name]``.
    """
    aggs, reads = tuple(aggs), frozenset(reads)
    if not aggs or set(aggs) - set(AGGREGATIONS):
        raise ValueError(f"register({name!r}): aggs must be a non-empty subset of {AGGREGATIONS}; got {aggs}")
    if reads - set(GEOMETRY_ARGS):
        raise ValueError(f"register({name!r}): reads must be a subset of {GEOMETRY_ARGS}; got {sorted(reads)}")
    paper = MappingProxyType(dict(paper or {}))
    if set(paper) - reads:
        raise ValueError(f"register({name!r}): paper settings {sorted(set(paper) - reads)} are not read by the layer")

    def add(builder: PlanBuilder) -> PlanBuilder:
        if name in REGISTRY:
            raise ValueError(f"RoI layer {name!r} is already registered; pick another name")
        REGISTRY[name] = LayerSpec(name, builder, title or name, align, bilinear, aggs, reads, paper, len(REGISTRY))
        return builder

    return add


def get_layer(name: str) -> LayerSpec:
    """The entry of ``name``; ``ValueError`` listing every registered name otherwise."""
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
