"""COCO evaluation: predict a shard per rank, gather on rank 0, score with pycocotools.

Results use the data set's ORIGINAL category ids (`label_to_category`), boxes as
[x, y, w, h], masks thresholded at 0.5 and RLE-encoded, exactly as COCO expects. AP
values are percentages; an area range with no ground truth reads None (pycocotools
says -1), and a model with no detections scores 0, not an error. pycocotools' printed
summary goes to the log file only; the console gets the progress and one AP line.
"""

import contextlib
import copy
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pycocotools.mask as mask_util
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import nn
from torch.utils.data import DataLoader

from roi_ablation.engine.distributed import DistContext, gather_to_main
from roi_ablation.engine.progress import EvalProgress, log_to_files

logger = logging.getLogger(__name__)

METRIC_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl")
IOU_TYPES = ("bbox", "segm")
MASK_THRESHOLD = 0.5

Prediction = dict[str, torch.Tensor]


class Sample(NamedTuple):
    """One validation image as the dashboard draws it: input, model output, ground truth (on the CPU)."""

    image: torch.Tensor
    prediction: Prediction
    target: dict[str, torch.Tensor]


@dataclass
class Predictions:
    """COCO-format results of one rank (or all ranks, once merged), plus a few samples to draw."""

    results: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {t: [] for t in IOU_TYPES})
    samples: list[Sample] = field(default_factory=list)

    def extend(self, other: "Predictions") -> None:
        for iou_type in IOU_TYPES:
            self.results[iou_type].extend(other.results[iou_type])
        self.samples.extend(other.samples)


@dataclass
class Evaluation:
    """What rank 0 gets back: metrics per IoU type, the results they were computed from, samples to draw."""

    metrics: dict[str, dict[str, float | None]]
    predictions: Predictions


def to_coco_results(output: Prediction, image_id: int, label_to_category: Sequence[int]) -> dict[str, list[dict[str, Any]]]:
    """One image's model output as COCO result entries, per IoU type.

    Box and mask entries are separate lists: pycocotools' `loadRes` picks its mode from
    the first entry's keys and would score masks as boxes if both were present.
    """
    boxes = output["boxes"].tolist()
    scores = output["scores"].tolist()
    categories = [int(label_to_category[int(label)]) for label in output["labels"]]
    bbox = [
        {"image_id": image_id, "category_id": c, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": s}
        for (x1, y1, x2, y2), c, s in zip(boxes, categories, scores)
    ]
    segm: list[dict[str, Any]] = []
    if boxes:
        binary = (output["masks"][:, 0] > MASK_THRESHOLD).numpy().astype(np.uint8)
        rles = mask_util.encode(np.asfortranarray(binary.transpose(1, 2, 0)))
        for rle, c, s in zip(rles, categories, scores):
            rle["counts"] = rle["counts"].decode("ascii")
            segm.append({"image_id": image_id, "category_id": c, "segmentation": rle, "score": s})
    return {"bbox": bbox, "segm": segm}


_DRAWN_TARGET_KEYS = ("boxes", "labels", "masks")


@torch.no_grad()
def predict(
    model: nn.Module,
    loader: DataLoader,
    label_to_category: Sequence[int],
    device: torch.device,
    keep: int = 0,
    progress: EvalProgress | None = None,
) -> Predictions:
    """Run `model` over `loader`; keep the first `keep` samples for visualisation."""
    was_training = model.training
    model.eval()
    out = Predictions()
    try:
        for images, targets in loader:
            outputs = model([image.to(device) for image in images])
            for image, target, output in zip(images, targets, outputs):
                output = {k: v.detach().cpu() for k, v in output.items()}
                for iou_type, entries in to_coco_results(output, int(target["image_id"]), label_to_category).items():
                    out.results[iou_type].extend(entries)
                if len(out.samples) < keep:
                    drawn = {k: target[k].cpu() for k in _DRAWN_TARGET_KEYS if k in target}
                    out.samples.append(Sample(image.cpu(), output, drawn))
            if progress is not None:
                progress.advance(len(images))
    finally:
        model.train(was_training)
    return out


def _load_results(coco_gt: COCO, results: list[dict[str, Any]]) -> COCO:
    """`coco_gt.loadRes`, also for an empty list (which pycocotools cannot load)."""
    if results:
        with contextlib.redirect_stdout(io.StringIO()):
            return coco_gt.loadRes(copy.deepcopy(results))  # loadRes mutates its entries
    empty = COCO()
    empty.dataset = {"images": list(coco_gt.dataset["images"]), "categories": copy.deepcopy(coco_gt.dataset["categories"]), "annotations": []}
    with contextlib.redirect_stdout(io.StringIO()):
        empty.createIndex()
    return empty


def coco_metrics(
    coco_gt: COCO, results: list[dict[str, Any]], iou_type: str, image_ids: Sequence[int]
) -> dict[str, float | None]:
    """AP, AP50, AP75, APs, APm, APl in percent for one IoU type over `image_ids`."""
    coco_eval = COCOeval(coco_gt, _load_results(coco_gt, results), iou_type)
    coco_eval.params.imgIds = sorted(set(int(i) for i in image_ids))
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    log_to_files(logger, "COCO %s evaluation:\n%s", iou_type, summary.getvalue().rstrip())
    return {name: (float(v) * 100.0 if v >= 0 else None) for name, v in zip(METRIC_NAMES, coco_eval.stats[: len(METRIC_NAMES)])}


def evaluate(
    model: nn.Module,
    dataset: Any,
    loader: DataLoader,
    ctx: DistContext,
    keep: int = 0,
) -> Evaluation | None:
    """Every rank predicts its shard; rank 0 merges them and scores. Returns None on other ranks.

    Rank 0 reports its own shard's progress (the shards are of equal size).
    """
    progress = EvalProgress(len(dataset), len(loader.dataset), enabled=ctx.is_main)  # type: ignore[arg-type]
    try:
        mine = predict(model, loader, dataset.label_to_category, ctx.device, keep if ctx.is_main else 0, progress)
    finally:
        progress.close()
    gathered = gather_to_main(ctx, mine)
    if gathered is None:
        return None
    merged = Predictions()
    for part in gathered:
        merged.extend(part)
    metrics = {t: coco_metrics(dataset.coco, merged.results[t], t, dataset.image_ids) for t in IOU_TYPES}
    return Evaluation(metrics=metrics, predictions=merged)
