"""One command for a lent GPU: what a CPU cannot measure, in one JSON (and a Markdown page).

    python scripts/gpu_check.py                                  # CUDA: outputs/gpu_check/gpu_check.json, < 8 min on one H100
    python scripts/gpu_check.py --device cpu --out DIR           # rehearsal: ResNet-50 at reduced image size and RoI counts
    python scripts/gpu_check.py --device cpu --tiny --out DIR    # toy sizes: the same code path for the test suite

On the GPU machine's image (no Hydra, omegaconf or pycocotools) install the wheelhouse
first: ``scripts/build_wheelhouse.py`` builds it, and prints the line. Sections, in this
order, each within its share of ``--budget-s``; whatever does not fit (a row that would
start after its section's deadline, a section the device cannot run) is skipped, and the
JSON says so and why:

``equality``
    Every RoI layer that torchvision has a kernel for, against that kernel on the same
    device, forward output and feature gradient (max abs error): RoIPool max vs
    ``roi_pool``; RoIAlign avg vs ``roi_align`` with ``aligned`` False and True (and the
    adaptive sampling ratio); the FPN pooler vs ``MultiScaleRoIAlign``. At the presets'
    own shapes and on random awkward boxes. On CUDA also every ``configs/roi`` layer on
    the device against the same layer on the CPU (the layers torchvision lacks).
``roi_layers``
    Forward + backward of every ``configs/roi`` layer (and any other registered layer
    and aggregation), and of torchvision's kernels, at the presets' shapes, read from the
    built models: C4 box and mask (14x14, 1024 channels), C5 box (7x7, 2048 channels,
    stride 32) and mask, FPN box (7x7x256 over four levels) and mask; RoIs per call =
    the preset's sampled RoIs per image x 2 images (mask: the positive fraction of them).
    Median time, peak memory of one call, and the number of tensor ops (and CUDA
    kernels) one call issues: ``roi/launches.py`` counts the ops and the host syncs among
    them (the counter the RoI tests bound), the profiler the CUDA kernels.
``training``
    A few iterations of every row of Table 2c (``configs/roi/*.yaml`` on ``r50_c4``) and
    Table 2d (its sweep's rows on ``r50_c5``), ``align_avg`` on ``r50_fpn``, and
    torchvision's stock pooler (``MultiScaleRoIAlign``) on C4, C5 and FPN, through the
    engine's training stack (``build_training``, ``Trainer.step``; AMP as the schedule
    says) on synthetic images at 2 images per device: median s/iter after warm-up and
    peak memory. The top-level ``training`` list holds one object per measured row,
    ``{model, roi, variant, s_per_iter, images_per_iter, peak_mem_mb}``: the contract
    that ``scripts/project_cost.py`` and the report's power planning read.
``amp``
    The engine's mixed precision (CUDA: fp16 autocast + GradScaler; CPU: bf16), and on the
    CPU the fp16 + GradScaler code path forced where torch supports it: losses, the loss
    scale per step, the dtype the RoI layer sees, parameters updated.
``torchrun``
    The real ``roi_ablation/train.py`` (``roi-ablation-train``) under
    ``torchrun --nproc_per_node=2`` for a few iterations with evaluation: rank 0 composes
    Hydra and hands the config out, DDP trains, evaluation is gathered. gloo on the CPU and
    when both ranks share one GPU (NCCL refuses that), NCCL with a GPU per rank.

The trunk is a local file of randomly initialised ResNet-50 weights loaded as if
pretrained (frozen BN, stem and res2 frozen, as ``table2c``'s ImageNet trunk), so nothing
is downloaded. ``--device cpu`` is a rehearsal of the code path: its figures are CPU
figures, and its torchvision equality is CPU-vs-CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.metadata
import json
import math
import os
import platform
import re
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
from typing import Any, TypedDict, cast

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the package from this checkout, installed or not (the GPU image has it only here)
    sys.path.insert(1, str(ROOT))

import torch  # noqa: E402
import torchvision  # noqa: E402
from torchvision.models.detection import MaskRCNN  # noqa: E402
from torchvision.ops import MultiScaleRoIAlign, roi_align, roi_pool  # noqa: E402

from bench_model import stock_copy  # noqa: E402  (sibling script: this file runs as a script)
from bench_roi import paper_geometry, variants  # noqa: E402

from roi_ablation.config import CONFIG_DIR, compose_config, resolve  # noqa: E402
from roi_ablation.data import collate_fn  # noqa: E402
from roi_ablation.engine import distributed  # noqa: E402
from roi_ablation.engine.build import Components, build_training  # noqa: E402
from roi_ablation.roi.launches import count_launches  # noqa: E402
from roi_ablation.roi.ops import strategy_for  # noqa: E402
from roi_ablation.engine.distributed import DistContext  # noqa: E402
from roi_ablation.engine.trainer import autocast_dtype  # noqa: E402
from roi_ablation.models import build_model  # noqa: E402
from roi_ablation.models.backbones import resnet_trunk  # noqa: E402
from roi_ablation.roi import RoISettings, extract  # noqa: E402
from roi_ablation.roi.poolers import RoIPooler  # noqa: E402

SCHEMA = 2


class Tolerance(TypedDict):
    """Keyword arguments of ``torch.allclose``."""

    rtol: float
    atol: float


#: ours vs torchvision (or device vs CPU): outputs are short sums; gradients add up many RoIs' shares.
OUTPUT_TOL: Tolerance = {"rtol": 1e-5, "atol": 1e-5}
GRAD_TOL: Tolerance = {"rtol": 1e-4, "atol": 1e-4}
PRESETS = ("r50_c4", "r50_c5", "r50_fpn")
IMAGES_PER_DEVICE = 2  # the paper's 16 images over 8 GPUs
COCO_CLASSES = 81  # 80 categories and the background
STOCK = "stock"


@dataclass(frozen=True)
class Mode:
    """The sizes of one kind of run (CUDA at the paper's sizes, the CPU rehearsal, the test suite's toy)."""

    name: str
    budget_s: float
    image_hw: tuple[int, int]  # synthetic images before the model's resize (COCO's 480x640 -> 800x1067)
    model_overrides: tuple[str, ...]
    classes: int
    timing_repeats: int
    random_rois: int
    iterations: int
    warmup: int
    amp_steps: int
    smoke: tuple[str, ...]  # overrides of the torchrun run of train.py (besides model, data, device)
    # Seconds each section may take at most (the last one takes what is left), in run order.
    caps: tuple[tuple[str, float], ...]


CPU_REDUCED = ("model.detector.min_size=320", "model.detector.max_size=448",
               "model.detector.rpn_pre_nms_top_n_train=600", "model.detector.rpn_post_nms_top_n_train=200",
               "model.detector.rpn_pre_nms_top_n_test=300", "model.detector.rpn_post_nms_top_n_test=50",
               "model.detector.box_batch_size_per_image=16")
TINY_MODEL = ("model.backbone.depth=null", "model.backbone.widths=[8,8,16,16]", "model.backbone.blocks=[1,1,1,1]",
              "model.heads.mask_dim=8", "model.heads.representation_size=32", "model.heads.mask_layers=[8]",
              "model.heads.fpn_channels=8", "model.detector.min_size=64", "model.detector.max_size=96",
              "model.detector.rpn_pre_nms_top_n_train=100", "model.detector.rpn_post_nms_top_n_train=32",
              "model.detector.rpn_pre_nms_top_n_test=50", "model.detector.rpn_post_nms_top_n_test=16",
              "model.detector.box_batch_size_per_image=8")
MODES = {
    "cuda": Mode("cuda", 480.0, (480, 640), (), COCO_CLASSES, timing_repeats=5, random_rois=512, iterations=8, warmup=2,
                 amp_steps=4, smoke=("data.num_train=16", "data.num_val=8", "train.max_iter=4", "train.batch_size=4",
                                     "train.num_workers=2"),
                 caps=(("equality", 45), ("roi_layers", 100), ("training", 200), ("amp", 30), ("torchrun", 150))),
    "cpu": Mode("cpu", 3600.0, (240, 320), CPU_REDUCED, COCO_CLASSES, timing_repeats=2, random_rois=128, iterations=4,
                warmup=1, amp_steps=3, smoke=("data.num_train=8", "data.num_val=4", "train.max_iter=2",
                                              "train.batch_size=2", "train.num_workers=1"),
                caps=(("equality", 300), ("roi_layers", 600), ("training", 1800), ("amp", 300), ("torchrun", 600))),
    "tiny": Mode("tiny", 600.0, (48, 64), TINY_MODEL, 5, timing_repeats=1, random_rois=32, iterations=2, warmup=1,
                 amp_steps=2, smoke=("data.num_train=8", "data.num_val=4", "data.image_size=64", "train.max_iter=2",
                                     "train.batch_size=2", "train.num_workers=0"),
                 caps=(("equality", 60), ("roi_layers", 60), ("training", 200), ("amp", 60), ("torchrun", 200))),
}


# ----------------------------------------------------------------------------- budget and rows


class Budget:
    """Wall-clock budget of the whole check."""

    def __init__(self, seconds: float) -> None:
        self.start, self.seconds = time.perf_counter(), seconds

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.start)

    def section_deadline(self, cap: float, reserved: float) -> float:
        """A ``perf_counter`` time: at most ``cap`` seconds from now, leaving ``reserved`` for later sections."""
        return time.perf_counter() + max(0.0, min(cap, self.left() - reserved))


class OutOfTime(Exception):
    """A row started but could not measure anything within its share of the budget."""


def skipped(reason: str, **fields: Any) -> dict[str, Any]:
    return {**fields, "status": "skipped", "reason": reason}


def failed(error: BaseException, **fields: Any) -> dict[str, Any]:
    return {**fields, "status": "failed", "reason": f"{type(error).__name__}: {error}".splitlines()[0][:500],
            "traceback": traceback.format_exc(limit=8)}


def rows_until(deadline: float, rows: list[dict[str, Any]], run: Callable[[dict[str, Any]], dict[str, Any]]
               ) -> Iterator[dict[str, Any]]:
    """``run(row)`` for each row while time is left; rows past the deadline are skipped rows."""
    for row in rows:
        if time.perf_counter() > deadline:
            yield skipped("time budget: this section's share was used up before this row", **row)
            continue
        try:
            yield {**row, "status": "measured", **run(row)}
        except OutOfTime as error:
            yield skipped(str(error), **row)
        except Exception as error:  # one failing row must not cost the rest of the GPU time
            yield failed(error, **row)


def section_status(rows: list[dict[str, Any]]) -> str:
    """``measured`` if every row was, ``failed`` if any failed, ``skipped`` if none ran, else ``partial``."""
    states = {r["status"] for r in rows}
    if "failed" in states:
        return "failed"
    if states == {"measured"}:
        return "measured"
    return "skipped" if states <= {"skipped"} else "partial"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------- memory


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        match = re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.MULTILINE)
    if match is None:
        raise OSError(f"/proc/self/status has no {field}")
    return int(match.group(1))


def memory_method(device: torch.device) -> str:
    if device.type == "cuda":
        return "cuda: torch.cuda.max_memory_allocated during the block, minus memory_allocated before it"
    threshold = os.environ.get("MALLOC_MMAP_THRESHOLD_")
    return ("cpu: peak RSS (VmHWM, reset through /proc/self/clear_refs) during the block minus RSS before it, "
            + (f"glibc MALLOC_MMAP_THRESHOLD_={threshold} (large blocks unmapped on free, RSS follows live memory)"
               if threshold else "glibc's default heap (freed blocks may be reused unseen: a lower bound)"))


class PeakMemory:
    """Peak memory (MiB) a ``with`` block adds over what was live when it started; ``mib`` None if not measurable."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.mib: float | None = None
        self.error: str | None = None

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            sync(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return self
        try:
            with contextlib.suppress(OSError, AttributeError):
                ctypes.CDLL("libc.so.6").malloc_trim(0)
            self.base = _status_kib("VmRSS")
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")  # resets VmHWM to the current RSS
        except OSError as error:
            self.error = f"not measured: {error}"
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.device.type == "cuda":
            sync(self.device)
            self.mib = (torch.cuda.max_memory_allocated(self.device) - self.base) / 2**20
        elif self.error is None:
            with contextlib.suppress(OSError):
                self.mib = (_status_kib("VmHWM") - self.base) / 2**10


# ----------------------------------------------------------------------------- the presets' shapes


@dataclass(frozen=True)
class Shape:
    """One RoI call of a preset: its feature maps, output size and number of RoIs."""

    key: str  # e.g. r50_c4/box
    channels: int
    output: int
    rois: int
    levels: tuple[tuple[str, int], ...]  # (feature map name, stride), finest first
    batch_hw: tuple[int, int]  # the padded image batch the maps come from

    @property
    def multi_level(self) -> bool:
        return len(self.levels) > 1

    def describe(self) -> dict[str, Any]:
        maps = {name: [math.ceil(self.batch_hw[0] / s), math.ceil(self.batch_hw[1] / s)] for name, s in self.levels}
        return {"shape": self.key, "channels": self.channels, "output": self.output, "rois": self.rois,
                "strides": [s for _, s in self.levels], "maps_hw": maps, "images": IMAGES_PER_DEVICE}


def preset_settings(preset: str, mode: Mode, roi: str = "align_avg", extra: tuple[str, ...] = ()) -> Any:
    return resolve(compose_config([f"model={preset}", f"roi={roi}", *mode.model_overrides, *extra]))


def preset_shapes(preset: str, mode: Mode) -> list[Shape]:
    """The box and mask RoI calls of ``preset``, read off the built model (CPU) at ``mode``'s sizes."""
    settings = preset_settings(preset, mode)
    model = build_model(settings.model, settings.roi, num_classes=mode.classes).eval()
    images = [torch.zeros(3, *mode.image_hw) for _ in range(IMAGES_PER_DEVICE)]
    with torch.no_grad():
        batch = model.transform(images)[0].tensors
        probe = model.backbone(torch.zeros(1, 3, 256, 256))
    if isinstance(probe, torch.Tensor):  # one map (C4, C5): MaskRCNN names it "0"
        probe = {"0": probe}
    batch_hw = (int(batch.shape[-2]), int(batch.shape[-1]))
    heads = model.roi_heads
    box_rois = heads.fg_bg_sampler.batch_size_per_image * IMAGES_PER_DEVICE
    mask_rois = max(1, int(box_rois * heads.fg_bg_sampler.positive_fraction))  # masks: positive RoIs only (at most)
    shapes = []
    for head, pooler, rois in (("box", heads.box_roi_pool, box_rois), ("mask", heads.mask_roi_pool, mask_rois)):
        names = list(pooler.featmap_names)
        levels = tuple((name, round(256 / probe[name].shape[-1])) for name in names)
        shapes.append(Shape(f"{preset}/{head}", int(probe[names[0]].shape[1]), int(pooler.output_size[0]), rois,
                            levels, batch_hw))
    return shapes


def make_inputs(shape: Shape, device: torch.device, seed: int = 0, awkward: int = 0
                ) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    """Feature maps and per-image boxes: log-uniform sizes 16-512 px as an RPN emits, or ``awkward`` random ones."""
    g = torch.Generator().manual_seed(seed)
    height, width = shape.batch_hw
    features = {name: torch.randn(IMAGES_PER_DEVICE, shape.channels, math.ceil(height / s), math.ceil(width / s),
                                  generator=g) for name, s in shape.levels}
    count = awkward or shape.rois
    per_image = [count // IMAGES_PER_DEVICE + (i < count % IMAGES_PER_DEVICE) for i in range(IMAGES_PER_DEVICE)]
    boxes = []
    for n in per_image:
        if awkward:  # off the map, zero-size, slightly reversed, huge
            xy = torch.rand(n, 2, generator=g) * torch.tensor([width * 1.2, height * 1.2]) - torch.tensor([width, height]) * 0.1
            wh = torch.rand(n, 2, generator=g) * torch.tensor([width, height]) * 0.8
            wh[: n // 8] = 0
            wh[n // 8: n // 4] *= -0.05
        else:
            wh = torch.exp(torch.empty(n, 2).uniform_(math.log(16.0), math.log(min(512.0, 0.9 * min(height, width))),
                                                       generator=g))
            xy = torch.rand(n, 2, generator=g) * (torch.tensor([width, height]) - wh)
        boxes.append(torch.cat([xy, xy + wh], dim=1).to(device))
    return {k: v.to(device) for k, v in features.items()}, boxes


def roi_tensor(boxes: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([torch.cat([torch.full((len(b), 1), float(i), device=b.device), b], dim=1)
                      for i, b in enumerate(boxes)])


# ----------------------------------------------------------------------------- RoI implementations


#: torchvision's kernels by name: (function or pooler, the geometry it computes).
TORCHVISION: dict[str, dict[str, Any]] = {
    "tv_roi_pool": {"method": "pool", "agg": "max"},
    "tv_roi_align": {"method": "align", "agg": "avg", "sampling_ratio": 2, "aligned": False, "layout": "center"},
    "tv_roi_align_aligned": {"method": "align", "agg": "avg", "sampling_ratio": 2, "aligned": True, "layout": "center"},
    "tv_roi_align_aligned_adaptive": {"method": "align", "agg": "avg", "sampling_ratio": 0, "aligned": True,
                                      "layout": "center"},
}


def roi_configs() -> dict[str, RoISettings]:
    """Every ``configs/roi/*.yaml`` as settings, then every other registered layer and aggregation at its paper settings."""
    out = {}
    for path in sorted((CONFIG_DIR / "roi").glob("*.yaml")):
        out[path.stem] = resolve(compose_config([f"roi={path.stem}"])).roi
    covered = {(s.method, s.agg) for s in out.values()}
    for method, agg in variants():
        if (method, agg) not in covered:
            out[f"{method}_{agg}"] = RoISettings(method=method, agg=agg, **paper_geometry(method))
    return out


def implementation(impl: str, roi: RoISettings | None, shape: Shape
                   ) -> Callable[[dict[str, torch.Tensor], list[torch.Tensor]], torch.Tensor]:
    """``f(features, boxes) -> [K, C, h, w]`` of ours (``roi`` given) or of a torchvision kernel, for ``shape``."""
    names = [name for name, _ in shape.levels]
    image_shapes = [shape.batch_hw] * IMAGES_PER_DEVICE
    if shape.multi_level:
        if impl == "ours":
            assert roi is not None
            pooler: Any = RoIPooler(names, shape.output, **roi.layer_args())
        elif impl == "tv_roi_align":
            pooler = MultiScaleRoIAlign(names, shape.output, 2)
        else:
            raise ValueError(f"{impl} has no multi-level form")
        return lambda features, boxes: pooler(features, boxes, image_shapes)
    (name, stride), scale = shape.levels[0], 1.0 / shape.levels[0][1]
    if impl == "ours":
        assert roi is not None
        layer = roi.layer_args()  # method, agg and the geometry, completed (not None) by RoISettings
        return lambda f, b: extract(f[name], roi_tensor(b), output_size=shape.output, spatial_scale=scale, **layer)
    if impl == "tv_roi_pool":
        return lambda f, b: roi_pool(f[name], roi_tensor(b), shape.output, scale)
    geometry = TORCHVISION[impl]
    return lambda f, b: roi_align(f[name], roi_tensor(b), shape.output, scale, geometry["sampling_ratio"],
                                  geometry["aligned"])


def forward_backward(fn: Callable[..., torch.Tensor], features: dict[str, torch.Tensor], boxes: list[torch.Tensor],
                     grad_seed: int = 2) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Output and feature gradients of one call, all on the CPU."""
    x = {k: v.detach().clone().requires_grad_() for k, v in features.items()}
    y = fn(x, boxes)
    grad_out = torch.randn(y.shape, generator=torch.Generator().manual_seed(grad_seed)).to(y.device, y.dtype)
    grads = torch.autograd.grad(y, list(x.values()), grad_out, allow_unused=True)
    return y.detach().cpu(), {k: (g if g is not None else torch.zeros_like(x[k])).cpu() for k, g in zip(x, grads)}


def compare(reference: tuple[torch.Tensor, dict[str, torch.Tensor]], other: tuple[torch.Tensor, dict[str, torch.Tensor]]
            ) -> dict[str, Any]:
    (y0, g0), (y1, g1) = reference, other
    grad_err = max(float((g1[k] - g0[k]).abs().max()) for k in g0)
    return {"max_abs_err_forward": float((y1 - y0).abs().max()) if y0.numel() else 0.0,
            "max_abs_err_backward": grad_err,
            "within_tolerance": bool(torch.allclose(y1, y0, **OUTPUT_TOL)
                                     and all(torch.allclose(g1[k], g0[k], **GRAD_TOL) for k in g0))}


# ----------------------------------------------------------------------------- section: equality


def check_equality(device: torch.device, mode: Mode, shapes: list[Shape], rois: dict[str, RoISettings],
                   deadline: float) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    single = [s for s in shapes if not s.multi_level]
    for shape in single:
        for tv, geometry in TORCHVISION.items():
            rows.append({"compare": "ours vs torchvision", "shape": shape.key, "boxes": "rpn-like", "ours": geometry,
                         "reference": tv})
    if single:
        first = single[0]
        for tv, geometry in TORCHVISION.items():
            rows.append({"compare": "ours vs torchvision", "shape": first.key, "boxes": f"random awkward x{mode.random_rois}",
                         "ours": geometry, "reference": tv})
    for shape in (s for s in shapes if s.multi_level):
        rows.append({"compare": "ours vs torchvision", "shape": shape.key, "boxes": "rpn-like",
                     "ours": TORCHVISION["tv_roi_align"], "reference": "torchvision MultiScaleRoIAlign"})
    cross = []
    if device.type == "cuda":
        # The smallest single-map call: the CPU side of each row must fit the section's share too.
        target = min(single or shapes, key=lambda s: s.rois * s.channels * s.output**2)
        cross = [{"compare": "device vs cpu", "shape": target.key, "boxes": boxes, "ours": roi_name, "reference": "cpu"}
                 for boxes in ("rpn-like", f"random awkward x{mode.random_rois}") for roi_name in rois]
    by_key = {s.key: s for s in shapes}

    def run(row: dict[str, Any]) -> dict[str, Any]:
        shape = by_key[row["shape"]]
        awkward = mode.random_rois if row["boxes"].startswith("random") else 0
        if row["compare"] == "device vs cpu":
            features, boxes = make_inputs(shape, torch.device("cpu"), awkward=awkward, seed=1)
            fn = implementation("ours", rois[row["ours"]], shape)
            on_cpu = forward_backward(fn, features, boxes)
            on_device = forward_backward(fn, {k: v.to(device) for k, v in features.items()}, [b.to(device) for b in boxes])
            return compare(on_cpu, on_device)
        features, boxes = make_inputs(shape, device, awkward=awkward, seed=1)
        ours = RoISettings(**{"sampling_ratio": 2, "aligned": False, "layout": "center", **row["ours"]})
        reference_impl = "tv_roi_align" if shape.multi_level else row["reference"]
        theirs = forward_backward(implementation(reference_impl, None, shape), features, boxes)
        return compare(theirs, forward_backward(implementation("ours", ours, shape), features, boxes))

    result = list(rows_until(deadline, rows + cross, run))
    off = [r for r in result if r["status"] == "measured" and not r["within_tolerance"]]
    status = "failed" if off else section_status(result)
    reason = f"{len(off)} rows beyond tolerance" if off else None
    if device.type != "cuda":
        reason = (reason + "; " if reason else "") + ("device vs cpu rows skipped: the device is the CPU "
                                                      "(ours vs torchvision ran on the CPU)")
    return {"status": status, "reason": reason, "device": str(device), "output_tolerance": OUTPUT_TOL,
            "grad_tolerance": GRAD_TOL, "rows": result}


# ----------------------------------------------------------------------------- section: roi_layers


def count_ops(fn: Callable[[], None], device: torch.device) -> dict[str, int | None]:
    """Ops one call dispatches (``roi/launches.py``: what the RoI layer tests bound), the device
    reads among them, and on CUDA the kernels the profiler sees run."""
    launches = count_launches(fn)
    kernels = None
    if device.type == "cuda":
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            fn()
        kernels = sum(1 for e in prof.events() if str(getattr(e, "device_type", "")).endswith("CUDA")
                      and not e.name.startswith(("cudaLaunch", "cudaMemcpy", "cudaStream")))
    return {"aten_ops": launches.ops, "host_syncs": launches.syncs, "cuda_kernels": kernels}


def time_layers(device: torch.device, mode: Mode, shapes: list[Shape], rois: dict[str, RoISettings],
                deadline: float) -> dict[str, Any]:
    rows = []
    for shape in shapes:
        impls = ["tv_roi_align"] if shape.multi_level else ["tv_roi_align", "tv_roi_pool"]
        rows += [{"shape": shape.key, "impl": impl, "roi": None} for impl in impls]
        rows += [{"shape": shape.key, "impl": "ours", "roi": name} for name in rois]
    by_key = {s.key: s for s in shapes}
    inputs: dict[str, tuple[dict[str, torch.Tensor], list[torch.Tensor]]] = {}

    def run(row: dict[str, Any]) -> dict[str, Any]:
        shape = by_key[row["shape"]]
        if row["shape"] not in inputs:
            inputs.clear()
            inputs[row["shape"]] = make_inputs(shape, device)
        features, boxes = inputs[row["shape"]]
        fn = implementation(row["impl"], rois.get(row["roi"]) if row["roi"] else None, shape)

        def step() -> None:
            x = {k: v.detach().requires_grad_() for k, v in features.items()}
            fn(x, boxes).sum().backward()
            sync(device)

        step()  # warm-up (and lazy initialisation)
        seconds = []
        for _ in range(mode.timing_repeats):
            start = time.perf_counter()
            step()
            seconds.append(time.perf_counter() - start)
        with PeakMemory(device) as peak:
            step()
        return {"ms": round(statistics.median(seconds) * 1e3, 3), "repeats": mode.timing_repeats,
                "peak_mem_mb": None if peak.mib is None else round(peak.mib, 1), **count_ops(step, device)}

    result = list(rows_until(deadline, rows, run))
    inputs.clear()
    for row in result:  # ours over torchvision's align at the same shape (> 1: ours is slower)
        tv = next((r for r in result if r["shape"] == row["shape"] and r["impl"] == "tv_roi_align"
                   and r["status"] == "measured"), None)
        if row["status"] == "measured" and tv:
            row["time_over_tv_roi_align"] = round(row["ms"] / tv["ms"], 3)
    return {"status": section_status(result), "reason": None, "shapes": [s.describe() for s in shapes],
            "memory_method": memory_method(device), "note": "forward+backward of one call, median; ops counted "
            "by torch.profiler: aten ops with no aten parent (forward and autograd backward)", "rows": result}


# ----------------------------------------------------------------------------- section: training


class SyntheticImages(torch.utils.data.Dataset):
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
    path = work / f"trunk_{'x'.join(map(str, backbone.widths or [backbone.depth]))}.pth"
    if not path.exists():
        trunk = resnet_trunk(depth=backbone.depth, widths=backbone.widths, blocks=backbone.blocks, norm="frozen_bn")
        for block in trunk.modules():
            if isinstance(block, (torchvision.models.resnet.Bottleneck, torchvision.models.resnet.BasicBlock)):
                last = block.bn3 if isinstance(block, torchvision.models.resnet.Bottleneck) else block.bn2
                last.weight.data.zero_()
        torch.save(trunk.state_dict(), path)
    return path


def schedule_name() -> str:
    """``paper`` (160k iterations) where configs/train/paper.yaml exists, else ``1x``."""
    return "paper" if (CONFIG_DIR / "train" / "paper.yaml").exists() else "1x"


def paper_training(preset: str, roi: str, device: torch.device, mode: Mode, work: Path, seed: int = 0
                   ) -> tuple[Any, Components]:
    """Settings and components of one row at the paper's training settings (2 images per device)."""
    extra = (f"train={schedule_name()}", f"train.batch_size={IMAGES_PER_DEVICE}", "train.num_workers=0",
             f"device={device.type}", f"seed={seed}")
    weights = trunk_weights_file(preset_settings(preset, mode, roi, extra), work)
    settings = preset_settings(preset, mode, roi, (*extra, f"model.backbone.weights={weights}"))
    images = SyntheticImages(8 * IMAGES_PER_DEVICE, mode.image_hw, mode.classes)
    torch.manual_seed(seed)  # the same initial weights each time a preset is built
    model = build_model(settings.model, settings.roi, num_classes=mode.classes)
    return settings, Components(model, images, images, collate_fn)


def sweep_rows(experiment: str) -> list[str]:
    """The ``roi=`` values of an experiment's sweep."""
    cfg = compose_config([f"experiment={experiment}"], return_hydra_config=True)
    return str(cfg.hydra.sweeper.params["roi"]).split(",")


def training_rows() -> list[dict[str, Any]]:
    """Table 2c (every configs/roi layer on C4), Table 2d's sweep on C5, align_avg on FPN, stock poolers on all three."""
    c4 = sorted(p.stem for p in (CONFIG_DIR / "roi").glob("*.yaml"))
    rows = [{"model": "r50_c4", "roi_config": name} for name in c4]
    rows.append({"model": "r50_c4", "roi_config": STOCK})
    rows += [{"model": "r50_c5", "roi_config": name} for name in sweep_rows("table2d")]
    rows.append({"model": "r50_c5", "roi_config": STOCK})
    rows += [{"model": "r50_fpn", "roi_config": "align_avg"}, {"model": "r50_fpn", "roi_config": STOCK}]
    return rows


def train_steps(training: Any, device: torch.device, mode: Mode, deadline: float) -> dict[str, Any]:
    batches = iter(training.train_batches(0))
    seconds: list[float] = []
    losses: list[float] = []
    for _ in range(mode.iterations):
        if time.perf_counter() > deadline and len(seconds) > mode.warmup:
            break
        images, targets = next(batches)
        sync(device)
        start = time.perf_counter()
        step_losses, _ = training.trainer.step(images, targets)
        sync(device)
        seconds.append(time.perf_counter() - start)
        losses.append(step_losses["loss"])
    measured = seconds[mode.warmup:]
    if not measured:
        raise OutOfTime(f"time budget: only {len(seconds)} iterations (all warm-up) fitted")
    return {"s_per_iter": round(statistics.median(measured), 4), "iterations": len(seconds), "warmup": mode.warmup,
            "truncated_by_budget": len(seconds) < mode.iterations, "losses_finite": all(map(math.isfinite, losses))}


def time_training(device: torch.device, mode: Mode, work: Path, deadline: float) -> dict[str, Any]:
    rows = training_rows()
    left = iter(range(len(rows), 0, -1))

    def run(row: dict[str, Any]) -> dict[str, Any]:
        row_deadline = time.perf_counter() + max(0.0, deadline - time.perf_counter()) / next(left)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        with PeakMemory(device) as peak:
            roi = "align_avg" if row["roi_config"] == STOCK else row["roi_config"]
            settings, components = paper_training(row["model"], roi, device, mode, work)
            if row["roi_config"] == STOCK:
                components = replace(components, model=stock_copy(components.model))  # same weights, stock pooler
            training = build_training(settings.train, components, DistContext(0, 1, device), settings.seed)
            result = train_steps(training, device, mode, row_deadline)
            del training, components
        result.update({
            "roi": STOCK if row["roi_config"] == STOCK else settings.roi.method,
            "variant": None if row["roi_config"] == STOCK else settings.roi.variant_key(),
            "images_per_iter": settings.train.batch_size,
            "amp": str(autocast_dtype(settings.train.amp, device)),
            "peak_mem_mb": None if peak.mib is None else round(peak.mib, 1),
        })
        if not result["losses_finite"]:
            raise FloatingPointError(f"non-finite loss in {result['iterations']} iterations")
        return result

    result = list(rows_until(deadline, rows, run))
    return {"status": section_status(result), "reason": None, "schedule": f"train={schedule_name()}",
            "memory_method": memory_method(device) + "; the block is the row: model built, moved, trained",
            "settings": {"overrides": [f"train={schedule_name()}", f"train.batch_size={IMAGES_PER_DEVICE}",
                                       *mode.model_overrides],
                         "image_before_resize": list(mode.image_hw), "stock": "torchvision MultiScaleRoIAlign "
                         "(sampling_ratio 2, aligned False) as box and mask pooler, same weights as align_avg",
                         "trunk": "random init, loaded as pretrained (frozen BN, stem and res2 as table2c's ImageNet trunk)"},
            "rows": result}


def training_contract(section: dict[str, Any]) -> list[dict[str, Any]]:
    """The top-level ``training`` list: one object per measured row, exactly the contract's keys."""
    keys = ("model", "roi", "variant", "s_per_iter", "images_per_iter", "peak_mem_mb")
    return [{k: row[k] for k in keys} for row in section.get("rows", []) if row["status"] == "measured"]


# ----------------------------------------------------------------------------- section: amp


def fp16_scaler_support(device: torch.device) -> str | None:
    """None if fp16 autocast with a GradScaler works on ``device``; else why not."""
    try:
        scaler = torch.amp.GradScaler(device.type, enabled=True)
        weight = torch.ones(2, 2, device=device, requires_grad=True)
        with torch.autocast(device.type, dtype=torch.float16):
            out = torch.nn.functional.linear(torch.ones(1, 2, device=device), weight)
        if out.dtype != torch.float16:
            return f"autocast on {device.type} gave {out.dtype} for fp16"
        scaler.scale(out.float().sum()).backward()
        optimizer = torch.optim.SGD([weight], lr=0.1)
        scaler.step(optimizer)
        scaler.update()
    except Exception as error:  # torch without CPU fp16 autocast or CPU GradScaler
        return f"torch {torch.__version__} cannot: {type(error).__name__}: {error}".splitlines()[0]
    return None


SCALER_BACKOFF_STEPS = 16  # 2**16 halved 16 times is 1: past that, overflow is not the scale's fault


def amp_run(device: torch.device, mode: Mode, work: Path, dtype: torch.dtype | None, force_scaler: bool,
            deadline: float) -> dict[str, Any]:
    """A few ``Trainer.step`` of r50_c4 (align_max) under ``dtype``; the dtypes the RoI layer sees, the loss scale."""
    settings, components = paper_training("r50_c4", "align_max", device, mode, work)
    training = build_training(settings.train, components, DistContext(0, 1, device), settings.seed)
    if force_scaler:  # the CUDA recipe (fp16 + loss scaling) on a device the engine would run in bf16
        training.state.scaler = torch.amp.GradScaler(device.type, enabled=True)
        training.trainer.amp_dtype = dtype
    seen: set[str] = set()
    hook = cast(MaskRCNN, training.state.model).roi_heads.box_roi_pool.register_forward_hook(
        lambda module, args, out: seen.update({f"features {args[0]['0'].dtype}", f"output {out.dtype}"}))
    trained = [p for p in training.state.model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in trained]
    batches = iter(training.train_batches(0))
    scaler = training.state.scaler
    losses, scales, seconds, skipped_steps = [], [], [], 0
    try:
        # A GradScaler starts at 2**16 and halves on every step whose gradients overflow, skipping
        # that step; how many it skips depends on the hardware's numerics. So the run goes on past
        # ``amp_steps`` until the optimizer has taken a step, for at most SCALER_BACKOFF_STEPS more.
        for i in range(mode.amp_steps + SCALER_BACKOFF_STEPS):
            if (i >= mode.amp_steps and skipped_steps < i) or (i and time.perf_counter() > deadline):
                break
            start = time.perf_counter()
            scale_before = scaler.get_scale() if scaler.is_enabled() else None
            step_losses, _ = training.trainer.step(*next(batches))
            sync(device)
            seconds.append(round(time.perf_counter() - start, 3))
            losses.append(round(step_losses["loss"], 5))
            scales.append(float(scaler.get_scale()) if scaler.is_enabled() else None)
            skipped_steps += scale_before is not None and scaler.get_scale() < scale_before
    finally:
        hook.remove()
    changed = sum(not torch.equal(a, p.detach()) for a, p in zip(before, trained))
    ok = all(map(math.isfinite, losses)) and changed > 0
    return {"status": "measured" if ok else "failed", "reason": None if ok else "non-finite loss or no parameter updated",
            "autocast": str(training.trainer.amp_dtype), "grad_scaler": scaler.is_enabled(),
            "steps": len(losses), "steps_skipped_by_scaler": skipped_steps, "step_s": seconds, "losses": losses,
            "loss_scale": scales, "roi_layer_dtypes": sorted(seen), "params_updated": f"{changed} of {len(trained)} trained tensors"}


def check_amp(device: torch.device, mode: Mode, work: Path, deadline: float) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    engine_dtype = autocast_dtype(True, device)
    try:
        runs["engine"] = {"what": f"the engine's choice on {device.type}", **amp_run(device, mode, work, engine_dtype,
                                                                                     False, deadline)}
    except Exception as error:
        runs["engine"] = failed(error, what=f"the engine's choice on {device.type}")
    if device.type == "cuda":
        runs["fp16_grad_scaler"] = skipped("on CUDA the engine's choice is fp16 + GradScaler: the run above")
    elif time.perf_counter() > deadline:
        runs["fp16_grad_scaler"] = skipped("time budget")
    elif (why := fp16_scaler_support(device)) is not None:
        runs["fp16_grad_scaler"] = skipped(why)
    else:
        try:
            runs["fp16_grad_scaler"] = {"what": "fp16 autocast + torch.amp.GradScaler('cpu') forced (the CUDA recipe)",
                                        **amp_run(device, mode, work, torch.float16, True, deadline)}
        except Exception as error:
            runs["fp16_grad_scaler"] = failed(error)
    states = [r["status"] for r in runs.values()]
    status = "failed" if "failed" in states else "measured" if set(states) == {"measured"} else "partial"
    return {"status": status, "reason": None, "model": "r50_c4, roi=align_max", "runs": runs}


# ----------------------------------------------------------------------------- section: torchrun


def torchrun_train(device: torch.device, mode: Mode, work: Path, deadline: float) -> dict[str, Any]:
    """``torchrun --nproc_per_node=2 -m roi_ablation.train``: train a few iterations, then evaluate."""
    timeout = deadline - time.perf_counter()
    if timeout < 30:
        return skipped(f"time budget: {max(0.0, timeout):.0f} s left, two ranks need about 30 s to start")
    nproc = 2
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    backend = distributed.choose_backend(gpus, nproc, os.environ.get(distributed.BACKEND_ENV) or None)
    weights = trunk_weights_file(preset_settings("r50_c4", mode), work)
    run_dir = work / "torchrun_run"
    overrides = ["model=r50_c4", "roi=align_avg", "data=shapes", f"data.root={work / 'shapes'}",
                 f"train={schedule_name()}", *mode.smoke, *mode.model_overrides, "train.eval_period=0",
                 "train.checkpoint_period=0", "train.log_period=1", "train.vis_images=0", f"device={device.type}",
                 f"model.backbone.weights={weights}", f"hydra.run.dir={run_dir}"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "roi_ablation.train", *overrides]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "ROI_ABLATION_CACHE": str(work / "cache")}
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=work)
    except subprocess.TimeoutExpired:
        return skipped(f"time budget: torchrun did not finish within {timeout:.0f} s")
    wall = round(time.perf_counter() - start, 1)
    logs = "".join(p.read_text(errors="replace") for p in sorted(run_dir.glob("*.log")))
    output = ("--- stdout ---\n" + done.stdout + "\n--- stderr ---\n" + done.stderr).splitlines()
    tail = output if len(output) <= 160 else [*output[:60], f"... ({len(output) - 160} lines) ...", *output[-100:]]
    shown = "torchrun --standalone --nproc_per_node=2 -m roi_ablation.train " + " ".join(
        o for o in overrides if not o.startswith(("data.root=", "model.backbone.weights=", "hydra.run.dir=")))
    result: dict[str, Any] = {"command": shown, "nproc_per_node": nproc, "gpus": gpus, "backend": backend,
                              "returncode": done.returncode, "wall_s": wall}
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.exists():
        return {**result, "status": "failed", "reason": f"torchrun exited with {done.returncode}; no metrics.json",
                "output_tail": tail, "log_tail": logs.splitlines()[-60:]}
    metrics = json.loads(metrics_path.read_text())
    world = re.search(r"device \S+ x(\d+), batch (\d+)", logs + done.stderr + done.stdout)
    result.update({"metrics": {k: metrics.get(k) for k in ("status", "iterations", "segm", "bbox", "train_s", "eval_s",
                                                           "model", "error")},
                   "world_size_logged": int(world.group(1)) if world else None})
    ok = (done.returncode == 0 and metrics.get("status") == "complete" and metrics.get("segm") is not None
          and metrics.get("bbox") is not None and result["world_size_logged"] == nproc)
    return {**result, "status": "measured" if ok else "failed",
            "reason": None if ok else "run not complete, no evaluation, or not 2 ranks (see output_tail)",
            **({} if ok else {"output_tail": tail})}


# ----------------------------------------------------------------------------- report


def _version(dist_name: str) -> str | None:
    try:
        return importlib.metadata.version(dist_name)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(device: torch.device) -> dict[str, Any]:
    cuda = device.type == "cuda"
    return {
        "type": device.type,
        "name": torch.cuda.get_device_name(device) if cuda else f"CPU ({platform.machine()}, {os.cpu_count()} cores, "
                                                               f"{torch.get_num_threads()} torch threads)",
        "count": torch.cuda.device_count() if cuda else None,
        "memory_gib": round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1) if cuda else None,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "python": platform.python_version(),
        "roi_strategy": strategy_for(device),  # roi/ops.py: dense on CUDA; the rehearsal forces it on CPU
    }


def versions() -> dict[str, Any]:
    return {"python": platform.python_version(), "executable": sys.executable, "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "cuda_build": torch.version.cuda,
            **{name: _version(name) for name in ("numpy", "hydra-core", "omegaconf", "antlr4-python3-runtime",
                                                 "pycocotools", "scipy", "tensorboard", "matplotlib")}}


def git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10, cwd=ROOT)
    except OSError:
        return None
    return done.stdout.strip() or None


def markdown(report: dict[str, Any]) -> str:
    env, sections = report["device"], report["sections"]
    lines = [f"# GPU check ({report['mode']}): {env['name']}", "",
             f"{report['date']}, Python {env['python']}, torch {env['torch']}, torchvision {env['torchvision']}, "
             f"CUDA {env['cuda'] or 'none'}, commit {report['git']}; {report['elapsed_s']:.0f} s of a "
             f"{report['budget_s']:.0f} s budget.", ""]
    for key, section in sections.items():
        lines += [f"## {key}: {section['status']} ({section.get('seconds', 0):.0f} s)", ""]
        if section.get("reason"):
            lines += [str(section["reason"]), ""]
        for row in section.get("rows", []):
            if row["status"] != "measured":
                label = " ".join(str(row.get(k)) for k in ("shape", "model", "impl", "roi", "roi_config", "reference")
                                 if row.get(k) is not None)
                lines.append(f"- {label}: {row['status']}: {row['reason']}")
    lines += ["", "## training (the contract)", "", "| model | roi | variant | s/iter | images | peak MiB |",
              "|---|---|---|---|---|---|"]
    for row in report["training"]:
        memory = "n/a" if row["peak_mem_mb"] is None else f"{row['peak_mem_mb']:.0f}"
        lines.append(f"| {row['model']} | {row['roi']} | {row['variant'] or ''} | {row['s_per_iter']:.3f} "
                     f"| {row['images_per_iter']} | {memory} |")
    roi_rows = [r for r in sections.get("roi_layers", {}).get("rows", []) if r["status"] == "measured"]
    if roi_rows:
        lines += ["", "## roi_layers", "", "| shape | impl | roi | ms | x tv align | peak MiB | ops | host syncs | CUDA kernels |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in roi_rows:
            lines.append(f"| {r['shape']} | {r['impl']} | {r['roi'] or ''} | {r['ms']:.2f} | "
                         f"{r.get('time_over_tv_roi_align', '')} | {r['peak_mem_mb']} | {r['aten_ops']} | {r['host_syncs']} | "
                         f"{r['cuda_kernels'] if r['cuda_kernels'] is not None else ''} |")
    return "\n".join(lines)


SECTIONS = ("equality", "roi_layers", "training", "amp", "torchrun")
#: What a later section keeps of the budget while an earlier one runs (30 s unless named): two ranks of
#: train.py need about a minute to start, train and evaluate.
MIN_SECONDS = {"torchrun": 90.0}


def run_check(device: torch.device, mode: Mode, budget_s: float, work: Path, only: tuple[str, ...] = SECTIONS
              ) -> dict[str, Any]:
    """Every section in order, each within its cap and leaving the later sections their caps; the report."""
    budget = Budget(budget_s)
    caps = dict(mode.caps)
    sections: dict[str, Any] = {}
    shared: dict[str, Any] = {}

    def needs_shapes() -> tuple[list[Shape], dict[str, RoISettings]]:
        if "shapes" not in shared:
            shared["shapes"] = [s for preset in PRESETS for s in preset_shapes(preset, mode)]
            shared["rois"] = roi_configs()
        return shared["shapes"], shared["rois"]

    measures: dict[str, Callable[[float], dict[str, Any]]] = {
        "equality": lambda d: check_equality(device, mode, *needs_shapes(), d),
        "roi_layers": lambda d: time_layers(device, mode, *needs_shapes(), d),
        "training": lambda d: time_training(device, mode, work, d),
        "amp": lambda d: check_amp(device, mode, work, d),
        "torchrun": lambda d: torchrun_train(device, mode, work, d),
    }
    for index, key in enumerate(SECTIONS):
        started = time.perf_counter()
        if key not in only:
            sections[key] = skipped(f"not asked for (--sections {','.join(only)})")
        else:
            later = [k for k in SECTIONS[index + 1:] if k in only]
            reserved = sum(min(caps[k], MIN_SECONDS.get(k, 30.0)) for k in later)  # each later section keeps time to run
            try:
                sections[key] = measures[key](budget.section_deadline(caps[key], reserved))
            except Exception as error:
                sections[key] = failed(error)
        sections[key]["seconds"] = round(time.perf_counter() - started, 1)
        print(f"gpu_check: {key} {sections[key]['status']} in {sections[key]['seconds']:.0f} s", file=sys.stderr,
              flush=True)
    return {"schema": SCHEMA, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "mode": mode.name,
            "tiny": mode.name == "tiny", "command": " ".join(["scripts/gpu_check.py", *sys.argv[1:]]),
            "git": git_commit(), "device": environment(device), "versions": versions(), "budget_s": budget_s,
            "elapsed_s": round(budget_s - budget.left(), 1), "sections": sections,
            "training": training_contract(sections["training"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "gpu_check",
                        help="directory for gpu_check.json and gpu_check.md (default: outputs/gpu_check)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--tiny", action="store_true", help="toy sizes (CPU): the same code path in a few minutes")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="wall-clock budget (default: 480 on CUDA, 3600 for the CPU rehearsal, 600 tiny)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--name", default="gpu_check", help="file name of the JSON and Markdown (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available on this machine; "
                     "run --device cpu (the rehearsal) or --device cpu --tiny")
    if args.tiny and args.device == "cuda":
        parser.error("--tiny is the CPU code-path check; use it with --device cpu")
    only = tuple(s for s in args.sections.split(",") if s)
    if unknown := sorted(set(only) - set(SECTIONS)):
        parser.error(f"--sections: unknown {unknown}; valid: {', '.join(SECTIONS)}")
    mode = MODES["tiny" if args.tiny else args.device]
    budget_s = mode.budget_s if args.budget_s is None else args.budget_s
    if budget_s <= 0:
        parser.error(f"--budget-s must be > 0; got {budget_s}")
    device = torch.device("cuda", torch.cuda.current_device()) if args.device == "cuda" else torch.device("cpu")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as work:
        report = run_check(device, mode, budget_s, Path(work), only)
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    page = markdown(report)
    (args.out / f"{args.name}.md").write_text(page + "\n")
    print(page)
    return 1 if any(s["status"] == "failed" for s in report["sections"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
