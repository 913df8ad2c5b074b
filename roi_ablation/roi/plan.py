"""The sampling plan: for every output bin, which feature cells it reads and with what weight.

Every RoI layer in this project is (1) a plan, (2) a sparse gather, (3) an aggregation.
A plan lists, per bin, up to ``S`` samples; each sample reads ``P`` cells (4 bilinear
neighbours for align/warp, 1 cell for pool) with weights. Padding samples (RoIs with a
smaller adaptive grid, RoIPool bins with fewer cells) are marked invalid. The mean is the
sum of a bin's valid samples divided by ``count``; the max is over its valid samples.

Because the plan is data, not a kernel, the explainer can draw exactly what ``extract``
computes, and a user's RoI layer is just another plan builder.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .geometry import (
    MappedRoIs,
    device_constant,
    bilinear_neighbours,
    bin_sample_positions,
    pool_bin_edges,
    round_half_away_from_zero,
    sample_exists,
)


@dataclass(frozen=True)
class SamplingPlan:
    """Cells and weights of every sample of every bin; ``B = K * oh * ow`` bins.

    - ``cells``: ``[B, S, P]`` flat indices into the ``N*H*W`` cells of the feature batch
    - ``weights``: ``[B, S, P]`` (0 for a neighbour outside the map and for an invalid sample)
    - ``valid``: ``[B, S]`` whether sample ``s`` exists in bin ``b``
    - ``count``: ``[B]`` divisor of the mean, at least 1 (RoIAlign counts out-of-map samples as 0s)
    - ``points``: ``[B, S, 2]`` sample ``(x, y)`` in feature index space (for drawing)
    """

    cells: Tensor
    weights: Tensor
    valid: Tensor
    count: Tensor
    points: Tensor
    num_rois: int
    output_size: tuple[int, int]
    feature_shape: tuple[int, int, int]
    all_valid: bool = False  # known without reading ``valid``: every sample exists (a fixed grid)

    @property
    def num_bins(self) -> int:
        return self.cells.shape[0]

    @property
    def num_cells(self) -> int:
        n, h, w = self.feature_shape
        return n * h * w

    def mean_weights(self) -> Tensor:
        """``[B, S, P]`` weights of the mean: each bin's exact linear reading of ``cells``."""
        return self.weights / self.count[:, None, None]


def bilinear_plan(
    mapped: MappedRoIs, output_size: tuple[int, int], feature_shape: tuple[int, int, int], layout: str
) -> SamplingPlan:
    """Plan of RoIAlign / RoIWarp: ``grid_h x grid_w`` bilinear samples per bin.

    Both axes go through the geometry together (padded to the larger bin count and grid),
    so building the plan is a few dozen ops whatever the RoI count; a fixed sampling ratio
    needs no read from the device.
    """
    oh, ow = output_size
    n, height, width = feature_shape
    k = mapped.start.shape[0]
    sw, sh = mapped.most
    device, dtype = mapped.start.device, mapped.start.dtype
    grid = sw if mapped.fixed else mapped.grid  # sw == sh when fixed
    pos = bin_sample_positions(mapped.start, mapped.bin, grid, max(oh, ow), layout, max(sw, sh))
    cells, weights = bilinear_neighbours(pos, (width, height))  # [K, 2 (x, y), bins, S, 2 (low, high)]
    cx, wx, xs = cells[:, 0, :ow, :sw], weights[:, 0, :ow, :sw], pos[:, 0, :ow, :sw]
    cy, wy, ys = cells[:, 1, :oh, :sh], weights[:, 1, :oh, :sh], pos[:, 1, :oh, :sh]
    # Broadcast to [K, oh, ow, Sh, Sw, 2(y), 2(x)].
    row = mapped.batch_index[:, None, None, None, None, None, None] * height + cy[:, :, None, :, None, :, None]
    b, s = k * oh * ow, sh * sw
    bin_weights = (wy[:, :, None, :, None, :, None] * wx[:, None, :, None, :, None, :]).reshape(b, s, 4)
    if mapped.fixed:  # every RoI has the full grid: nothing to mask, one divisor
        every = device_constant((True,), device, torch.bool).expand(b, s)
        count = device_constant((max(sw * sh, 1),), device, dtype).expand(b)
    else:
        valid = sample_exists(mapped.grid, max(sw, sh))  # [K, 2, S]
        every = (valid[:, 1, None, None, :sh, None] & valid[:, 0, None, None, None, :sw]).expand(k, oh, ow, sh, sw).reshape(b, s)
        bin_weights = bin_weights * every[..., None]  # padding samples weigh nothing
        count = mapped.grid.prod(dim=1).clamp(min=1).repeat_interleave(oh * ow).to(weights.dtype)
    return SamplingPlan(
        cells=(row * width + cx[:, None, :, None, :, None, :]).reshape(b, s, 4),
        weights=bin_weights,
        valid=every,
        count=count,
        points=torch.stack(torch.broadcast_tensors(xs[:, None, :, None, :], ys[:, :, None, :, None]), dim=-1).reshape(b, s, 2),
        num_rois=k,
        output_size=output_size,
        feature_shape=feature_shape,
        all_valid=mapped.fixed,
    )


def pool_plan(
    rois: Tensor, output_size: tuple[int, int], feature_shape: tuple[int, int, int], spatial_scale: float
) -> SamplingPlan:
    """Plan of RoIPool: every cell of a bin's rounded-outward extent, weight 1.

    Matches ``torchvision.ops.roi_pool``: box corners rounded (half away from zero), the
    end cell included, boxes at least one cell, empty bins (outside the map) read nothing.
    """
    oh, ow = output_size
    n, height, width = feature_shape
    k = rois.shape[0]
    corners = round_half_away_from_zero(rois[:, 1:] * spatial_scale).long()
    start = corners[:, :2]  # [K, 2]: (x0, y0), as every geometry here
    begin, end = pool_bin_edges(start, (corners[:, 2:] - start + 1).clamp(min=1), (ow, oh), (width, height), rois.dtype)
    length = end - begin  # [K, 2, bins]; may be <= 0: empty bin
    # The one device read of a pool plan: its size depends on the boxes.
    sw, sh = (max(int(v), 1) for v in length.amax(dim=(0, 2)).tolist()) if k else (1, 1)
    i = torch.arange(max(sw, sh), device=rois.device)
    pos = begin[..., None] + i  # [K, 2, bins, S]: the cell of a bin's i-th sample along each axis
    ok = i < length[..., None]
    cell = torch.minimum(pos, device_constant((width - 1, height - 1), rois.device, torch.long).view(2, 1, 1))

    def along_x(t: Tensor) -> Tensor:  # broadcast to [K, oh, ow, Sh, Sw]
        return t[:, None, 0, :ow, None, :sw]

    def along_y(t: Tensor) -> Tensor:
        return t[:, 1, :oh, None, :sh, None]

    x5, y5 = along_x(pos), along_y(pos)
    batch = rois[:, 0].long()[:, None, None, None, None]
    cells = (batch * height + along_y(cell)) * width + along_x(cell)
    valid = along_y(ok) & along_x(ok)
    b, s = k * oh * ow, sh * sw
    cells = cells.expand(k, oh, ow, sh, sw).reshape(b, s, 1)
    valid = valid.expand(k, oh, ow, sh, sw).reshape(b, s)
    points = torch.stack(torch.broadcast_tensors(x5, y5), dim=-1).expand(k, oh, ow, sh, sw, 2)
    count = valid.sum(dim=1).clamp(min=1)  # the cells a bin reads
    return SamplingPlan(
        cells=cells,
        weights=valid[..., None].to(rois.dtype),
        valid=valid,
        count=count.to(rois.dtype),
        points=points.reshape(b, s, 2).to(rois.dtype),
        num_rois=k,
        output_size=output_size,
        feature_shape=feature_shape,
    )
