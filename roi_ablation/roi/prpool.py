"""Precise RoI Pooling (PrRoIPool; Jiang et al., "Acquisition of Localization Confidence for
Accurate Object Detection", ECCV 2018) as a plan builder: no sampling ratio at all.

A bin's value is the exact integral of the bilinearly interpolated feature surface over
the bin, divided by the bin's area:

    out(bin) = 1/|bin| * sum_ij f_ij * (int_bin_y w_i(y) dy) * (int_bin_x w_j(x) dx)

where ``w_i`` is cell ``i``'s interpolation weight along one axis (the hat ``1 - |t - i|``,
with torchvision's border rule: constant beyond the outermost centres up to one cell out,
0 further away). The surface is separable, so each bin's plan is the outer product of two
1-D weight lists whose entries are the hat's antiderivative at the bin edges. It is the
limit of RoIAlign's average as the sampling ratio grows; a bin of zero extent reads the
surface at its position (the same limit). Only the average exists.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .geometry import map_rois
from .plan import SamplingPlan
from .registry import register


def _hat_integral(t: Tensor) -> Tensor:
    """``int_{-inf}^{t} max(0, 1 - |s|) ds``."""
    t = t.clamp(-1.0, 1.0)
    return torch.where(t <= 0, (t + 1) ** 2 / 2, 1 - (1 - t) ** 2 / 2)


def _cell_integral(x: Tensor, cell: Tensor, last: int) -> Tensor:
    """``int_{-inf}^{x} w_cell``: the hat plus the border rule's constant ends on cells 0 and ``last``."""
    left = torch.where(cell == 0, (1 - x.clamp(-1.0, 0.0) ** 2) / 2, torch.zeros_like(x))
    right = torch.where(cell == last, (x.clamp(float(last), last + 1.0) - last) ** 2 / 2, torch.zeros_like(x))
    return _hat_integral(x - cell) + left + right


def _cell_weight(x: Tensor, cell: Tensor, last: int) -> Tensor:
    """``w_cell(x)``, the interpolation weight at one position (for bins of zero extent)."""
    hat = (1 - (x - cell).abs()).clamp(min=0)
    left = torch.where((cell == 0) & (x >= -1) & (x <= 0), -x, torch.zeros_like(x))
    right = torch.where((cell == last) & (x >= last) & (x <= last + 1), x - last, torch.zeros_like(x))
    return hat + left + right


def _axis_weights(start: Tensor, bin_size: Tensor, bins: int, size: int) -> tuple[Tensor, Tensor, Tensor]:
    """Cells ``[K, bins, S]`` each bin reads along one axis, their mean weights, and which exist."""
    p = torch.arange(bins, device=start.device, dtype=start.dtype)
    low = start[:, None] + p[None, :] * bin_size[:, None]  # [K, bins]
    high = low + bin_size[:, None]
    first = low.floor().long().clamp(0, size - 1)
    last_cell = high.ceil().long().clamp(0, size - 1)
    span = int((last_cell - first).max()) + 1 if low.numel() else 1
    cells = first[..., None] + torch.arange(span, device=start.device)  # [K, bins, S]
    valid = cells <= last_cell[..., None]
    cells = cells.clamp(max=size - 1)
    lo, hi = low[..., None].expand(cells.shape), high[..., None].expand(cells.shape)
    extent = hi - lo
    integral = _cell_integral(hi, cells, size - 1) - _cell_integral(lo, cells, size - 1)
    mean = torch.where(extent > 0, integral / extent.clamp(min=torch.finfo(extent.dtype).tiny),
                       _cell_weight(lo, cells, size - 1))
    return cells, mean * valid.to(mean.dtype), valid


@register("prpool", title="PrRoIPool", align=True, bilinear=True, aggs=("avg",), reads=("aligned",))
def prpool(rois: Tensor, feature_shape: tuple[int, int, int], *, output_size: tuple[int, int],
           spatial_scale: float, sampling_ratio: int, aligned: bool, layout: str) -> SamplingPlan:
    """PrRoIPool: each bin the exact mean of the bilinear surface over it (reads ``aligned`` only)."""
    oh, ow = output_size
    _, height, width = feature_shape
    mapped = map_rois(rois, output_size, spatial_scale, 1, aligned)
    cy, wy, vy = _axis_weights(mapped.y0, mapped.bin_h, oh, height)  # [K, oh, Sy]
    cx, wx, vx = _axis_weights(mapped.x0, mapped.bin_w, ow, width)  # [K, ow, Sx]
    k, sy, sx = rois.shape[0], cy.shape[-1], cx.shape[-1]
    shape = (k, oh, ow, sy, sx)
    cells = (mapped.batch_index[:, None, None, None, None] * height + cy[:, :, None, :, None]) * width + cx[:, None, :, None, :]
    weights = wy[:, :, None, :, None] * wx[:, None, :, None, :]
    valid = vy[:, :, None, :, None] & vx[:, None, :, None, :]
    points = torch.stack(torch.broadcast_tensors(cx[:, None, :, None, :], cy[:, :, None, :, None]), dim=-1)
    b, s = k * oh * ow, sy * sx
    return SamplingPlan(
        cells=cells.expand(shape).reshape(b, s, 1),
        weights=weights.reshape(b, s, 1),
        valid=valid.expand(shape).reshape(b, s),
        count=torch.ones(b, dtype=rois.dtype, device=rois.device),
        points=points.reshape(b, s, 2).to(rois.dtype),
        num_rois=k,
        output_size=output_size,
        feature_shape=feature_shape,
    )
