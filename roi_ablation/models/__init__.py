"""Mask R-CNN presets (C4 stride 16, C5 stride 32, FPN; small CPU twins) with a registry RoI layer.

model = build_model(cfg)   # cfg composed from configs/train.yaml
"""

from .backbones import resnet_trunk
from .factory import build_model
from .heads import c4_heads, fc_heads
from .mask_rcnn import ARCHS, mask_rcnn

__all__ = ["ARCHS", "build_model", "c4_heads", "fc_heads", "mask_rcnn", "resnet_trunk"]
