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
from functools import lru_cache

import torch
from torch import Tensor

LAYOUTS = ("center", "interior", "corner")

# Sample i of n along a bin side sits at (i + a) / (n + b) of the bin.
_LAYOUT_OFFSETS = {"center": (0.5, 0), "interior": (1.0, 1), "corner": (0.0, 0)}


def round_half_away_from_zero(x: Tensor) -> Tensor:
    """C's ``round`` (RoIPool's rounding); ``torch.round`` rounds half to even instead.

    Decided on the exact fractional part ``f = x - trunc(x)`` (exact in floating point):
    ``trunc(2f)`` is the step away from zero, +-1 exactly when ``|f| >= 0.5``.
    ``floor(|x| + 0.5)`` would round the float just below 0.5 up, because the addition
    itself rounds.
    """
    whole = torch.trunc(x)
    return whole + torch.trunc(2 * (x - whole))


@lru_cache(maxsize=256)
def device_constant(values: tuple[float | int | bool, ...], device: torch.device, dtype: torch.dtype) -> Tensor:
    """A small constant tensor, made once per device and dtype (expand it, never write it).

    ``torch.tensor(..., device="cuda")`` is a blocking host-to-device copy and
    ``torch.full`` a kernel: in a layer called every step either would cost each time.
    """
    return torch.tensor(values, device=device, dtype=dtype)


@dataclass(frozen=True)
class MappedRoIs:
    """Boxes mapped to feature index space, with their bins and per-RoI sample grid.

    Both axes are held together, column 0 for x and column 1 for y (``[K, 2]``), so the
    plan's geometry is one vectorised op per step for both axes: on a GPU every op is a
    kernel launch. ``grid`` is the number of samples per bin side (fixed, or adaptive
    ``ceil(bin size)`` when ``sampling_ratio <= 0``); ``most`` its largest value per axis
    (``(x, y)``), known without reading the device when the ratio is fixed.
    """

    batch_index: Tensor
    start: Tensor
    size: Tensor
    bin: Tensor
    grid: Tensor
    most: tuple[int, int]
    fixed: bool

    @property
    def x0(self) -> Tensor:
        return self.start[:, 0]

    @property
    def y0(self) -> Tensor:
        return self.start[:, 1]

    @property
    def width(self) -> Tensor:
        return self.size[:, 0]

    @property
    def height(self) -> Tensor:
        return self.size[:, 1]

    @property
    def bin_w(self) -> Tensor:
        return self.bin[:, 0]

    @property
    def bin_h(self) -> Tensor:
        return self.bin[:, 1]

    @property
    def grid_w(self) -> Tensor:
        return self.grid[:, 0]

    @property
    def grid_h(self) -> Tensor:
        return self.grid[:, 1]


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
    if aligned:
        scaled = scaled - 0.5
    start = scaled[:, :2]
    size = scaled[:, 2:] - start
    if not aligned:
        size = size.clamp(min=1.0)
    bin_size = size / device_constant((ow, oh), size.device, size.dtype)
    if sampling_ratio > 0:
        grid = device_constant((sampling_ratio,), start.device, torch.long).expand_as(start)
        most = (sampling_ratio, sampling_ratio)
    else:
        grid = torch.ceil(bin_size).long().clamp(min=0)
        mx, my = grid.amax(dim=0).tolist() if grid.numel() else (0, 0)  # one device read: the plan's size
        most = (mx, my)
    return MappedRoIs(rois[:, 0].long(), start, size, bin_size, grid, most, sampling_ratio > 0)


def bin_sample_positions(
    start: Tensor, bin_size: Tensor, grid: Tensor | int, bins: int, layout: str, most: int | None = None
) -> Tensor:
    """Sample positions along an axis, ``[..., bins, S]``.

    ``start`` and ``bin_size`` have one entry per RoI (``[K]``, or ``[K, 2]`` for both axes
    at once); ``grid`` too, or one int for every RoI (a fixed sampling ratio: no tensor to
    read). ``S`` is ``most``, the largest grid (read from ``grid`` when not given); RoIs
    with a smaller adaptive grid get padding samples (``sample_exists`` says which), so a
    batch stays one dense tensor. The arithmetic is torchvision's: ``start + p * bin +
    (i + a) * bin / grid``.
    """
    a, b = _LAYOUT_OFFSETS[layout]
    if most is None:
        most = grid if isinstance(grid, int) else (int(grid.max()) if grid.numel() else 0)
    i_plus_a = torch.arange(a, most + a, device=start.device, dtype=start.dtype)  # i + a, exactly
    p = torch.arange(bins, device=start.device, dtype=start.dtype)
    if isinstance(grid, int):  # one grid for every RoI: a number, not a tensor
        denominator: Tensor | float = float(max(grid + b, 1))
    else:  # padding samples of an empty grid must not divide by zero (they are masked anyway)
        denominator = (grid + b).clamp(min=1).to(start.dtype)[..., None, None]
    bin_start = start[..., None, None] + p[:, None] * bin_size[..., None, None]
    return bin_start + i_plus_a * bin_size[..., None, None] / denominator


def sample_exists(grid: Tensor, most: int) -> Tensor:
    """``[..., most]``: whether sample ``i`` exists in a RoI whose grid is ``grid [...]``."""
    return torch.arange(most, device=grid.device) < grid[..., None]


def bilinear_neighbours(pos: Tensor, size: int | tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """The two cells a position interpolates along one axis, and their weights.

    Returns ``cells [..., 2]`` (low, high, int64) and ``weights [..., 2]``. ``size`` is the
    map's extent along the axis, or one extent per axis for ``pos [..., axes, bins, S]``
    (several axes at once). Border rule as torchvision: beyond one cell outside the map
    the weights are 0, otherwise the position clamps to ``[0, size - 1]`` (so at the last
    cell both neighbours are that cell).
    """
    sizes = (size,) if isinstance(size, int) else size
    shape = () if isinstance(size, int) else (len(sizes), 1, 1)

    def bound(values: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        return device_constant(values, pos.device, dtype).view(shape)

    last = tuple(s - 1 for s in sizes)
    inside = torch.clamp(pos, bound((-1,) * len(sizes), pos.dtype), bound(sizes, pos.dtype)) == pos
    p = torch.clamp(pos, bound((0,) * len(sizes), pos.dtype), bound(last, pos.dtype))
    low = p.long()  # p >= 0: truncation is the floor
    high = torch.minimum(low + 1, bound(last, torch.long))
    frac = p - low
    weights = torch.stack([1 - frac, frac], dim=-1) * inside[..., None]
    return torch.stack([low, high], dim=-1), weights


def pool_bin_edges(
    start: Tensor, length: Tensor, bins: tuple[int, int], size: tuple[int, int], dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """RoIPool's cell range ``[begin, end)`` of each bin along both axes, ``[K, 2, max(bins)]``.

    ``start`` is the rounded first cell and ``length`` the rounded extent in cells
    (inclusive of the end cell, at least 1), both ``[K, 2]`` (column 0 for x); ``bins`` and
    ``size`` are the bin count and the map's extent per axis ``(x, y)``. The axis with fewer
    bins is padded with bins at its end, at most one cell long (slice ``[:, axis, :bins[axis]]``),
    so the padding never sets a plan's size. Each bin's extent is rounded outward
    (floor of its start, ceil of its end) and clipped to the map, as in Fast R-CNN. ``dtype``
    is the features' compute type, in which torchvision's kernel does this arithmetic.
    """
    device = start.device
    bin_size = (length.to(dtype) / device_constant(bins, device, dtype))[..., None]
    p = torch.arange(max(bins) + 1, device=device, dtype=dtype)  # bin p spans edges p to p + 1
    if bins[0] != bins[1]:  # the shorter axis's padding bins start and end at its last edge
        p = torch.minimum(p, device_constant(bins, device, dtype).view(2, 1))
    edges = p * bin_size
    rounded = torch.stack([torch.floor(edges[..., :-1]), torch.ceil(edges[..., 1:])]).long() + start[..., None]
    zero, extent = device_constant((0, 0), device, torch.long).view(2, 1), device_constant(size, device, torch.long).view(2, 1)
    begin, end = torch.clamp(rounded, zero, extent).unbind(0)
    return begin, end
