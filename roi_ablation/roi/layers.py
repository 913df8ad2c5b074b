"""The paper's three RoI layers as plan builders (see DESIGN.md for the exact rules)."""

from __future__ import annotations

from torch import Tensor

from .geometry import map_rois
from .plan import SamplingPlan, bilinear_plan, pool_plan
from .registry import register


@register("align")
def align(rois: Tensor, feature_shape: tuple[int, int, int], *, output_size: tuple[int, int],
          spatial_scale: float, sampling_ratio: int, aligned: bool, layout: str) -> SamplingPlan:
    """RoIAlign (He et al. 2017): no rounding; bilinear samples in equal bins."""
    mapped = map_rois(rois, output_size, spatial_scale, sampling_ratio, aligned)
    return bilinear_plan(mapped, output_size, feature_shape, layout)


@register("warp")
def warp(rois: Tensor, feature_shape: tuple[int, int, int], *, output_size: tuple[int, int],
         spatial_scale: float, sampling_ratio: int, aligned: bool, layout: str) -> SamplingPlan:
    """RoIWarp (Dai et al. 2016): RoIAlign on the box rounded to cells as RoIPool rounds it."""
    mapped = map_rois(rois, output_size, spatial_scale, sampling_ratio, aligned, quantize=True)
    return bilinear_plan(mapped, output_size, feature_shape, layout)


@register("pool")
def pool(rois: Tensor, feature_shape: tuple[int, int, int], *, output_size: tuple[int, int],
         spatial_scale: float, sampling_ratio: int, aligned: bool, layout: str) -> SamplingPlan:
    """RoIPool (Girshick 2015): rounded box, bins rounded outward; no sampling, no offset."""
    return pool_plan(rois, output_size, feature_shape, spatial_scale)
