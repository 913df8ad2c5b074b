"""Which cells a RoI layer reads, against the cells the RoI covers: the seed's lost and gained.

- overlapped: cells whose square meets the box (picture coordinates) with positive area;
- read: cells with a nonzero weight in the plan (any sample, any bin);
- lost: overlapped cells that nothing reads; gained: read cells the box does not overlap;
- misplaced weight: how far the mean of all bins is from the box's true area average on a
  map that is constant per cell. Cell-level lost/gained can tie (RoIWarp and RoIAlign often
  read the same cells); this number still separates them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from roi_ablation.explain.setting import PICTURE_OFFSET, Setting
from roi_ablation.roi import SamplingPlan

Point = tuple[float, float]


@dataclass(frozen=True)
class Coverage:
    """One method's reading of the setting's box; maps are ``[H, W]`` float64."""

    method: str
    plan: SamplingPlan
    share: Tensor
    area: Tensor

    @property
    def overlapped(self) -> Tensor:
        return self.area > 0

    @property
    def read(self) -> Tensor:
        return self.share > 0

    @property
    def lost(self) -> Tensor:
        return self.overlapped & ~self.read

    @property
    def gained(self) -> Tensor:
        return self.read & ~self.overlapped

    @property
    def misplaced(self) -> float:
        """Share of the box's area that the bins' mean under-weights (0..1): weight that
        sits on other cells, or on zeros beyond the map, instead of where the box is."""
        return float((self.area - self.share).clamp(min=0).sum())

    def lost_share(self) -> float:
        """Lost cells over overlapped cells."""
        return int(self.lost.sum()) / int(self.overlapped.sum())

    def gained_share(self) -> float:
        """Gained cells relative to overlapped cells (can exceed 1)."""
        return int(self.gained.sum()) / int(self.overlapped.sum())


def weight_share(plan: SamplingPlan) -> Tensor:
    """``[H, W]`` share of each cell in the average of all bins' means (sums to 1 inside the map)."""
    _, height, width = plan.feature_shape
    weights = plan.mean_weights().to(torch.float64).reshape(-1)
    total = torch.zeros(plan.num_cells, dtype=torch.float64).index_add_(0, plan.cells.reshape(-1), weights)
    return (total / max(1, plan.num_bins)).view(height, width)


def area_share(box: tuple[float, float, float, float], feature_size: tuple[int, int]) -> Tensor:
    """``[H, W]`` share of the box's in-map area in each cell (picture coordinates).

    The box must overlap the map (the CLI checks that it overlaps the image).
    """
    x1, y1, x2, y2 = box
    height, width = feature_size
    xs = torch.arange(width, dtype=torch.float64)
    ys = torch.arange(height, dtype=torch.float64)
    overlap_x = ((xs + 1).clamp(max=x2) - xs.clamp(min=x1)).clamp(min=0)
    overlap_y = ((ys + 1).clamp(max=y2) - ys.clamp(min=y1)).clamp(min=0)
    area = overlap_y[:, None] * overlap_x[None, :]
    return area / area.sum()


def first_bin_reads(plan: SamplingPlan) -> list[tuple[Point, list[tuple[Point, float]]]]:
    """Bin 0's samples with the cell centres each reads (nonzero weights), in picture coordinates."""
    width = plan.feature_shape[2]
    valid = plan.valid[0]
    samples = []
    for point, cells, weights in zip(plan.points[0][valid], plan.cells[0][valid], plan.weights[0][valid]):
        px, py = (point + PICTURE_OFFSET).tolist()
        reads = [((c % width + PICTURE_OFFSET, c // width + PICTURE_OFFSET), w)
                 for c, w in zip(cells.tolist(), weights.tolist()) if w != 0]
        samples.append(((px, py), reads))
    return samples


def coverage(setting: Setting, method: str) -> Coverage:
    """Build ``method``'s plan for the setting and compare what it reads with the box."""
    plan = setting.plan(method)
    return Coverage(method, plan, weight_share(plan), area_share(setting.box_on_grid, setting.feature_size))
