"""Mask R-CNN presets (C4 stride 16, C5 stride 32, FPN; small CPU twins) with a registry RoI layer.

model = build_model(settings.model, settings.roi, num_classes)   # settings = roi_ablation.config.resolve(cfg)
"""

from .backbones import resnet_trunk
from .config import ARCHS, ModelConfig
from .factory import build_model, feature_stride
from .heads import c4_heads, fc_heads
from .mask_rcnn import mask_rcnn

__all__ = ["ARCHS", "ModelConfig", "build_model", "c4_heads", "fc_heads", "feature_stride", "mask_rcnn", "resnet_trunk"]
