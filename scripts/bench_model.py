"""Training-step time of whole Mask R-CNN presets: our RoI pooler against torchvision's.

For each preset, one model is built with `roi=align_avg` (the 2017 RoIAlign: n=2,
centre samples, aligned=False, which is exactly what torchvision's MultiScaleRoIAlign
computes) and a copy of it gets torchvision's `MultiScaleRoIAlign` in both branches:
same weights, same images and targets. Steps of the two alternate in one process; the
script prints median seconds per step and the ratio (stock / ours: above 1, ours is faster).

    python scripts/bench_model.py                          # small_c4, small_c5, r50_fpn on CPU
    python scripts/bench_model.py --models r50_fpn --size 800 --device cuda
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import nn
from torchvision.ops import MultiScaleRoIAlign

from roi_ablation.config import compose_config, resolve
from roi_ablation.models import build_model


def stock_copy(model: nn.Module) -> nn.Module:
    """The same detector with torchvision's MultiScaleRoIAlign as box and mask pooler."""
    stock = copy.deepcopy(model)
    heads = stock.roi_heads
    for name in ("box_roi_pool", "mask_roi_pool"):
        ours = getattr(heads, name)
        setattr(heads, name, MultiScaleRoIAlign(ours.featmap_names, ours.output_size, ours.sampling_ratio))
    return stock


def synthetic_batch(images: int, size: int, device: torch.device) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """Random images with a few box-and-mask targets each (timing only needs realistic shapes)."""
    g = torch.Generator().manual_seed(0)
    batch, targets = [], []
    for _ in range(images):
        batch.append(torch.rand(3, size, size, generator=g).to(device))
        xy = torch.rand(4, 2, generator=g) * size * 0.6
        wh = torch.rand(4, 2, generator=g) * size * 0.3 + size * 0.05
        boxes = torch.cat([xy, xy + wh], dim=1)
        masks = torch.zeros(4, size, size, dtype=torch.uint8)
        for i, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
            masks[i, y1:y2, x1:x2] = 1
        targets.append({"boxes": boxes.to(device), "labels": torch.randint(1, 5, (4,), generator=g).to(device),
                        "masks": masks.to(device)})
    return batch, targets


def step_seconds(model: nn.Module, batch: list[torch.Tensor], targets: list[dict[str, torch.Tensor]], device: torch.device) -> float:
    """One SGD step (forward, backward, update); seconds."""
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    start = time.perf_counter()
    loss = sum(model(batch, targets).values())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def bench(preset: str, size: int, images: int, repeats: int, device: torch.device) -> tuple[float, float]:
    """Median step seconds of (ours, stock), interleaved after one warm-up step each."""
    settings = resolve(compose_config([f"model={preset}", "roi=align_avg", f"model.detector.min_size={size}",
                                       f"model.detector.max_size={size}"]))
    torch.manual_seed(0)
    ours = build_model(settings.model, settings.roi, num_classes=5).to(device).train()
    stock = stock_copy(ours).train()
    batch, targets = synthetic_batch(images, size, device)
    times: dict[str, list[float]] = {"ours": [], "stock": []}
    for i in range(repeats + 1):
        for name, model in (("ours", ours), ("stock", stock)):
            torch.manual_seed(i)  # the same RPN/RoI sampling for both
            seconds = step_seconds(model, batch, targets, device)
            if i:
                times[name].append(seconds)
    return statistics.median(times["ours"]), statistics.median(times["stock"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["small_c4", "small_c5", "r50_fpn"])
    parser.add_argument("--size", type=int, default=None, help="image side (default: 192 small presets, 320 r50_*)")
    parser.add_argument("--images", type=int, default=4, help="images per step")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device {device}, {torch.get_num_threads()} threads, {args.images} images/step, median of {args.repeats}")
    print(f"{'model':10} {'size':>5} {'ours s/step':>12} {'stock s/step':>13} {'stock/ours':>10}")
    for preset in args.models:
        size = args.size or (320 if preset.startswith("r50") else 192)
        ours, stock = bench(preset, size, args.images, args.repeats, device)
        print(f"{preset:10} {size:5d} {ours:12.3f} {stock:13.3f} {stock / ours:10.2f}")


if __name__ == "__main__":
    main()
