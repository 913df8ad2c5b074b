"""Geometry of RoI layers: where a box lands on the feature map and where its bins sample.

Everything here is a pure, vectorised function of box coordinates; no feature values are
touched. The sampling plan (``plan.py``) turns these positions into cell weights, and the
explainer draws the very same numbers.

Coordinates: boxes are ``(x1, y1, x2, y2)`` in input-image pixels. Positions returned here
are in feature *index* space, where cell ``i`` has its centre at ``i`` (the convention of
torchvision's kernels). With ``aligned=True`` a box coordinate ``u`` maps to ``u*scale -
0.5``: in the seed's picture, where cell ``i`` spans ``[i, i+1)`` and has its centre at
``i + 0.5``, that is simply ``u*scale``. Add 0.5 to any index-space position to get the
picture's coordinate.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

LAYOUTS = ("center", "interior", "corner")

# Sample i of n along a bin side sits at (i + a) / (n + b) of the bin.
_LAYOUT_OFFSETS = {"center": (0.5, 0), "interior": (1.0, 1), "corner": (0.0, 0)}


def round_half_away_from_zero(x: Tensor) -> Tensor:
    """C's ``round`` (RoIPool's rounding); ``torch.round`` rounds half to even instead.

    Decided on the exact fractional part: ``floor(|x| + 0.5)`` would round the float just
    below 0.5 up, because the addition itself rounds.
    """
    whole = torch.trunc(x)
    return torch.where((x - whole).abs() >= 0.5, whole + torch.sign(x), whole)


@dataclass(frozen=True)
class MappedRoIs:
    """Boxes mapped to feature index space, with their bins and per-RoI sample grid.

    All tensors have one entry per RoI. ``grid_h``/``grid_w`` are the number of samples
    per bin side (fixed, or adaptive ``ceil(bin size)`` when ``sampling_ratio <= 0``).
    """

    batch_index: Tensor
    x0: Tensor
    y0: Tensor
    width: Tensor
    height: Tensor
    bin_w: Tensor
    bin_h: Tensor
    grid_w: Tensor
    grid_h: Tensor


def map_rois(
    rois: Tensor,
    output_size: tuple[int, int],
    spatial_scale: float,
    sampling_ratio: int,
    aligned: bool,
    quantize: bool = False,
) -> MappedRoIs:
    """Map ``[K, 5]`` RoIs to feature index space as torchvision's RoIAlign does.

    ``quantize=True`` first rounds each mapped coordinate to the nearest cell edge, as
    RoIPool does (RoIWarp = RoIAlign on that rounded box). Without ``aligned`` a box is
    at least one cell wide and high (legacy behaviour, kept for faithful comparisons).
    The arithmetic follows torchvision's kernel operation by operation, so float32
    results agree to the last bits.
    """
    oh, ow = output_size
    scaled = rois[:, 1:] * spatial_scale
    if quantize:
        scaled = round_half_away_from_zero(scaled)
    offset = 0.5 if aligned else 0.0
    x0, y0 = scaled[:, 0] - offset, scaled[:, 1] - offset
    width, height = (scaled[:, 2] - offset) - x0, (scaled[:, 3] - offset) - y0
    if not aligned:
        width, height = width.clamp(min=1.0), height.clamp(min=1.0)
    bin_h, bin_w = height / oh, width / ow
    if sampling_ratio > 0:
        grid_h = torch.full_like(rois[:, 0], sampling_ratio, dtype=torch.long)
        grid_w = grid_h
    else:
        grid_h = torch.ceil(height / oh).long().clamp(min=0)
        grid_w = torch.ceil(width / ow).long().clamp(min=0)
    return MappedRoIs(rois[:, 0].long(), x0, y0, width, height, bin_w, bin_h, grid_w, grid_h)


def bin_sample_positions(
    start: Tensor, bin_size: Tensor, grid: Tensor, bins: int, layout: str
) -> tuple[Tensor, Tensor]:
    """Sample positions along one axis: ``[K, bins, S]`` and which of the ``S`` exist.

    ``S`` is the largest grid of any RoI; RoIs with an adaptive, smaller grid get padding
    samples marked invalid (``[K, S]`` mask), so a batch stays one dense tensor.
    """
    a, b = _LAYOUT_OFFSETS[layout]
    most = int(grid.max()) if grid.numel() else 0
    i = torch.arange(most, device=start.device, dtype=start.dtype)
    p = torch.arange(bins, device=start.device, dtype=start.dtype)
    # Padding samples of an empty grid must not divide by zero (they are masked anyway).
    denominator = (grid + b).clamp(min=1).to(start.dtype)[:, None, None]
    bin_start = start[:, None, None] + p[None, :, None] * bin_size[:, None, None]
    pos = bin_start + (i + a)[None, None, :] * bin_size[:, None, None] / denominator
    valid = i[None, :] < grid[:, None]
    return pos, valid


def bilinear_neighbours(pos: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """The two cells a position interpolates along one axis, and their weights.

    Returns ``cells [..., 2]`` (low, high) and ``weights [..., 2]``. Border rule as
    torchvision: beyond one cell outside the map the weights are 0, otherwise the
    position clamps to the map (so at the last cell both neighbours are that cell).
    """
    inside = (pos >= -1.0) & (pos <= size)
    p = pos.clamp(min=0)
    low = p.floor().long()
    at_edge = low >= size - 1
    low = torch.where(at_edge, torch.full_like(low, size - 1), low)
    high = torch.where(at_edge, low, low + 1)
    p = torch.where(at_edge, low.to(p.dtype), p)
    frac = p - low.to(p.dtype)
    weights = torch.stack([1 - frac, frac], dim=-1) * inside[..., None].to(p.dtype)
    return torch.stack([low, high], dim=-1), weights


def pool_bin_edges(
    start: Tensor, length: Tensor, bins: int, size: int, dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """RoIPool's cell range ``[begin, end)`` of each bin along one axis, ``[K, bins]``.

    ``start`` is the rounded first cell and ``length`` the rounded extent in cells
    (inclusive of the end cell, at least 1); each bin's extent is rounded outward (floor
    of its start, ceil of its end) and clipped to the map, as in Fast R-CNN. ``dtype``
    is the features' compute type, in which torchvision's kernel does this arithmetic.
    """
    bin_size = length.to(dtype) / bins
    p = torch.arange(bins, device=start.device, dtype=dtype)
    begin = torch.floor(p[None, :] * bin_size[:, None]).long() + start[:, None]
    end = torch.ceil((p[None, :] + 1) * bin_size[:, None]).long() + start[:, None]
    return begin.clamp(0, size), end.clamp(0, size)
