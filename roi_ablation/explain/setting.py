"""One explained setting (image, stride, box, RoI-layer options) and the plans it implies.

Positions are shown in the seed's *picture* coordinates: cell ``i`` spans ``[i, i+1)``
with its centre at ``i + 0.5``, i.e. feature index space plus 0.5, and a box coordinate
``u`` lies at ``u / stride``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from roi_ablation.roi import RoISettings, SamplingPlan
from roi_ablation.roi.extract import plan_for
from roi_ablation.roi.geometry import MappedRoIs, map_rois

PICTURE_OFFSET = 0.5  # picture coordinate = feature index-space coordinate + this


@dataclass(frozen=True)
class Setting:
    """What to explain: one box on one image, read by each of ``layers``.

    ``image_size`` is ``(W, H)`` pixels; the feature map has ``ceil(side / stride)`` cells
    per side, as a padded backbone gives. ``output_size`` is ``(h, w)`` bins. Every layer
    is read with the same geometry (sampling ratio, aligned, layout), so the panels differ
    only by how each method quantises the box; :meth:`of` builds them so.
    """

    image_size: tuple[int, int]
    stride: int
    box: tuple[float, float, float, float]
    output_size: tuple[int, int]
    layers: tuple[RoISettings, ...]  # one carrier per method, in the order they are shown

    @classmethod
    def of(cls, image_size: tuple[int, int], stride: int, box: tuple[float, float, float, float],
           output_size: tuple[int, int], methods: Sequence[str], *, sampling_ratio: int, aligned: bool,
           layout: str) -> Setting:
        """The setting whose ``methods`` all read with the given geometry (explicit: a layer's own
        default would differ between methods, e.g. RoIWarp's corner layout)."""
        layers = tuple(RoISettings(method=method, sampling_ratio=sampling_ratio, aligned=aligned, layout=layout)
                       for method in dict.fromkeys(methods))
        return cls(image_size, stride, box, output_size, layers)

    def with_geometry(self, **changes: Any) -> Setting:
        """The same setting read with other geometry (e.g. ``aligned=False``), for every layer alike."""
        return replace(self, layers=tuple(replace(layer, **changes) for layer in self.layers))

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(layer.method for layer in self.layers)

    @property
    def geometry(self) -> dict[str, Any]:
        """The ``sampling_ratio``, ``aligned`` and ``layout`` every layer shares (``of`` and ``with_geometry`` give all the same)."""
        return self.layers[0].geometry()

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
        layer = next(layer for layer in self.layers if layer.method == method)
        height, width = self.feature_size
        return plan_for(layer, (1, 1, height, width), self.rois(), self.output_size, 1 / self.stride)

    def mapped(self) -> MappedRoIs:
        """The box as a bilinear layer maps it before any rounding (start, size, bins, grid)."""
        g = self.geometry
        return map_rois(self.rois(), self.output_size, 1 / self.stride, g["sampling_ratio"], g["aligned"])


#: The seed's worked example: its own geometry (2 x 2 interior samples, aligned), not a layer's default.
SEED_EXAMPLE = Setting.of(
    image_size=(512, 512),
    stride=32,
    box=(296.0, 192.0, 496.0, 336.96),
    output_size=(3, 3),
    methods=("pool", "warp", "align"),
    sampling_ratio=2,
    aligned=True,
    layout="interior",
)

#: The second default box: at the seed's stride, rounding moves its left edge inward, so
#: RoIPool and RoIWarp lose a column (blue) that RoIAlign reads, and both gain cells too.
INWARD_BOX = (310.0, 200.0, 470.0, 330.0)
