"""``build_model``: the one place where the composed config becomes a model.

Everything below this function takes explicit arguments; this is where `cfg.model`
(the preset) and `cfg.roi` (the RoI layer) are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torchvision.models.detection import MaskRCNN

from roi_ablation.roi.poolers import RoIPooler
from roi_ablation.roi.registry import import_custom_modules

from .backbones import resnet_trunk
from .mask_rcnn import mask_rcnn

ROI_KEYS = ("method", "agg", "sampling_ratio", "aligned", "layout")


def roi_layer_args(roi: Mapping[str, Any], branch: str) -> dict[str, Any]:
    """The pooler settings of the box branch, or of the mask branch (the box's, with `roi.mask` on top)."""
    args = {key: roi[key] for key in ROI_KEYS}
    if branch == "mask":
        overrides = dict(roi.get("mask") or {})
        unknown = set(overrides) - set(ROI_KEYS)
        if unknown:
            raise ValueError(f"roi.mask has unknown keys {sorted(unknown)}; valid: {', '.join(ROI_KEYS)}")
        args.update(overrides)
    return args


def build_model(cfg: DictConfig, num_classes: int | None = None) -> MaskRCNN:
    """The Mask R-CNN of `cfg.model` with the RoI layer of `cfg.roi`; classes (with background) from `cfg.data` by default."""
    import_custom_modules(cfg.get("custom_imports") or [])
    if num_classes is None:
        from roi_ablation.data import num_classes as data_num_classes

        num_classes = data_num_classes(cfg.data)
    model_cfg: dict[str, Any] = OmegaConf.to_container(cfg.model, resolve=True)  # type: ignore[assignment]
    roi_cfg: dict[str, Any] = OmegaConf.to_container(cfg.roi, resolve=True)  # type: ignore[assignment]
    return mask_rcnn(
        model_cfg["arch"],
        resnet_trunk(**model_cfg["backbone"]),
        num_classes,
        pooler=partial(_pooler, roi_layer_args(roi_cfg, "box")),
        mask_pooler=partial(_pooler, roi_layer_args(roi_cfg, "mask")),
        heads=model_cfg.get("heads") or {},
        anchor_sizes=model_cfg["anchors"]["sizes"],
        aspect_ratios=model_cfg["anchors"]["aspect_ratios"],
        **model_cfg["detector"],
    )


def _pooler(layer: dict[str, Any], featmap_names: list[str], output_size: int) -> RoIPooler:
    return RoIPooler(featmap_names, output_size, **layer)
