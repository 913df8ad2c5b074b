"""The paper's three RoI layers as plan builders (see docs/design.md for the exact rules).

Each entry states what the tables need: its name, the paper's "align?" / "bilinear?"
flags, the geometry it reads, and the settings the paper ran it with (the 2017 layers:
Fast R-CNN's RoIPool, MNC's RoIWarp with two corner samples per bin side, Detectron's
RoIAlign with two centre samples; all without the half-pixel offset).
"""

from __future__ import annotations

from torch import Tensor

from .geometry import map_rois
from .plan import SamplingPlan, bilinear_plan, pool_plan
from .registry import register


@register("pool", title="RoIPool", align=False, bilinear=False, reads=())
def pool(rois: Tensor, feature_shape: tuple[int, int, int], *, output_size: tuple[int, int],
         spatial_scale: float, sampling_ratio: int, aligned: bool, layout: str) -> SamplingPlan:
    """RoIPool (Girshick 2015): rounded box, bins rounded outward; no sampling, no offset."""
    return pool_plan(rois, output_size, feature_shape, spatial_scale)


@register("warp", title="RoIWarp", align=False, bilinear=True,
          paper={"sampling_ratio": 2, "aligned": False, "layout": "corner"})
def warp(rois: Tensor, feature_shape: tuple[int, int, int], *, output_size: tuple[int, int],
         spatial_scale: float, sampling_ratio: int, aligned: bool, layout: str) -> SamplingPlan:
    """RoIWarp (Dai et al. 2016): RoIAlign on the box rounded to cells as RoIPool rounds it."""
    mapped = map_rois(rois, output_size, spatial_scale, sampling_ratio, aligned, quantize=True)
    return bilinear_plan(mapped, output_size, feature_shape, layout)


@register("align", title="RoIAlign", align=True, bilinear=True,
          paper={"sampling_ratio": 2, "aligned": False, "layout": "center"})
def align(rois: Tensor, feature_shape: tuple[int, int, int], *, output_size: tuple[int, int],
          spatial_scale: float, sampling_ratio: int, aligned: bool, layout: str) -> SamplingPlan:
    """RoIAlign (He et al. 2017): no rounding; bilinear samples in equal bins."""
    mapped = map_rois(rois, output_size, spatial_scale, sampling_ratio, aligned)
    return bilinear_plan(mapped, output_size, feature_shape, layout)
