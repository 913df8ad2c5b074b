"""Why a CPU twin is (or is not) a fair test: geometry, RPN recall, AP by size, loss curve.

For each trained run directory (`roi-ablation-train ... hydra.run.dir=DIR`), prints one
column of a Markdown table:

- feature map in cells, and the validation objects' size (sqrt of the box area) in px
  and in cells of the stride: a twin whose objects are under a cell cannot tell layers apart;
- RPN recall at IoU 0.5 / 0.7: the share of validation objects that some post-NMS
  proposal covers; a low recall caps every row's AP whatever the RoI layer;
- mask and box AP, also by COCO size (APs/APm/APl, from metrics.json; –: no object of that size);
- the total training loss near 10%, 50% and 100% of the run (mean of the logged values
  in a window of 10% of the run): still falling at the end means undertrained.

    python scripts/diagnose_twin.py outputs/twin/old_s16 outputs/twin/old_s32
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torchvision.ops import box_iou

from roi_ablation.config import RootConfig, resolve
from roi_ablation.data import build_dataset
from roi_ablation.models import build_model, feature_stride

IOUS = (0.5, 0.7)
LOSS_POINTS = (0.1, 0.5, 1.0)
SIZE_KEYS = ("AP", "APs", "APm", "APl")
_LOG_LINE = re.compile(r"iter (\d+)/(\d+) .*?(?<![\w])loss ([0-9.]+)")


def load_config(run_dir: Path) -> RootConfig:
    """The run's resolved config (runs from before the typed config recorded model.stride: dropped, it is measured)."""
    path = run_dir / ".hydra" / "config.yaml"
    if not path.is_file():
        raise SystemExit(f"diagnose_twin: {run_dir} has no .hydra/config.yaml: pass a run directory of roi-ablation-train")
    cfg: DictConfig = OmegaConf.load(path)  # type: ignore[assignment]
    cfg.model.pop("stride", None)
    try:
        return resolve(cfg)
    except ValueError as err:
        raise SystemExit(f"diagnose_twin: {path}: {err}") from None


@torch.no_grad()
def rpn_diagnosis(cfg: RootConfig, run_dir: Path, limit: int | None) -> dict[str, object]:
    """Feature-map size, object sizes and RPN recall of the trained model on the validation set."""
    weights = run_dir / "checkpoints" / "model_final.pth"
    if not weights.is_file():
        raise SystemExit(f"diagnose_twin: {weights} is missing: the run has not finished")
    dataset = build_dataset(cfg.data, split="val", train=False)
    model = build_model(cfg.model, cfg.roi, dataset.num_classes)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True)["model"])
    model.eval()
    stride = feature_stride(model)
    hits = {iou: 0 for iou in IOUS}
    sizes: list[float] = []
    map_shape: tuple[int, ...] = ()
    for index in range(len(dataset) if limit is None else min(limit, len(dataset))):
        image, target = dataset[index]
        images, targets = model.transform([image], [{"boxes": target["boxes"], "labels": target["labels"]}])
        features = model.backbone(images.tensors)
        if isinstance(features, torch.Tensor):
            features = OrderedDict([("0", features)])
        map_shape = tuple(next(iter(features.values())).shape[-2:])
        proposals, _ = model.rpn(images, features)
        boxes = targets[0]["boxes"]
        if len(boxes) == 0:
            continue
        sizes += ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).sqrt().tolist()
        best = box_iou(boxes, proposals[0]).max(dim=1).values if len(proposals[0]) else torch.zeros(len(boxes))
        for iou in IOUS:
            hits[iou] += int((best >= iou).sum())
    if not sizes:
        raise SystemExit("diagnose_twin: the validation set has no objects")
    quartiles = statistics.quantiles(sizes, n=4)
    return {
        "stride": str(stride),
        "feature map (cells)": "x".join(map(str, map_shape)),
        "object px (min / median / max)": f"{min(sizes):.0f} / {quartiles[1]:.0f} / {max(sizes):.0f}",
        "object cells (min / median / max)": f"{min(sizes) / stride:.2f} / {quartiles[1] / stride:.2f} / {max(sizes) / stride:.2f}",
        "objects under 1 cell": f"{sum(s < stride for s in sizes) / len(sizes):.0%}",
        **{f"RPN recall @{iou}": f"{hits[iou] / len(sizes):.1%}" for iou in IOUS},
        "proposals / image (test)": str(cfg.model.detector.rpn_post_nms_top_n_test),
    }


def loss_curve(log: Path, points: Iterable[float] = LOSS_POINTS) -> dict[str, object]:
    """The mean logged total loss in a window of 10% of the run ending at each point."""
    entries = [(int(m[1]), int(m[2]), float(m[3])) for m in map(_LOG_LINE.search, log.read_text().splitlines()) if m]
    if not entries:
        return {f"loss @{p:.0%}": "–" for p in points}
    max_iter = entries[-1][1]
    out: dict[str, object] = {}
    for p in points:
        end = p * max_iter
        window = [loss for it, _, loss in entries if end - 0.1 * max_iter < it <= end]
        out[f"loss @{p:.0%}"] = f"{statistics.fmean(window):.3f}" if window else "–"
    return out


def ap_by_size(metrics: dict[str, Any]) -> dict[str, object]:  # metrics: a parsed metrics.json
    out: dict[str, object] = {}
    for section, name in (("segm", "mask"), ("bbox", "box")):
        values = metrics.get(section) or {}
        out[f"{name} AP / APs / APm / APl"] = " / ".join(_ap(values.get(k)) for k in SIZE_KEYS)
    out["train_s"] = f"{float(metrics.get('train_s') or 0):.0f}"
    return out


def _ap(value: object) -> str:
    """An AP cell; None or -1 (COCOeval's "no object of this size") as a dash."""
    return "–" if value is None or float(value) < 0 else f"{float(value):.1f}"  # type: ignore[arg-type]


def diagnose(run_dir: Path, limit: int | None) -> dict[str, object]:
    cfg = load_config(run_dir)
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    column: dict[str, object] = {
        "model": cfg.model.name,
        "image px (data / detector)": f"{cfg.data.image_size} / {cfg.model.detector.min_size}",
        "anchors": ",".join(map(str, cfg.model.anchors.sizes)),
        "iterations": str(cfg.train.max_iter),
    }
    column |= rpn_diagnosis(cfg, run_dir, limit)
    column |= ap_by_size(metrics)
    column |= loss_curve(run_dir / "train.log")
    return column


def render(columns: dict[str, dict[str, object]]) -> str:
    names = list(columns)
    keys = list(next(iter(columns.values())))
    lines = ["| | " + " | ".join(f"`{n}`" for n in names) + " |", "|---|" + "---|" * len(names)]
    lines += ["| " + key + " | " + " | ".join(str(columns[n].get(key, "–")) for n in names) + " |" for key in keys]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="trained run directories")
    parser.add_argument("--limit", type=int, default=None, help="validation images for the RPN recall (default: all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(render({str(run): diagnose(run, args.limit) for run in args.runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
