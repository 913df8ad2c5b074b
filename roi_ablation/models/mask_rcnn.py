"""Assemble a torchvision ``MaskRCNN`` from a trunk design, heads and two RoI poolers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypedDict, cast

import torch
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from roi_ablation.roi.poolers import RoIPooler

from .backbones import stage_channels, stem_through
from .config import ARCHS, HeadsConfig
from .heads import Heads, c4_heads, fc_heads

PoolerFactory = Callable[[Sequence[str], int], RoIPooler]  # (feature map names, output size) -> pooler


class _FCArgs(TypedDict):
    """The keyword arguments of `fc_heads` that come from `HeadsConfig`."""

    representation_size: int
    mask_layers: Sequence[int]
    mask_dim: int


def _backbone_and_heads(arch: str, trunk: nn.Module, num_classes: int, heads: HeadsConfig) -> tuple[nn.Module, Heads, list[str]]:
    if arch == "c4":
        res5 = cast(nn.Module, trunk.layer4)  # a ResNet stage (Module.__getattr__ says tensor or module)
        return stem_through(trunk, "layer3"), c4_heads(res5, stage_channels(trunk, "layer4"), num_classes,
                                                       mask_dim=heads.mask_dim), ["0"]
    fc_args: _FCArgs = {"representation_size": heads.representation_size, "mask_layers": heads.mask_layers,
                        "mask_dim": heads.mask_dim}
    if arch == "c5":
        body = stem_through(trunk, "layer4")
        return body, fc_heads(cast(int, body.out_channels), num_classes, **fc_args), ["0"]
    if arch == "fpn":
        stages = ["layer1", "layer2", "layer3", "layer4"]
        backbone = BackboneWithFPN(trunk, {s: str(i) for i, s in enumerate(stages)}, [stage_channels(trunk, s) for s in stages],
                                   heads.fpn_channels, extra_blocks=LastLevelMaxPool())
        return backbone, fc_heads(heads.fpn_channels, num_classes, **fc_args), ["0", "1", "2", "3"]
    raise ValueError(f"unknown model.arch {arch!r}; valid: {', '.join(ARCHS)}")


def anchor_generator(arch: str, sizes: Sequence[int], aspect_ratios: Sequence[float]) -> AnchorGenerator:
    """Single-level anchors (all sizes on C4 or C5), or one size per FPN level P2..P6."""
    if arch == "fpn":
        return AnchorGenerator(tuple((s,) for s in sizes), (tuple(aspect_ratios),) * len(sizes))
    return AnchorGenerator((tuple(sizes),), (tuple(aspect_ratios),))


def mask_rcnn(
    arch: str,
    trunk: nn.Module,
    num_classes: int,
    pooler: PoolerFactory,
    mask_pooler: PoolerFactory,
    heads: HeadsConfig,
    anchor_sizes: Sequence[int],
    aspect_ratios: Sequence[float],
    **detector_args: Any,
) -> MaskRCNN:
    """A MaskRCNN of design `arch` whose box and mask RoI features come from the given poolers.

    `detector_args` are torchvision ``MaskRCNN`` keyword arguments (input sizes, RPN and
    RoI sampling counts, test thresholds).
    """
    backbone, parts, names = _backbone_and_heads(arch, trunk, num_classes, heads)
    model = MaskRCNN(
        backbone,
        num_classes=None,
        rpn_anchor_generator=anchor_generator(arch, anchor_sizes, aspect_ratios),
        box_roi_pool=pooler(names, parts.box_pool_size),
        box_head=parts.box_head,
        box_predictor=parts.box_predictor,
        mask_roi_pool=mask_pooler(names, parts.mask_pool_size),
        mask_head=parts.mask_head,
        mask_predictor=parts.mask_predictor,
        **detector_args,
    )
    for regressor in (model.rpn.head, model.roi_heads.box_predictor):
        regressor.register_forward_hook(_float32_outputs)
    return model


def _float32_outputs(module: nn.Module, inputs: Any, outputs: Any) -> Any:
    """Box regressions in float32 under autocast, so decoded proposals and detections are too.

    torchvision's ``BoxCoder`` casts the boxes to the regression's dtype: under fp16/bf16
    autocast, proposals would snap to 0.5-8 px before any RoI layer reads them, which is the
    very quantisation the ablation measures (Detectron2 decodes in float32 for this reason).
    A forward hook, so the state dict keeps torchvision's keys.
    """
    if isinstance(outputs, torch.Tensor):
        return outputs.float() if outputs.is_floating_point() else outputs
    return type(outputs)(_float32_outputs(module, inputs, o) for o in outputs)
