"""One command for a lent GPU: what a CPU cannot measure, as DIR/gpu_check.json and DIR/gpu_check.md.

    python scripts/gpu_check.py --out outputs/gpu_check                   # one CUDA device, within 8 minutes
    python scripts/gpu_check.py --out /tmp/gpu_check --device cpu --tiny  # the same code path at toy sizes

Four items, in this order, each within its share of what is left of ``--budget-s``; a row
that would start after its item's deadline is skipped, and the JSON says so and why:

(a) ``equality``: every registered layer and aggregation, forward and backward, on the
    device against the CPU, at the bench_roi.py workloads (the paper's settings of each
    layer) and on random boxes (off the map, zero-size, adaptive grids, ``aligned``);
(b) ``roi_timing``: forward + backward of every layer against ``torchvision.ops.roi_align``
    and ``roi_pool`` on the same device, at the bench_roi.py workloads, as ratios;
(c) ``training``: 30 iterations each of ``r50_c4``, ``r50_c5`` and ``r50_fpn`` at the
    paper's settings (``train=1x``: AMP; 2 images per GPU, 800 px short side) on synthetic
    images, through the engine's training stack (``build_training``, ``Trainer.step``):
    median s/iter after warm-up and peak device memory, and ``r50_fpn`` again with
    torchvision's stock pooler. The trunk is loaded from a local file of randomly
    initialised weights, so it is frozen as an ImageNet trunk is in ``table2c`` (frozen BN,
    stem and res2) and nothing is downloaded;
(d) ``torchrun``: ``torchrun --nproc_per_node=1`` of this script's worker, which joins an
    NCCL process group (gloo on the CPU), checks an all-reduce and runs DDP training steps.

``--device cpu`` compares the CPU with itself in (a), so there (a) only shows that the
code runs; ``--tiny`` shrinks every size so that the whole check takes under a minute on
a CPU (the test suite runs it). ``scripts/project_cost.py --from DIR/gpu_check.json``
turns (c) into GPU-hours for the paper-scale sweeps.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torchvision
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from bench_model import stock_copy  # sibling scripts: this file runs as a script (and under torchrun)
from bench_roi import WORKLOADS, Workload, make_inputs, median_times, paper_geometry, runner, variants

from roi_ablation.config import compose_config, resolve
from roi_ablation.data import collate_fn
from roi_ablation.engine.build import Components, build_training
from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.trainer import Trainer, autocast_dtype
from roi_ablation.models import build_model
from roi_ablation.models.backbones import resnet_trunk
from roi_ablation.roi import extract

#: Tolerances of device == CPU: outputs are short sums; gradients add up many RoIs' shares.
OUTPUT_TOL = {"rtol": 1e-5, "atol": 1e-5}
GRAD_TOL = {"rtol": 1e-4, "atol": 1e-4}
#: Geometry of the random-box rows: adaptive grids and the half-pixel offset, unlike the paper's.
RANDOM_GEOMETRY = {"sampling_ratio": 0, "aligned": True, "layout": "center"}
PRESETS = ("r50_c4", "r50_c5", "r50_fpn")
STOCK = "torchvision MultiScaleRoIAlign"
COCO_CLASSES = 81  # 80 categories and the background


@dataclass(frozen=True)
class Sizes:
    """Everything ``--tiny`` shrinks."""

    workloads: dict[str, Workload]
    random_rois: int
    timing_repeats: int
    image_hw: tuple[int, int]  # synthetic images before the model's resize (COCO's 480x640 -> 800x1067)
    model_overrides: tuple[str, ...]
    classes: int
    iterations: int
    warmup: int
    smoke_iterations: int


PAPER = Sizes(workloads=dict(WORKLOADS), random_rois=512, timing_repeats=7, image_hw=(480, 640), model_overrides=(),
              classes=COCO_CLASSES, iterations=30, warmup=5, smoke_iterations=5)
TINY = Sizes(
    workloads={
        "box-tiny": Workload("box head, C=16, 7x7", 16, 24, 7, 16, image_hw=(128, 160)),
        "mask-tiny": Workload("mask head, C=16, 14x14", 16, 8, 14, 16, image_hw=(128, 160)),
        "s32-tiny": Workload("stride 32, C=32, 7x7", 32, 24, 7, 32, image_hw=(128, 160)),
    },
    random_rois=32,
    timing_repeats=2,
    image_hw=(48, 64),
    model_overrides=("model.backbone.depth=null", "model.backbone.widths=[8,8,16,16]", "model.backbone.blocks=[1,1,1,1]",
                     "model.heads.mask_dim=8", "model.heads.representation_size=32", "model.heads.mask_layers=[8]",
                     "model.heads.fpn_channels=8", "model.detector.min_size=64", "model.detector.max_size=96",
                     "model.detector.rpn_pre_nms_top_n_train=100", "model.detector.rpn_post_nms_top_n_train=32",
                     "model.detector.rpn_batch_size_per_image=32", "model.detector.box_batch_size_per_image=8"),
    classes=5,
    iterations=3,
    warmup=1,
    smoke_iterations=2,
)


class Budget:
    """Wall-clock budget of the whole check; each item gets a share of what is left."""

    def __init__(self, seconds: float) -> None:
        self.start, self.seconds = time.perf_counter(), seconds

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.start)

    def deadline(self, share: float) -> float:
        """A ``perf_counter`` time: ``share`` of what is left from now."""
        return time.perf_counter() + max(0.0, self.left()) * share


class OutOfTime(Exception):
    """A row started but could not measure anything within its share of the budget."""


def skipped(reason: str, **fields: Any) -> dict[str, Any]:
    return {"status": "skipped", "reason": reason, **fields}


def failed(error: BaseException) -> dict[str, Any]:
    return {"status": "failed", "reason": f"{type(error).__name__}: {error}".splitlines()[0],
            "traceback": traceback.format_exc(limit=6)}


def rows_until(deadline: float, rows: list[Any], run: Callable[[Any], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``run(row)`` for each row while time is left; rows past the deadline are skipped rows."""
    for row in rows:
        if time.perf_counter() > deadline:
            yield skipped("time budget: this item's share was used up before this row", **row)
            continue
        try:
            yield {**row, "status": "measured", **run(row)}
        except OutOfTime as error:
            yield skipped(str(error), **row)
        except Exception as error:  # one failing row must not cost the rest of the GPU time
            yield {**row, **failed(error)}


def item_status(rows: list[dict[str, Any]]) -> str:
    """``measured`` if every row was, ``failed`` if any failed, else ``partial``."""
    states = {r["status"] for r in rows}
    return "failed" if "failed" in states else "measured" if states == {"measured"} else "partial"


# ----------------------------------------------------------------------------- (a) device == CPU


def random_boxes(w: Workload, count: int, seed: int) -> torch.Tensor:
    """``[count, 5]`` RoIs of every awkward kind: off the map, zero-size, reversed, huge."""
    g = torch.Generator().manual_seed(seed)
    height, width = w.image_hw
    xy = torch.rand(count, 2, generator=g) * torch.tensor([width * 1.2, height * 1.2]) - torch.tensor([width, height]) * 0.1
    wh = torch.rand(count, 2, generator=g) * torch.tensor([width, height]) * 0.8
    wh[: count // 8] = 0  # zero-size boxes
    wh[count // 8 : count // 4] *= -0.05  # slightly reversed boxes
    batch = torch.randint(w.images, (count, 1), generator=g).float()
    return torch.cat([batch, xy, xy + wh], dim=1)


def forward_backward(features: torch.Tensor, rois: torch.Tensor, w: Workload, method: str, agg: str,
                     geometry: dict[str, Any], grad_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Output and feature gradient of one layer on the features' device, both returned on the CPU."""
    x = features.detach().clone().requires_grad_()
    y = extract(x, rois, method, agg, w.output, 1.0 / w.stride, **geometry)
    (grad,) = torch.autograd.grad(y, x, grad_out.to(y.device))
    return y.detach().cpu(), grad.cpu()


def compare(reference: tuple[torch.Tensor, torch.Tensor], other: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
    """Largest differences of output and gradient, and whether both are within tolerance."""
    (y0, g0), (y1, g1) = reference, other
    return {
        "max_abs_diff_output": float((y1 - y0).abs().max()) if y0.numel() else 0.0,
        "max_abs_diff_grad": float((g1 - g0).abs().max()),
        "equal": bool(torch.allclose(y1, y0, **OUTPUT_TOL) and torch.allclose(g1, g0, **GRAD_TOL)),
    }


def check_equality(device: str, sizes: Sizes, deadline: float) -> dict[str, Any]:
    workloads = dict(sizes.workloads)
    first = next(iter(workloads.values()))
    workloads["random-boxes"] = replace(first, rois=sizes.random_rois, name="random boxes")
    rows = [{"workload": key, "layer": f"{m}/{a}", "geometry": "random" if key == "random-boxes" else "paper"}
            for key in workloads for m, a in variants()]
    inputs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def run(row: dict[str, Any]) -> dict[str, Any]:
        w = workloads[row["workload"]]
        if row["workload"] not in inputs:
            features, rois = make_inputs(w, "cpu")
            inputs[row["workload"]] = (features, random_boxes(w, w.rois, seed=1) if row["geometry"] == "random" else rois)
        features, rois = inputs[row["workload"]]
        method, agg = row["layer"].split("/")
        geometry = RANDOM_GEOMETRY if row["geometry"] == "random" else paper_geometry(method)
        grad_out = torch.randn(rois.shape[0], features.shape[1], w.output, w.output,
                               generator=torch.Generator().manual_seed(2))
        on_cpu = forward_backward(features, rois, w, method, agg, geometry, grad_out)
        on_device = forward_backward(features.to(device), rois.to(device), w, method, agg, geometry, grad_out)
        return compare(on_cpu, on_device)

    result_rows = list(rows_until(deadline, rows, run))
    failures = [r for r in result_rows if r["status"] == "measured" and not r["equal"]]
    status = item_status(result_rows)
    return {"status": "failed" if failures else status, "reference": "cpu", "device": device,
            "output_tolerance": OUTPUT_TOL, "grad_tolerance": GRAD_TOL, "rows": result_rows,
            "reason": f"{len(failures)} rows differ beyond tolerance" if failures else
                      ("the device is the CPU: equal by construction; this shows only that the code runs"
                       if device == "cpu" else None)}


# ----------------------------------------------------------------------------- (b) RoI op timing


def _layer(impl: str) -> str:
    """``ours:align:avg`` -> ``align/avg``."""
    return impl.removeprefix("ours:").replace(":", "/")


def time_layers(device: str, sizes: Sizes, deadline: float) -> dict[str, Any]:
    impls = ["tv_align", "tv_pool"] + [f"ours:{m}:{a}" for m, a in variants()]
    rows = [{"workload": key} for key in sizes.workloads]

    def run(row: dict[str, Any]) -> dict[str, Any]:
        w = sizes.workloads[row["workload"]]
        features, rois = make_inputs(w, device)
        med = median_times({impl: runner(impl, w, features, rois) for impl in impls}, sizes.timing_repeats)
        return {"ms": {impl: round(s * 1e3, 3) for impl, s in med.items()},
                "tv_align_over_ours": {_layer(impl): round(med["tv_align"] / med[impl], 3) for impl in impls[2:]},
                "tv_pool_over_ours": {_layer(impl): round(med["tv_pool"] / med[impl], 3) for impl in impls[2:]}}

    result_rows = list(rows_until(deadline, rows, run))
    return {"status": item_status(result_rows), "repeats": sizes.timing_repeats, "rows": result_rows,
            "reason": None, "note": "forward+backward, median; ratio > 1: ours is faster"}


# ----------------------------------------------------------------------------- (c) training


class SyntheticImages(Dataset):
    """Random images with a few box-and-mask objects each (timing needs realistic shapes, not content).

    Items are drawn from the global RNG, which the engine's loader seeds per item.
    """

    def __init__(self, count: int, image_hw: tuple[int, int], classes: int) -> None:
        self.count, self.image_hw, self.classes = count, image_hw, classes

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        height, width = self.image_hw
        xy = torch.rand(6, 2) * torch.tensor([width * 0.6, height * 0.6])
        wh = (torch.rand(6, 2) * 0.35 + 0.05) * torch.tensor([width, height])
        boxes = torch.cat([xy, xy + wh], dim=1)
        masks = torch.zeros(6, height, width, dtype=torch.uint8)
        for i, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
            masks[i, y1:y2, x1:x2] = 1
        target = {"boxes": boxes, "labels": torch.randint(1, self.classes, (6,)), "masks": masks,
                  "image_id": torch.tensor(index)}
        return torch.rand(3, height, width), target


def trunk_weights_file(settings: Any, work: Path) -> Path:
    """A local state dict of the configured trunk, randomly initialised with zero-init residuals.

    Loading it makes the model treat the trunk as pretrained: frozen BN, only the last
    ``trainable_layers`` stages trained, exactly the compute of table2c's ImageNet trunk.
    Zeroing each block's last BN scale keeps the activations of an unnormalised random
    trunk finite in fp16.
    """
    backbone = settings.model.backbone
    path = work / f"trunk_{settings.model.name}_{'x'.join(map(str, backbone.widths or [backbone.depth]))}.pth"
    if not path.exists():
        trunk = resnet_trunk(depth=backbone.depth, widths=backbone.widths, blocks=backbone.blocks, norm="frozen_bn")
        for block in trunk.modules():
            if isinstance(block, (torchvision.models.resnet.Bottleneck, torchvision.models.resnet.BasicBlock)):
                last = block.bn3 if isinstance(block, torchvision.models.resnet.Bottleneck) else block.bn2
                last.weight.data.zero_()
        torch.save(trunk.state_dict(), path)
    return path


def paper_training(preset: str, device: torch.device, sizes: Sizes, work: Path, seed: int = 0) -> tuple[Any, Components]:
    """Settings and components of one preset at the paper's training settings (2 images per GPU)."""
    overrides = [f"model={preset}", "roi=align_avg", "train=1x", "train.batch_size=2", "train.num_workers=0",
                 f"device={device.type}", f"seed={seed}", *sizes.model_overrides]
    weights = trunk_weights_file(resolve(compose_config(overrides)), work)
    settings = resolve(compose_config([*overrides, f"model.backbone.weights={weights}"]))
    images = SyntheticImages(4 * settings.train.batch_size, sizes.image_hw, sizes.classes)
    torch.manual_seed(seed)  # the same initial weights each time a preset is built
    model = build_model(settings.model, settings.roi, num_classes=sizes.classes)
    return settings, Components(model, images, images, collate_fn)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_steps(settings: Any, components: Components, device: torch.device, sizes: Sizes,
                deadline: float) -> dict[str, Any]:
    """Median seconds of ``Trainer.step`` after the warm-up, and peak device memory."""
    ctx = DistContext(rank=0, world_size=1, device=device)
    training = build_training(settings.train, components, ctx, settings.seed)
    batches = iter(training.train_batches(0))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds: list[float] = []
    for _ in range(sizes.iterations):
        if time.perf_counter() > deadline and len(seconds) > sizes.warmup:
            break
        images, targets = next(batches)
        _sync(device)
        start = time.perf_counter()
        training.trainer.step(images, targets)
        _sync(device)
        seconds.append(time.perf_counter() - start)
    measured = seconds[sizes.warmup :]
    if not measured:
        raise OutOfTime(f"time budget: only {len(seconds)} iterations (all warm-up) fitted")
    return {
        "s_per_iter": round(statistics.median(measured), 4),
        "iterations": len(seconds),
        "warmup": sizes.warmup,
        "truncated_by_budget": len(seconds) < sizes.iterations,
        "images_per_iter": settings.train.batch_size,
        "amp": str(autocast_dtype(settings.train.amp, device)),
        "peak_memory_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None,
    }


def time_training(device: str, sizes: Sizes, work: Path, deadline: float) -> dict[str, Any]:
    rows = [{"model": preset, "pooler": "ours (align/avg)"} for preset in PRESETS]
    rows.append({"model": "r50_fpn", "pooler": STOCK})
    on = torch.device(device)
    rows_left = iter(range(len(rows), 0, -1))  # this row and those after it

    def run(row: dict[str, Any]) -> dict[str, Any]:
        settings, components = paper_training(row["model"], on, sizes, work)
        if row["pooler"] == STOCK:
            components = replace(components, model=stock_copy(components.model))  # same weights, stock pooler
        # What is left of the item's time, split evenly over this row and those after it.
        row_deadline = time.perf_counter() + max(0.0, deadline - time.perf_counter()) / next(rows_left)
        result = train_steps(settings, components, on, sizes, row_deadline)
        del components
        if on.type == "cuda":
            torch.cuda.empty_cache()
        return result

    result_rows = list(rows_until(deadline, rows, run))
    return {"status": item_status(result_rows), "rows": result_rows, "reason": None,
            "settings": {"overrides": ["roi=align_avg", "train=1x", "train.batch_size=2", *sizes.model_overrides],
                         "image_before_resize": list(sizes.image_hw), "trunk": "random init, loaded as pretrained "
                         "(frozen BN, stem and res2 as table2c's ImageNet trunk)"}}


# ----------------------------------------------------------------------------- (d) torchrun smoke


def smoke_worker(device_type: str, sizes: Sizes, work: Path) -> dict[str, Any]:
    """Inside ``torchrun``: join the group, all-reduce, and run DDP training steps of ``r50_fpn``."""
    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, init_method="env://")
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"])) if device_type == "cuda" else torch.device("cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        total = torch.full((1,), float(rank + 1), device=device)
        dist.all_reduce(total)
        settings, components = paper_training("r50_fpn", device, sizes, work)
        ctx = DistContext(rank=rank, world_size=world, device=device)
        training = build_training(settings.train, components, ctx, settings.seed)
        # One process: build_training leaves the model unwrapped; wrap it so NCCL reduces gradients.
        ddp = DistributedDataParallel(training.state.model, device_ids=[device.index] if device.type == "cuda" else None)
        trainer = Trainer(ddp, training.state, ctx, autocast_dtype(settings.train.amp, device), settings.train.clip_grad_norm)
        batches = iter(training.train_batches(0))
        losses = [trainer.step(*next(batches))[0]["loss"] for _ in range(sizes.smoke_iterations)]
        return {"backend": backend, "world_size": world, "all_reduce_ok": total.item() == world * (world + 1) / 2,
                "losses": losses, "finite": all(map(math.isfinite, losses))}
    finally:
        dist.destroy_process_group()


def torchrun_smoke(device: str, tiny: bool, work: Path, deadline: float) -> dict[str, Any]:
    timeout = deadline - time.perf_counter()
    if timeout < 20:
        return skipped(f"time budget: {max(0.0, timeout):.0f} s left, a torchrun start needs about 20 s")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1", __file__,
               "--smoke-worker", "--device", device, "--out", str(work), *(["--tiny"] if tiny else [])]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    except subprocess.TimeoutExpired:
        return skipped(f"time budget: torchrun did not finish within {timeout:.0f} s")
    tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("SMOKE ")]
    if done.returncode != 0 or not lines:
        return {"status": "failed", "reason": f"torchrun exited with {done.returncode}", "output_tail": tail}
    report = json.loads(lines[-1][len("SMOKE "):])
    ok = report["all_reduce_ok"] and report["finite"]
    return {"status": "measured" if ok else "failed", "reason": None if ok else "all-reduce or losses wrong",
            "command": "torchrun --standalone --nproc_per_node=1 scripts/gpu_check.py --smoke-worker", **report}


# ----------------------------------------------------------------------------- report


def environment(device: str) -> dict[str, Any]:
    cuda = device == "cuda"
    return {
        "type": device,
        "name": torch.cuda.get_device_name(0) if cuda else f"CPU ({platform.machine()}, {os.cpu_count()} cores)",
        "memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1) if cuda else None,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "python": platform.python_version(),
    }


def git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).resolve().parents[1])
    except OSError:
        return None
    return done.stdout.strip() or None


def markdown(report: dict[str, Any]) -> str:
    """The JSON as a page: environment, then one section per item."""
    env, items = report["device"], report["items"]
    lines = [f"# GPU check: {env['name']}", "",
             f"{report['date']}, torch {env['torch']}, torchvision {env['torchvision']}, CUDA {env['cuda'] or 'none'}, "
             f"commit {report['git']}; {'tiny sizes (a code-path check, not figures)' if report['tiny'] else 'paper sizes'}; "
             f"{report['elapsed_s']:.0f} s of a {report['budget_s']:.0f} s budget.", ""]
    for key, title in (("equality", "(a) device == CPU"), ("roi_timing", "(b) RoI layers vs torchvision"),
                       ("training", "(c) training s/iter"), ("torchrun", "(d) torchrun smoke")):
        item = items[key]
        lines += [f"## {title}: {item['status']}", ""]
        if item.get("reason"):
            lines += [item["reason"], ""]
        lines += _ITEM_TABLES[key](item) + [""]
    return "\n".join(lines)


def _equality_table(item: dict[str, Any]) -> list[str]:
    lines = ["| workload | layer | geometry | equal | max diff out | max diff grad |", "|---|---|---|---|---|---|"]
    for r in item.get("rows", []):
        if r["status"] == "measured":
            lines.append(f"| {r['workload']} | {r['layer']} | {r['geometry']} | {'yes' if r['equal'] else '**NO**'} "
                         f"| {r['max_abs_diff_output']:.2e} | {r['max_abs_diff_grad']:.2e} |")
        else:
            lines.append(f"| {r['workload']} | {r['layer']} | {r['geometry']} | {r['status']}: {r['reason']} | | |")
    return lines


def _timing_table(item: dict[str, Any]) -> list[str]:
    measured = [r for r in item.get("rows", []) if r["status"] == "measured"]
    layers = list(measured[0]["tv_align_over_ours"]) if measured else []
    lines = ["tv_align ms, tv_pool ms, then tv_align's time over ours per layer (> 1: ours faster).", "",
             "| workload | tv_align ms | tv_pool ms | " + " | ".join(layers) + " |",
             "|---|---|---|" + "---|" * len(layers)]
    for r in item.get("rows", []):
        if r["status"] != "measured":
            lines.append(f"| {r['workload']} | {r['status']}: {r['reason']} |")
            continue
        ratios = " | ".join(f"{r['tv_align_over_ours'][layer]:.2f}x" for layer in layers)
        lines.append(f"| {r['workload']} | {r['ms']['tv_align']:.2f} | {r['ms']['tv_pool']:.2f} | {ratios} |")
    return lines


def _training_table(item: dict[str, Any]) -> list[str]:
    lines = ["| model | pooler | s/iter | iterations (warm-up) | peak memory MiB | AMP |", "|---|---|---|---|---|---|"]
    for r in item.get("rows", []):
        if r["status"] != "measured":
            lines.append(f"| {r['model']} | {r['pooler']} | {r['status']}: {r['reason']} | | | |")
            continue
        memory = "n/a (CPU)" if r["peak_memory_mib"] is None else f"{r['peak_memory_mib']:.0f}"
        cut = ", cut by budget" if r["truncated_by_budget"] else ""
        lines.append(f"| {r['model']} | {r['pooler']} | {r['s_per_iter']:.3f} | {r['iterations']} ({r['warmup']}{cut}) "
                     f"| {memory} | {r['amp']} |")
    return lines


def _torchrun_lines(item: dict[str, Any]) -> list[str]:
    if item["status"] == "skipped":
        return []
    if "backend" not in item:
        return ["```", *item.get("output_tail", []), "```"]
    return [f"backend {item['backend']}, world size {item['world_size']}, all-reduce "
            f"{'ok' if item['all_reduce_ok'] else 'WRONG'}, losses {', '.join(f'{v:.3f}' for v in item['losses'])}"]


_ITEM_TABLES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "equality": _equality_table, "roi_timing": _timing_table, "training": _training_table, "torchrun": _torchrun_lines}


def run_check(device: str, tiny: bool, budget_s: float, work: Path) -> dict[str, Any]:
    """Every item in order, each with its share of the time left; the report as a dict.

    ``work`` holds scratch files (the trunk weights), not the report.
    """
    sizes = TINY if tiny else PAPER
    budget = Budget(budget_s)
    items: dict[str, Any] = {}
    # Shares of what is left when each item starts: a and b are short, c gets most, d the rest.
    for key, share, measure in (
        ("equality", 1 / 4, lambda d: check_equality(device, sizes, d)),
        ("roi_timing", 1 / 3, lambda d: time_layers(device, sizes, d)),
        ("training", 3 / 4, lambda d: time_training(device, sizes, work, d)),
        ("torchrun", 1.0, lambda d: torchrun_smoke(device, tiny, work, d)),
    ):
        started = time.perf_counter()
        try:
            items[key] = measure(budget.deadline(share))
        except Exception as error:
            items[key] = failed(error)
        items[key]["seconds"] = round(time.perf_counter() - started, 1)
        print(f"gpu_check: {key} {items[key]['status']} in {items[key]['seconds']:.0f} s", file=sys.stderr, flush=True)
    return {"schema": 1, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "device": environment(device),
            "git": git_commit(), "tiny": tiny, "budget_s": budget_s, "elapsed_s": round(budget_s - budget.left(), 1),
            "items": items}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="directory for gpu_check.json and gpu_check.md")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--tiny", action="store_true", help="toy sizes: the same code path in under a minute")
    parser.add_argument("--budget-s", type=float, default=480.0, help="wall-clock budget (default: %(default)s)")
    parser.add_argument("--smoke-worker", action="store_true", help=argparse.SUPPRESS)  # --out: the scratch directory
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available on this machine; run --device cpu --tiny for the code-path check")
    if args.budget_s <= 0:
        parser.error(f"--budget-s must be > 0; got {args.budget_s}")
    if args.smoke_worker:
        print("SMOKE " + json.dumps(smoke_worker(args.device, TINY if args.tiny else PAPER, args.out)), flush=True)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as work:
        report = run_check(args.device, args.tiny, args.budget_s, Path(work))
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    page = markdown(report)
    (args.out / "gpu_check.md").write_text(page + "\n")
    print(page)
    return 1 if any(item["status"] == "failed" for item in report["items"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
