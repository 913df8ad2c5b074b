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
    bilinear_neighbours,
    bin_sample_positions,
    pool_bin_edges,
    round_half_away_from_zero,
)


@dataclass(frozen=True)
class SamplingPlan:
    """Cells and weights of every sample of every bin; ``B = K * oh * ow`` bins.

    - ``cells``: ``[B, S, P]`` flat indices into the ``N*H*W`` cells of the feature batch
    - ``weights``: ``[B, S, P]`` (0 for a neighbour outside the map)
    - ``valid``: ``[B, S]`` whether sample ``s`` exists in bin ``b``
    - ``count``: ``[B]`` divisor of the mean (RoIAlign counts out-of-map samples as 0s)
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

    @property
    def num_bins(self) -> int:
        return self.cells.shape[0]

    @property
    def num_cells(self) -> int:
        n, h, w = self.feature_shape
        return n * h * w

    def mean_weights(self) -> Tensor:
        """``[B, S, P]`` weights of the mean: each bin's exact linear reading of ``cells``."""
        w = self.weights * self.valid[..., None].to(self.weights.dtype)
        return w / self.count.clamp(min=1)[:, None, None].to(w.dtype)


def bilinear_plan(
    mapped: MappedRoIs, output_size: tuple[int, int], feature_shape: tuple[int, int, int], layout: str
) -> SamplingPlan:
    """Plan of RoIAlign / RoIWarp: ``grid_h x grid_w`` bilinear samples per bin."""
    oh, ow = output_size
    n, height, width = feature_shape
    k = mapped.x0.shape[0]
    ys, valid_y = bin_sample_positions(mapped.y0, mapped.bin_h, mapped.grid_h, oh, layout)
    xs, valid_x = bin_sample_positions(mapped.x0, mapped.bin_w, mapped.grid_w, ow, layout)
    sh, sw = ys.shape[-1], xs.shape[-1]
    cy, wy = bilinear_neighbours(ys, height)  # [K, oh, Sh, 2]
    cx, wx = bilinear_neighbours(xs, width)  # [K, ow, Sw, 2]
    # Broadcast to [K, oh, ow, Sh, Sw, 2(y), 2(x)].
    row = (mapped.batch_index[:, None, None, None, None, None, None] * height + cy[:, :, None, :, None, :, None])
    cells = row * width + cx[:, None, :, None, :, None, :]
    weights = wy[:, :, None, :, None, :, None] * wx[:, None, :, None, :, None, :]
    valid = valid_y[:, None, None, :, None] & valid_x[:, None, None, None, :]
    points = torch.stack(torch.broadcast_tensors(xs[:, None, :, None, :], ys[:, :, None, :, None]), dim=-1)
    b, s = k * oh * ow, sh * sw
    count = (mapped.grid_h * mapped.grid_w).clamp(min=1)
    return SamplingPlan(
        cells=cells.reshape(b, s, 4),
        weights=weights.reshape(b, s, 4),
        valid=valid.expand(k, oh, ow, sh, sw).reshape(b, s),
        count=count.repeat_interleave(oh * ow).to(weights.dtype),
        points=points.reshape(b, s, 2),
        num_rois=k,
        output_size=output_size,
        feature_shape=feature_shape,
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
    x0, y0 = corners[:, 0], corners[:, 1]
    roi_w = (corners[:, 2] - x0 + 1).clamp(min=1)
    roi_h = (corners[:, 3] - y0 + 1).clamp(min=1)
    y_begin, y_end = pool_bin_edges(y0, roi_h, oh, height, rois.dtype)
    x_begin, x_end = pool_bin_edges(x0, roi_w, ow, width, rois.dtype)
    y_len, x_len = y_end - y_begin, x_end - x_begin  # may be <= 0: empty bin
    sh = max(int(y_len.max()), 1) if k else 1
    sw = max(int(x_len.max()), 1) if k else 1
    iy = torch.arange(sh, device=rois.device)
    ix = torch.arange(sw, device=rois.device)
    y = y_begin[..., None] + iy  # [K, oh, Sh]
    x = x_begin[..., None] + ix  # [K, ow, Sw]
    ok_y, ok_x = iy < y_len[..., None], ix < x_len[..., None]
    batch = rois[:, 0].long()[:, None, None, None, None]
    y5, x5 = y[:, :, None, :, None], x[:, None, :, None, :]
    cells = (batch * height + y5.clamp(max=height - 1)) * width + x5.clamp(max=width - 1)
    valid = ok_y[:, :, None, :, None] & ok_x[:, None, :, None, :]
    b, s = k * oh * ow, sh * sw
    cells = cells.expand(k, oh, ow, sh, sw).reshape(b, s, 1)
    valid = valid.expand(k, oh, ow, sh, sw).reshape(b, s)
    points = torch.stack(torch.broadcast_tensors(x5, y5), dim=-1).expand(k, oh, ow, sh, sw, 2)
    count = (y_len.clamp(min=0)[:, :, None] * x_len.clamp(min=0)[:, None, :]).reshape(b)
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
