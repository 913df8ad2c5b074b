"""``RoIPooler``: any registered RoI layer behind torchvision's ``MultiScaleRoIAlign`` interface.

torchvision's ``MaskRCNN`` accepts only ``MultiScaleRoIAlign`` instances as box and mask
poolers, so the pooler subclasses it and keeps its call signature
``forward(features: dict, proposals: list[Tensor], image_shapes: list[(h, w)])``;
what it computes is ``extract`` with its ``RoISettings`` (``self.layer``).

Feature scales are inferred from the feature and image sizes as torchvision does (each
is a power of two), so the same pooler serves stride 16 (C4), stride 32 (C5) and an FPN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor
from torchvision.ops import MultiScaleRoIAlign

from .extract import as_roi_tensor, coordinate_dtype, extract_with
from .settings import RoISettings


def infer_scale(feature: Tensor, image_size: Sequence[int]) -> float:
    """``1/stride`` of a feature map: its height over the image height, rounded to a power of two."""
    return 2.0 ** round(math.log2(feature.shape[-2] / image_size[0]))


def fpn_levels(boxes: Tensor, min_level: int, max_level: int, canonical_scale: int = 224, canonical_level: int = 4) -> Tensor:
    """FPN level of each box, eq. 1 of Lin et al. 2017: ``k = floor(k0 + log2(sqrt(w*h) / 224))``.

    A 224x224 box (an ImageNet-sized object) reads level ``k0 = 4`` (stride 16, P4); each
    halving of its side moves one level down. Clamped to the levels the model has.
    """
    sizes = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).clamp(min=0).sqrt()
    levels = torch.floor(canonical_level + torch.log2(sizes / canonical_scale + 1e-6))
    return levels.clamp(min_level, max_level).to(torch.int64)


class RoIPooler(MultiScaleRoIAlign):
    """Pools RoI features from one feature map (C4/C5) or an FPN by a registry layer."""

    def __init__(
        self,
        featmap_names: Sequence[str],
        output_size: int | Sequence[int],
        *,
        method: str | None = None,
        agg: str | None = None,
        sampling_ratio: int | None = None,
        aligned: bool | None = None,
        layout: str | None = None,
        canonical_scale: int = 224,
        canonical_level: int = 4,
    ) -> None:
        """Arguments left ``None`` take ``RoISettings``' defaults, as ``extract``'s do; unknown
        names fail here, when the model is built, not at its first step."""
        layer = RoISettings.of(method=method, agg=agg, sampling_ratio=sampling_ratio, aligned=aligned, layout=layout)
        super().__init__(list(featmap_names), output_size, layer.sampling_ratio,
                         canonical_scale=canonical_scale, canonical_level=canonical_level)
        self.layer = layer

    @property
    def method(self) -> str:
        return self.layer.method

    @property
    def agg(self) -> str:
        return self.layer.agg

    @property
    def aligned(self) -> bool:
        return bool(self.layer.aligned)

    @property
    def layout(self) -> str:
        return str(self.layer.layout)

    def _pool(self, feature: Tensor, rois: Tensor, scale: float) -> Tensor:
        return extract_with(self.layer, feature, rois, self.output_size, scale)

    def forward(self, x: Mapping[str, Tensor], boxes: list[Tensor], image_shapes: list[tuple[int, int]]) -> Tensor:
        """``[K, C, h, w]`` for the ``K`` boxes of all images, in image order.

        Boxes keep (at least) float32 whatever the features' dtype or autocast state, so a
        half-precision model reads the same box as a float32 one (``coordinate_dtype``).
        """
        if len(boxes) != len(image_shapes):
            raise ValueError(f"RoIPooler got boxes for {len(boxes)} images but {len(image_shapes)} image shapes; "
                             "pass one [Ki, 4] tensor and one (h, w) per image")
        features = [x[name] for name in self.featmap_names]
        rois = as_roi_tensor(boxes, features[0].device)
        rois = rois.to(coordinate_dtype(rois.dtype, features[0].dtype))
        if not boxes:  # a batch without images: nothing to pool, and no image size to infer scales from
            return self._pool(features[0], rois, 1.0)
        image_size = (max(s[0] for s in image_shapes), max(s[1] for s in image_shapes))
        scales = [infer_scale(f, image_size) for f in features]
        if len(features) == 1:
            return self._pool(features[0], rois, scales[0])
        min_level, max_level = round(-math.log2(scales[0])), round(-math.log2(scales[-1]))
        levels = fpn_levels(rois[:, 1:], min_level, max_level, self.canonical_scale, self.canonical_level) - min_level
        result = features[0].new_zeros((rois.shape[0], features[0].shape[1], *self.output_size))
        for level, (feature, scale) in enumerate(zip(features, scales)):
            index = torch.nonzero(levels == level).squeeze(1)
            result = result.index_copy(0, index, self._pool(feature, rois[index], scale).to(result.dtype))
        return result

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(method={self.method!r}, agg={self.agg!r}, output_size={self.output_size}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}, layout={self.layout!r}, "
                f"featmap_names={self.featmap_names})")
