"""``ModelConfig``: the ``model`` config group's schema (trunk, heads, anchors, detector).

Defaults are ResNet-50-C4's, the paper's Table 2c model; the presets in
``configs/model/`` are deltas on top. Hydra checks keys and types against these classes;
``__post_init__`` checks values, naming the dotted key. The stride is not a setting: it
is measured on the built backbone (``models.factory.feature_stride``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

ARCHS = ("c4", "c5", "fpn")
NORMS = ("bn", "frozen_bn", "gn")  # and "auto": frozen BN with pretrained weights, BN without
TRUNK_STAGES = ("layer4", "layer3", "layer2", "layer1", "conv1")  # trainable_layers=k trains the first k


@dataclass
class BackboneConfig:
    depth: Optional[int] = 50  # torchvision ResNet depth; null with `widths` for a small BasicBlock trunk
    widths: Optional[List[int]] = None  # channels per stage of a small trunk
    blocks: List[int] = field(default_factory=lambda: [2, 2, 2, 2])  # blocks per stage of a small trunk
    weights: Optional[str] = None  # torchvision enum name (downloaded) or a local .pth; null: from scratch
    norm: str = "auto"  # auto: frozen BN with weights, BN without (torchvision's rule); or bn / frozen_bn / gn
    trainable_layers: int = 3  # with weights: train the last n stages, freeze the rest

    def __post_init__(self) -> None:
        if self.norm not in ("auto", *NORMS):
            raise ValueError(f"model.backbone.norm must be one of auto, {', '.join(NORMS)}; got {self.norm!r}")
        check_trainable_layers(self.trainable_layers)
        if self.widths is not None and (len(self.widths) != 4 or len(self.blocks) != 4
                                        or min(self.widths) < 1 or min(self.blocks) < 1):
            raise ValueError(f"model.backbone.widths and .blocks need 4 positive entries each; got {self.widths}, {self.blocks}")


def check_trainable_layers(count: int) -> None:
    """The one range check of ``trainable_layers``, for the schema and for ``backbones.freeze``."""
    if not 0 <= count <= len(TRUNK_STAGES):
        raise ValueError(f"model.backbone.trainable_layers must be in 0..{len(TRUNK_STAGES)}; got {count}")


@dataclass
class HeadsConfig:
    mask_dim: int = 256  # channels of the mask deconv
    representation_size: int = 1024  # c5 / fpn: width of the 2fc box head
    mask_layers: List[int] = field(default_factory=lambda: [256, 256, 256, 256])  # c5 / fpn: the 4conv mask head
    fpn_channels: int = 256  # fpn: channels of every pyramid level

    def __post_init__(self) -> None:
        for key in ("mask_dim", "representation_size", "fpn_channels"):
            if getattr(self, key) < 1:
                raise ValueError(f"model.heads.{key} must be >= 1; got {getattr(self, key)}")
        if not self.mask_layers or min(self.mask_layers) < 1:
            raise ValueError(f"model.heads.mask_layers must be a non-empty list of positive widths; got {self.mask_layers}")


@dataclass
class AnchorsConfig:
    sizes: List[int] = field(default_factory=lambda: [32, 64, 128, 256, 512])  # px; fpn: one per level P2..P6
    aspect_ratios: List[float] = field(default_factory=lambda: [0.5, 1.0, 2.0])

    def __post_init__(self) -> None:
        if not self.sizes or min(self.sizes) <= 0 or not self.aspect_ratios or min(self.aspect_ratios) <= 0:
            raise ValueError(f"model.anchors needs positive sizes and aspect_ratios; got {self.sizes}, {self.aspect_ratios}")


@dataclass
class DetectorConfig:
    """torchvision ``MaskRCNN`` keyword arguments (input sizes, RPN and RoI sampling counts)."""

    min_size: int = 800
    max_size: int = 1333
    rpn_pre_nms_top_n_train: int = 12000
    rpn_post_nms_top_n_train: int = 2000
    rpn_pre_nms_top_n_test: int = 6000
    rpn_post_nms_top_n_test: int = 1000
    rpn_batch_size_per_image: int = 256
    box_batch_size_per_image: int = 64  # N sampled RoIs per image (paper, Sec. 3.1)
    box_detections_per_img: int = 100

    def __post_init__(self) -> None:
        for key, value in vars(self).items():
            if value < 1:
                raise ValueError(f"model.detector.{key} must be >= 1; got {value}")
        if self.min_size > self.max_size:
            raise ValueError(f"model.detector.min_size ({self.min_size}) must be <= max_size ({self.max_size})")


@dataclass
class ModelConfig:
    name: str = "r50_c4"
    arch: str = "c4"  # c4: res5 is the head (stride 16); c5: trunk through res5 (stride 32); fpn
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    heads: HeadsConfig = field(default_factory=HeadsConfig)
    anchors: AnchorsConfig = field(default_factory=AnchorsConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"model.arch must be one of {', '.join(ARCHS)}; got {self.arch!r}")
