"""Validation pictures for TensorBoard: an image's ground truth beside the model's top detections.

A weak model still shows what it finds: the `TOP_DETECTIONS` highest-scoring detections
are drawn whatever their score, each captioned with its class and score.
"""

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.nn.functional import interpolate
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

from roi_ablation.engine.evaluate import MASK_THRESHOLD, Sample

TOP_DETECTIONS = 5  # drawn per validation image, whatever their score
MIN_PANEL_PX = 320  # small images are enlarged (nearest) to at least this, so captions stay readable
HEADER_PX = 16
_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]


def _canvas(image: torch.Tensor, scale: int) -> torch.Tensor:
    """uint8 [3, sH, sW] of a float 0..1 image, enlarged `scale` times."""
    canvas = (image.clamp(0, 1) * 255).to(torch.uint8)
    return canvas.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)


def _draw(
    canvas: torch.Tensor, boxes: torch.Tensor, labels: list[int], masks: torch.Tensor, captions: list[str]
) -> torch.Tensor:
    """Masks (bool [N, H, W], canvas size) and captioned boxes in their class colour."""
    if not labels:
        return canvas
    colors = [_PALETTE[label % len(_PALETTE)] for label in labels]
    canvas = draw_segmentation_masks(canvas, masks, alpha=0.45, colors=colors)
    return draw_bounding_boxes(canvas, boxes, labels=captions, colors=colors, width=2)


def _enlarge_masks(masks: torch.Tensor, scale: int) -> torch.Tensor:
    """float [N, H, W] -> bool [N, sH, sW] at MASK_THRESHOLD."""
    if scale > 1 and len(masks):
        masks = interpolate(masks[:, None].float(), scale_factor=scale, mode="nearest")[:, 0]
    return masks > MASK_THRESHOLD


def _name(category_names: Sequence[str], label: int) -> str:
    return category_names[label] if 0 <= label < len(category_names) else str(label)


def _with_header(canvas: torch.Tensor, text: str) -> torch.Tensor:
    """`canvas` with a white strip above it that says what it shows."""
    strip = Image.new("RGB", (canvas.shape[2], HEADER_PX), "white")
    ImageDraw.Draw(strip).text((4, 2), text, fill="black")
    header = torch.from_numpy(np.asarray(strip).copy()).permute(2, 0, 1)
    return torch.cat([header, canvas], dim=1)


def validation_picture(sample: Sample, category_names: Sequence[str], top_k: int = TOP_DETECTIONS) -> torch.Tensor:
    """uint8 [3, H, W]: the ground truth (left) beside the `top_k` highest-scoring detections (right)."""
    scale = max(1, -(-MIN_PANEL_PX // max(sample.image.shape[1:])))
    target, prediction = sample.target, sample.prediction
    gt_labels = target["labels"].tolist()
    truth = _draw(
        _canvas(sample.image, scale), target["boxes"].float() * scale, gt_labels,
        _enlarge_masks(target["masks"].float(), scale), [_name(category_names, label) for label in gt_labels],
    )
    order = prediction["scores"].argsort(descending=True)[:top_k]
    labels, scores = prediction["labels"][order].tolist(), prediction["scores"][order].tolist()
    detected = _draw(
        _canvas(sample.image, scale), prediction["boxes"][order] * scale, labels,
        _enlarge_masks(prediction["masks"][order][:, 0], scale),
        [f"{_name(category_names, label)} {score:.2f}" for label, score in zip(labels, scores)],
    )
    gap = torch.full((3, truth.shape[1], 4), 255, dtype=torch.uint8)
    return torch.cat([
        _with_header(truth, f"ground truth ({len(gt_labels)})"),
        _with_header(gap, ""),
        _with_header(detected, f"top {len(labels)} detections, any score" if labels else "no detections"),
    ], dim=2)
