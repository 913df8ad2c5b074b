"""One explained setting (image, stride, box, RoI-layer options) and the plans it implies.

Positions are shown in the seed's *picture* coordinates: cell ``i`` spans ``[i, i+1)``
with its centre at ``i + 0.5``, i.e. feature index space plus 0.5, and a box coordinate
``u`` lies at ``u / stride``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from roi_ablation.roi import SamplingPlan, build_plan
from roi_ablation.roi.geometry import MappedRoIs, map_rois

PICTURE_OFFSET = 0.5  # picture coordinate = feature index-space coordinate + this


@dataclass(frozen=True)
class Setting:
    """What to explain: one box on one image, read by each of ``methods``.

    ``image_size`` is ``(W, H)`` pixels; the feature map has ``ceil(side / stride)`` cells
    per side, as a padded backbone gives. ``output_size`` is ``(h, w)`` bins.
    """

    image_size: tuple[int, int]
    stride: int
    box: tuple[float, float, float, float]
    output_size: tuple[int, int]
    sampling_ratio: int
    aligned: bool
    layout: str
    methods: tuple[str, ...]

    @property
    def feature_size(self) -> tuple[int, int]:
        """``(H, W)`` cells of the feature map."""
        width, height = self.image_size
        return math.ceil(height / self.stride), math.ceil(width / self.stride)

    @property
    def box_on_grid(self) -> tuple[float, float, float, float]:
        """The box in picture coordinates, where it truly lies whatever ``aligned`` says."""
        x1, y1, x2, y2 = self.box
        return x1 / self.stride, y1 / self.stride, x2 / self.stride, y2 / self.stride

    def rois(self) -> Tensor:
        return torch.tensor([[0.0, *self.box]])

    def plan(self, method: str) -> SamplingPlan:
        """The plan ``extract`` uses for this box with float32 features."""
        height, width = self.feature_size
        return build_plan((1, 1, height, width), self.rois(), method, self.output_size, 1 / self.stride,
                          self.sampling_ratio, self.aligned, self.layout)

    def mapped(self) -> MappedRoIs:
        """The box as a bilinear layer maps it before any rounding (start, size, bins, grid)."""
        return map_rois(self.rois(), self.output_size, 1 / self.stride, self.sampling_ratio, self.aligned)


SEED_EXAMPLE = Setting(
    image_size=(512, 512),
    stride=32,
    box=(296.0, 192.0, 496.0, 336.96),
    output_size=(3, 3),
    sampling_ratio=2,
    aligned=True,
    layout="interior",
    methods=("pool", "warp", "align"),
)

#: The second default box: at the seed's stride, rounding moves its left edge inward, so
#: RoIPool and RoIWarp lose a column (blue) that RoIAlign reads, and both gain cells too.
INWARD_BOX = (310.0, 200.0, 470.0, 330.0)
