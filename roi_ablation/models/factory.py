"""``build_model``: a preset's Mask R-CNN with its RoI layer, from explicit, checked settings.

The composition root (``roi_ablation.train``) resolves the config into a ``ModelConfig``
and a ``RoISettings`` and knows the number of classes; nothing below reads a config.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import partial

import torch
from torch import nn
from torchvision.models.detection import MaskRCNN

from roi_ablation.roi import RoISettings
from roi_ablation.roi.poolers import RoIPooler

from .backbones import resnet_trunk
from .config import ModelConfig
from .mask_rcnn import mask_rcnn


def build_model(model: ModelConfig, roi: RoISettings, num_classes: int) -> MaskRCNN:
    """The Mask R-CNN of preset ``model`` whose box and mask branches read RoIs by ``roi``.

    ``num_classes`` counts the background.
    """
    return mask_rcnn(
        model.arch,
        resnet_trunk(**asdict(model.backbone)),
        num_classes,
        pooler=partial(_pooler, roi.for_branch("box")),
        mask_pooler=partial(_pooler, roi.for_branch("mask")),
        heads=model.heads,
        anchor_sizes=model.anchors.sizes,
        aspect_ratios=model.anchors.aspect_ratios,
        **asdict(model.detector),
    )


def _pooler(layer: RoISettings, featmap_names: list[str], output_size: int) -> RoIPooler:
    return RoIPooler(featmap_names, output_size, **layer.layer_args())


@torch.no_grad()
def feature_stride(model: MaskRCNN, probe: int = 256) -> int:
    """The stride of the finest map the RoI layers read, measured on the built backbone.

    A ``probe x probe`` zero image goes through the backbone (in eval mode, restored
    after); its input size over the first map's size is the stride (C4: 16, C5: 32,
    FPN: 4, its finest level).
    """
    backbone: nn.Module = model.backbone
    was_training = backbone.training
    backbone.eval()
    try:
        device = next(backbone.parameters()).device
        out = backbone(torch.zeros(1, 3, probe, probe, device=device))
    finally:
        backbone.train(was_training)
    first = next(iter(out.values())) if isinstance(out, dict) else out
    return round(probe / first.shape[-1])
