"""Benchmark the RoI layers against torchvision's kernels at Mask R-CNN workloads.

Forward + backward, median of ``--repeats`` runs after a warm-up, ours and torchvision's
interleaved in one process so both see the same machine state. Peak memory is measured
per (implementation, workload) in a fresh subprocess as the rise of peak RSS (CPU) or of
``torch.cuda.max_memory_allocated`` (GPU) over the state with inputs allocated.

    python scripts/bench_roi.py                 # CPU, all workloads, with memory
    python scripts/bench_roi.py --device cuda   # GPU
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torchvision.ops import roi_align, roi_pool

from roi_ablation.roi import extract


@dataclass(frozen=True)
class Workload:
    name: str
    channels: int
    rois: int
    output: int
    stride: int
    images: int = 2
    image_hw: tuple[int, int] = (800, 1088)  # padded batch of the paper's 800 px images


WORKLOADS = {
    "box-256": Workload("box head, FPN-like C=256, 7x7", 256, 512, 7, 16),
    "box-1024": Workload("box head, C4 C=1024, 7x7", 1024, 512, 7, 16),
    "mask-256": Workload("mask head, C=256, 14x14", 256, 128, 14, 16),
    "box-2048-s32": Workload("stride 32, C5 C=2048, 7x7", 2048, 512, 7, 32),
}
VARIANTS = [(m, a) for m in ("pool", "warp", "align") for a in ("avg", "max")]
PAPER_PRESET = {"pool": {}, "warp": {"layout": "corner"}, "align": {"layout": "center"}}


def make_inputs(w: Workload, device: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and proposals with log-uniform sizes 16-512 px, as an RPN emits them."""
    g = torch.Generator().manual_seed(seed)
    h, wd = w.image_hw[0] // w.stride, w.image_hw[1] // w.stride
    features = torch.randn(w.images, w.channels, h, wd, generator=g)
    size = torch.exp(torch.empty(w.rois, 2).uniform_(torch.log(torch.tensor(16.0)), torch.log(torch.tensor(512.0)), generator=g))
    xy = torch.rand(w.rois, 2, generator=g) * (torch.tensor([w.image_hw[1], w.image_hw[0]]) - size)
    batch = torch.randint(0, w.images, (w.rois, 1), generator=g).float()
    rois = torch.cat([batch, xy, xy + size], dim=1)
    return features.to(device), rois.to(device)


def runner(impl: str, w: Workload, features: torch.Tensor, rois: torch.Tensor) -> Callable[[], None]:
    """One forward + backward of ``impl``: 'tv_align', 'tv_pool' or 'ours:<method>:<agg>'."""
    scale = 1.0 / w.stride

    def forward(x: torch.Tensor) -> torch.Tensor:
        if impl == "tv_align":
            return roi_align(x, rois, w.output, scale, 2, False)
        if impl == "tv_pool":
            return roi_pool(x, rois, w.output, scale)
        _, method, agg = impl.split(":")
        return extract(x, rois, method, agg, w.output, scale, 2, False, PAPER_PRESET[method].get("layout", "center"))

    def step() -> None:
        x = features.detach().requires_grad_()
        forward(x).sum().backward()
        if x.is_cuda:
            torch.cuda.synchronize()

    return step


def measure_memory(impl: str, workload: str, device: str) -> float:
    """Peak memory (MiB) one forward+backward adds over its inputs, in a fresh process."""
    code = (
        "import json,sys,resource,torch; sys.argv=['x']; import scripts.bench_roi as b\n"
        f"w=b.WORKLOADS[{workload!r}]; f,r=b.make_inputs(w,{device!r}); step=b.runner({impl!r},w,f,r)\n"
        "cuda=f.is_cuda\n"
        "if cuda: torch.cuda.synchronize(); base=torch.cuda.memory_allocated(); torch.cuda.reset_peak_memory_stats()\n"
        "else: base=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss*1024\n"
        "step()\n"
        "peak=torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss*1024\n"
        "print(json.dumps((peak-base)/2**20))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, median of {args.repeats}")
    for key in args.workloads:
        w = WORKLOADS[key]
        features, rois = make_inputs(w, args.device)
        impls = ["tv_align", "tv_pool"] + [f"ours:{m}:{a}" for m, a in VARIANTS]
        steps = {impl: runner(impl, w, features, rois) for impl in impls}
        times: dict[str, list[float]] = {impl: [] for impl in impls}
        for step in steps.values():
            step()  # warm-up
        for _ in range(args.repeats):
            for impl, step in steps.items():  # interleaved
                t0 = time.perf_counter()
                step()
                times[impl].append(time.perf_counter() - t0)
        med = {impl: statistics.median(t) for impl, t in times.items()}
        mem = {} if args.no_memory else {impl: measure_memory(impl, key, args.device) for impl in impls}
        print(f"\n## {w.name}: {w.images} images, map {tuple(features.shape[2:])}, {w.rois} RoIs, stride {w.stride}")
        print(f"{'impl':<16}{'fwd+bwd ms':>11}{'tv_align/x':>11}{'x/our align avg':>16}{'peak MiB':>10}{'mem/tv_align':>13}")
        for impl in impls:
            speed = med["tv_align"] / med[impl]
            rel = med[impl] / med["ours:align:avg"]
            peak = mem.get(impl, float("nan"))
            mem_ratio = peak / mem["tv_align"] if mem and mem["tv_align"] > 0 else float("nan")
            print(f"{impl:<16}{med[impl] * 1e3:>11.1f}{speed:>10.2f}x{rel:>15.2f}x{peak:>10.0f}{mem_ratio:>13.2f}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
