"""``extract``: the one public entry point that pools features for RoIs by any layer."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from roi_ablation.values import is_int

from .ops import apply_plan
from .plan import SamplingPlan
from .registry import get_layer
from .settings import RoISettings


def as_roi_tensor(rois: Tensor | Sequence[Tensor], device: torch.device | str | None = None) -> Tensor:
    """``[K, 5]`` (batch index, x1, y1, x2, y2) from that or a per-image list of ``[Ki, 4]``.

    An empty list (a batch without images) is ``[0, 5]`` float32 on ``device``: there is
    no tensor to take a dtype or device from.
    """
    if isinstance(rois, Tensor):
        if rois.dim() != 2 or rois.shape[1] != 5:
            raise ValueError(f"rois must be [K, 5] (batch_idx, x1, y1, x2, y2) or a list of [Ki, 4]; got shape {tuple(rois.shape)}")
        return rois
    parts = []
    for i, boxes in enumerate(rois):
        if boxes.dim() != 2 or boxes.shape[1] != 4:
            raise ValueError(f"rois[{i}] must be [Ki, 4] (x1, y1, x2, y2); got shape {tuple(boxes.shape)}")
        parts.append(torch.cat([torch.full_like(boxes[:, :1], i), boxes], dim=1))
    if not parts:
        return torch.zeros(0, 5, device=device)
    return torch.cat(parts)


def _output_size(output_size: int | Sequence[int]) -> tuple[int, int]:
    size = (output_size, output_size) if isinstance(output_size, int) else output_size
    if not isinstance(size, Sequence) or len(size) != 2 or not all(
            is_int(s) and s > 0 for s in size):
        raise ValueError(f"output_size must be a positive int or (h, w) of positive ints; got {output_size!r}")
    return (size[0], size[1])


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; every other type is computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def coordinate_dtype(rois_dtype: torch.dtype, features_dtype: torch.dtype) -> torch.dtype:
    """Box geometry's type: float64 if boxes or features are float64, else float32.

    Never the features' half type: in fp16 a corner snaps to 0.5 px below 1024 px and in
    bf16 to 4-8 px at 1000-1300 px, which would quantise RoIAlign, the very effect the
    ablation measures. torchvision's autocast wrappers keep boxes in float32 too.
    """
    return compute_dtype(torch.promote_types(rois_dtype, features_dtype))


def _check_batch_index(batch_index: Tensor, n: int) -> None:
    """``ValueError`` unless every entry is an integer in ``0..n-1``; on CUDA an asynchronous
    device assert instead, so that a call does not wait for the GPU's queue to drain."""
    message = f"rois[:, 0] must be integer batch indices in 0..{n - 1} (features hold {n} images)"
    if not batch_index.numel():
        return
    ok = (batch_index.clamp(0, n - 1).trunc() == batch_index).all()
    if batch_index.device.type == "cuda":
        torch._assert_async(ok, message)
    elif not ok:
        raise ValueError(message)


def build_plan(
    features_shape: Sequence[int],
    rois: Tensor | Sequence[Tensor],
    method: str | None = None,
    output_size: int | Sequence[int] = (7, 7),
    spatial_scale: float = 1 / 16,
    sampling_ratio: int | None = None,
    aligned: bool | None = None,
    layout: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> SamplingPlan:
    """The sampling plan ``extract`` would use (validated): for drawing or inspecting.

    Arguments left ``None`` take ``RoISettings``' defaults, as ``extract``'s do. ``dtype`` is
    the features' dtype; the geometry runs in ``coordinate_dtype`` of it and the boxes'.
    """
    agg = None if method is None else get_layer(method).aggs[0]  # a plan is the same for every aggregation
    layer = RoISettings.of(method=method, agg=agg, sampling_ratio=sampling_ratio, aligned=aligned, layout=layout)
    return plan_for(layer, features_shape, rois, output_size, spatial_scale, dtype)


def plan_for(layer: RoISettings, features_shape: Sequence[int], rois: Tensor | Sequence[Tensor],
             output_size: int | Sequence[int], spatial_scale: float, dtype: torch.dtype = torch.float32) -> SamplingPlan:
    """``build_plan`` for checked settings: the plan ``layer`` samples for ``rois`` on ``features_shape``."""
    if not 0 < spatial_scale < float("inf"):
        raise ValueError(f"spatial_scale must be a positive finite number (1/stride); got {spatial_scale!r}")
    if len(features_shape) != 4:
        raise ValueError(f"features must be [N, C, H, W]; got shape {tuple(features_shape)}")
    n, _, h, w = features_shape
    roi_tensor = as_roi_tensor(rois)
    roi_tensor = roi_tensor.to(coordinate_dtype(roi_tensor.dtype, dtype))
    _check_batch_index(roi_tensor[:, 0], n)
    return get_layer(layer.method)(roi_tensor, (n, h, w), output_size=_output_size(output_size),
                                   spatial_scale=float(spatial_scale), **layer.geometry())


def extract(
    features: Tensor,
    rois: Tensor | Sequence[Tensor],
    method: str | None = None,
    agg: str | None = None,
    output_size: int | Sequence[int] = (7, 7),
    spatial_scale: float = 1 / 16,
    sampling_ratio: int | None = None,
    aligned: bool | None = None,
    layout: str | None = None,
) -> Tensor:
    """Pool ``features [N, C, H, W]`` for each RoI into ``[K, C, h, w]``.

    ``method`` is any registered layer ("pool", "warp", "align", or yours), ``agg`` the
    mean or max over a bin's samples. Arguments left ``None`` take ``RoISettings``'
    defaults: RoIAlign with average, and the layer's paper geometry from its registry
    entry. Differentiable w.r.t. ``features`` with exact gradients. Half-precision inputs
    (and autocast) are computed in float32 and returned in the input's dtype, as
    torchvision's RoI ops do.
    """
    layer = RoISettings.of(method=method, agg=agg, sampling_ratio=sampling_ratio, aligned=aligned, layout=layout)
    return extract_with(layer, features, rois, output_size, spatial_scale)


def extract_with(layer: RoISettings, features: Tensor, rois: Tensor | Sequence[Tensor],
                 output_size: int | Sequence[int], spatial_scale: float) -> Tensor:
    """``extract`` for checked settings (what ``RoIPooler`` calls, without re-checking them per call)."""
    if not features.is_floating_point():
        raise ValueError(f"features must be a floating-point tensor; got {features.dtype}")
    roi_tensor = as_roi_tensor(rois, features.device)
    if roi_tensor.device != features.device:
        raise ValueError(f"rois are on {roi_tensor.device} but features on {features.device}; "
                         f"move them with rois.to(features.device)")
    work = compute_dtype(features.dtype)
    # Autocast off for the geometry too: a user's plan builder may use ops autocast lowers.
    with torch.autocast(features.device.type, enabled=False):
        plan = plan_for(layer, features.shape, roi_tensor, output_size, spatial_scale, features.dtype)
        pooled = apply_plan(features.to(work), plan, layer.agg)
    return pooled.to(features.dtype)
