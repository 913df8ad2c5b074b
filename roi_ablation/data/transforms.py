"""Training-time augmentation on (image, target) pairs.

Only a horizontal flip: the model's GeneralizedRCNNTransform does resizing and
normalisation per model preset, so the data layer keeps images at their original size.
"""

import torch
from torch import Tensor

Target = dict[str, object]


def hflip(image: Tensor, target: Target) -> tuple[Tensor, Target]:
    """Mirror the image, its xyxy boxes and its masks left-right."""
    width = image.shape[-1]
    boxes = target["boxes"]
    assert isinstance(boxes, Tensor)
    flipped = {
        **target,
        "boxes": torch.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], dim=1),
    }
    masks = target["masks"]
    assert isinstance(masks, Tensor)
    flipped["masks"] = masks.flip(-1)
    return image.flip(-1), flipped


class RandomHorizontalFlip:
    """Flip with probability `p`, drawing from torch's RNG so a seeded run is reproducible."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"flip probability must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, image: Tensor, target: Target) -> tuple[Tensor, Target]:
        if torch.rand(()) < self.p:
            return hflip(image, target)
        return image, target

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"
