"""Stand-ins for the data and model packages: a tiny COCO set of rectangles and a tiny Mask R-CNN.

They let the engine be tested on its own, fast, with known answers (e.g. category ids
that are not contiguous, so the label -> category mapping is exercised).
"""

import contextlib
import io
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from pycocotools.coco import COCO
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import MultiScaleRoIAlign

from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.metrics import RunRecord
from roi_ablation.engine.runner import Components, Outcome, RunSpec, run
from roi_ablation.roi import RoISettings

SIZE = 64
CATEGORIES = [{"id": 3, "name": "square"}, {"id": 7, "name": "bar"}]


def rectangles(image_id: int) -> list[tuple[int, list[float]]]:
    """(category id, [x, y, w, h]) of the objects drawn in image `image_id` (deterministic)."""
    g = torch.Generator().manual_seed(image_id)
    objects = []
    for k in range(1 + image_id % 2):
        w, h = (int(v) for v in torch.randint(12, 28, (2,), generator=g))
        category = CATEGORIES[k % 2]["id"]
        if category == 7:
            h = max(6, h // 3)
        x, y = (int(v) for v in torch.randint(0, SIZE - 28, (2,), generator=g))
        objects.append((category, [float(x), float(y), float(w), float(h)]))
    return objects


def make_coco(image_ids: list[int]) -> COCO:
    """A COCO index of the given images, with rectangle polygons as segmentations."""
    anns = []
    for image_id in image_ids:
        for category, (x, y, w, h) in rectangles(image_id):
            anns.append({
                "id": len(anns) + 1, "image_id": image_id, "category_id": category, "bbox": [x, y, w, h],
                "area": w * h, "iscrowd": 0, "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
            })
    coco = COCO()
    coco.dataset = {
        "images": [{"id": i, "width": SIZE, "height": SIZE, "file_name": f"{i}.png"} for i in image_ids],
        "annotations": anns,
        "categories": CATEGORIES,
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


class Rectangles(torch.utils.data.Dataset):
    """The data package's contract: items (image, target), plus .coco, .num_classes, ...; flips when training."""

    def __init__(self, first_id: int, count: int, train: bool) -> None:
        self.image_ids = list(range(first_id, first_id + count))
        self.coco = make_coco(self.image_ids)
        self.label_to_category = [0, *(c["id"] for c in CATEGORIES)]
        self.category_names = ["__background__", *(c["name"] for c in CATEGORIES)]
        self.num_classes = len(self.label_to_category)
        self.train = train

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        image_id = self.image_ids[index]
        anns = self.coco.imgToAnns[image_id]
        image = torch.full((3, SIZE, SIZE), 0.2)
        masks = torch.stack([torch.from_numpy(self.coco.annToMask(a)) for a in anns])
        for mask, ann in zip(masks, anns):
            image[:, mask.bool()] = 0.9 if ann["category_id"] == 3 else 0.6
        boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)])
        labels = torch.tensor([self.label_to_category.index(a["category_id"]) for a in anns])
        if self.train and torch.rand(()) < 0.5:
            image, masks = image.flip(-1), masks.flip(-1)
            boxes = torch.stack([SIZE - boxes[:, 2], boxes[:, 1], SIZE - boxes[:, 0], boxes[:, 3]], 1)
        return image, {"boxes": boxes, "labels": labels, "masks": masks, "image_id": image_id}


def collate(batch: list[Any]) -> tuple[list[Any], list[Any]]:
    images, targets = zip(*batch)
    return list(images), list(targets)


class Backbone(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(nn.Conv2d(3, 8, 3, 4, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 4, 1), nn.ReLU())
        self.out_channels = 8


def tiny_mask_rcnn(num_classes: int) -> MaskRCNN:
    """A stride-16 Mask R-CNN with 8-channel features: milliseconds per iteration on CPU."""
    return MaskRCNN(
        Backbone(),
        min_size=SIZE,
        max_size=SIZE,
        rpn_anchor_generator=AnchorGenerator(((16, 32),), ((0.5, 1.0, 2.0),)),
        rpn_pre_nms_top_n_train=200, rpn_post_nms_top_n_train=50,
        rpn_pre_nms_top_n_test=100, rpn_post_nms_top_n_test=20,
        rpn_batch_size_per_image=32,
        box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2),
        box_head=TwoMLPHead(8 * 7 * 7, 32),
        box_predictor=FastRCNNPredictor(32, num_classes),
        box_batch_size_per_image=32,
        box_score_thresh=0.0,
        mask_roi_pool=MultiScaleRoIAlign(["0"], 14, 2),
        mask_head=MaskRCNNHeads(8, (8,), 1),
        mask_predictor=MaskRCNNPredictor(8, 8, num_classes),
    )


class NaNAt(nn.Module):
    """Wraps a model so that its training loss turns NaN from the `at`-th training call on."""

    def __init__(self, model: nn.Module, at: int) -> None:
        super().__init__()
        self.model, self.at, self.calls = model, at, 0

    def forward(self, images: Any, targets: Any = None) -> Any:
        out = self.model(images, targets)
        if self.training:
            self.calls += 1
            if self.calls >= self.at:
                out["loss_mask"] = out["loss_mask"] * float("nan")
        return out


def build(cfg: DictConfig) -> Components:
    """The `Builder` the runner takes: data sizes from cfg.data, NaN injection from cfg.model.nan_at."""
    train_set = Rectangles(1, int(cfg.data.num_train), train=True)
    val_set = Rectangles(1000, int(cfg.data.num_val), train=False)
    model: nn.Module = tiny_mask_rcnn(train_set.num_classes)
    if cfg.model.get("nan_at"):
        model = NaNAt(model, int(cfg.model.nan_at))
    return Components(model, train_set, val_set, collate, stride=16)


def record(cfg: DictConfig) -> RunRecord:
    """What the entry point tells the runner about the run, for metrics.json."""
    roi = RoISettings(**{k: cfg.roi[k] for k in ("method", "agg", "sampling_ratio", "aligned", "layout")})
    return RunRecord(roi=roi, model=cfg.model.name, stride=None, data=cfg.data.name, seed=cfg.seed)


def run_standin(cfg: DictConfig, run_dir: Path, ctx: DistContext | None = None) -> Outcome:
    """`runner.run` of the stand-ins, as the entry point calls it."""
    return run(RunSpec.of(cfg), run_dir, lambda: build(cfg), record(cfg), ctx)


def config(**overrides: Any) -> DictConfig:
    """A root config with the keys the engine reads; `overrides` as dotted keys, e.g. {"train.max_iter": 4}."""
    cfg = OmegaConf.create({
        "seed": 0, "device": "cpu", "deterministic": True, "custom_imports": [],
        "roi": {"method": "align", "agg": "max", "sampling_ratio": 2, "aligned": False, "layout": "center", "mask": {}},
        "model": {"name": "standin", "stride": 16, "nan_at": 0},
        "data": {"name": "rectangles", "num_train": 8, "num_val": 4},
        "train": {
            "max_iter": 6, "batch_size": 2, "base_lr": 0.02, "reference_batch_size": 16, "momentum": 0.9,
            "weight_decay": 1e-4, "steps": [0.667, 0.889], "gamma": 0.1, "warmup_iters": 2, "warmup_factor": 0.001,
            "clip_grad_norm": None, "amp": False, "eval_period": 0, "checkpoint_period": 2, "log_period": 1,
            "num_workers": 0, "vis_images": 2, "keep_checkpoints": 2,
        },
    })
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value)
    return cfg
