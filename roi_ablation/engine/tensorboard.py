"""TensorBoard output of a run, written into the run directory itself.

Training curves (each loss term, total loss, lr, iteration and data time), evaluation
metrics (`eval/segm/AP`, ...), validation images with predicted masks, and the run's
hyper-parameters linked to its final metrics: pointing TensorBoard at a sweep
directory lists every job as a run, comparable in the HParams dashboard.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch.utils.tensorboard import SummaryWriter
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

from roi_ablation.engine.evaluate import MASK_THRESHOLD, Prediction
from roi_ablation.engine.metrics import run_description

SCORE_THRESHOLD = 0.5  # detections drawn on validation images
HPARAM_METRICS = ("AP", "AP50", "AP75")
_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]


def overlay(image: torch.Tensor, prediction: Prediction, category_names: Sequence[str]) -> torch.Tensor:
    """uint8 [3, H, W] picture of `image` (float 0..1) with confident masks and boxes drawn on it."""
    canvas = (image.clamp(0, 1) * 255).to(torch.uint8)
    keep = prediction["scores"] >= SCORE_THRESHOLD
    if not keep.any():
        return canvas
    labels = prediction["labels"][keep].tolist()
    colors = [_PALETTE[label % len(_PALETTE)] for label in labels]
    masks = prediction["masks"][keep][:, 0] > MASK_THRESHOLD
    canvas = draw_segmentation_masks(canvas, masks, alpha=0.5, colors=colors)
    captions = [
        f"{category_names[label] if label < len(category_names) else label} {score:.2f}"
        for label, score in zip(labels, prediction["scores"][keep].tolist())
    ]
    return draw_bounding_boxes(canvas, prediction["boxes"][keep], labels=captions, colors=colors)


class Board:
    """The run's SummaryWriter; a disabled Board (ranks other than 0) ignores every call."""

    def __init__(self, run_dir: Path, enabled: bool) -> None:
        self.writer = SummaryWriter(log_dir=str(run_dir)) if enabled else None

    def scalars(self, values: dict[str, float], step: int) -> None:
        if self.writer:
            for tag, value in values.items():
                self.writer.add_scalar(tag, value, step)

    def evaluation(self, metrics: dict[str, dict[str, float | None]], step: int) -> None:
        """`eval/{bbox,segm}/{AP,...}`; metrics pycocotools could not compute (None) are left out."""
        self.scalars(
            {f"eval/{t}/{name}": v for t, scores in metrics.items() for name, v in scores.items() if v is not None}, step
        )

    def images(self, samples: Sequence[tuple[torch.Tensor, Prediction]], category_names: Sequence[str], step: int) -> None:
        if self.writer:
            for i, (image, prediction) in enumerate(samples):
                self.writer.add_image(f"val/{i}", overlay(image, prediction, category_names), step)

    def hparams(self, cfg: DictConfig, metrics: dict[str, dict[str, float | None]], step: int) -> None:
        """The run's settings next to its final AP (tags `hparam/segm_AP`, ...) for the HParams dashboard."""
        if not self.writer:
            return
        description = run_description(cfg)
        params: dict[str, Any] = {f"roi.{k}": v for k, v in description.pop("roi").items()}
        params.update(description)
        params = {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in params.items()}
        results = {
            f"hparam/{t}_{name}": scores[name]
            for t, scores in metrics.items()
            for name in HPARAM_METRICS
            if scores.get(name) is not None
        }
        self.writer.add_hparams(params, results, run_name=".", global_step=step)

    def flush(self) -> None:
        if self.writer:
            self.writer.flush()

    def close(self) -> None:
        if self.writer:
            self.writer.close()
