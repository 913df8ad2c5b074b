"""Box and mask heads for the two designs of the Mask R-CNN paper (Fig. 4).

C4 (left of Fig. 4): the trunk stops at res4 (stride 16); res5 is the head. Box RoIs are
pooled to 14x14, res5 (first block stride 2) makes 7x7x2048, an average pool feeds the
classifier and box regressor. The mask branch pools its own 14x14 RoI features and runs
them through the *same* res5 weights, then a 2x deconvolution to 14x14x256 and a 1x1
conv per class: 14x14 masks.

C5 / FPN (right of Fig. 4): the trunk already contains res5, so the head is light: two
1024-d fully connected layers on 7x7 RoI features for boxes; four 3x3 convs, a 2x deconv
and a 1x1 conv per class on 14x14 RoI features for 28x28 masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor


@dataclass
class Heads:
    """What torchvision's MaskRCNN takes besides the backbone and the poolers."""

    box_head: nn.Module
    box_predictor: nn.Module
    mask_head: nn.Module
    mask_predictor: nn.Module
    box_pool_size: int
    mask_pool_size: int


def c4_heads(res5: nn.Module, res5_channels: int, num_classes: int, mask_dim: int = 256) -> Heads:
    """res5 shared by the box and mask branches (one module, registered twice, one set of weights)."""
    box_head = nn.Sequential(res5, nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    return Heads(
        box_head=box_head,
        box_predictor=FastRCNNPredictor(res5_channels, num_classes),
        mask_head=res5,
        mask_predictor=MaskRCNNPredictor(res5_channels, mask_dim, num_classes),
        box_pool_size=14,
        mask_pool_size=14,
    )


def fc_heads(
    in_channels: int,
    num_classes: int,
    representation_size: int = 1024,
    mask_layers: Sequence[int] = (256, 256, 256, 256),
    mask_dim: int = 256,
) -> Heads:
    """The 2fc box head and the 4conv mask head (torchvision's FPN heads), on one or many levels."""
    return Heads(
        box_head=TwoMLPHead(in_channels * 7 * 7, representation_size),
        box_predictor=FastRCNNPredictor(representation_size, num_classes),
        mask_head=MaskRCNNHeads(in_channels, list(mask_layers), dilation=1),
        mask_predictor=MaskRCNNPredictor(mask_layers[-1], mask_dim, num_classes),
        box_pool_size=7,
        mask_pool_size=14,
    )
