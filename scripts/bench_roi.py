"""Benchmark the RoI layers against torchvision's kernels at Mask R-CNN workloads.

Every registered layer, with every aggregation it supports, at the settings the paper ran
it with (its registry entry's ``paper``; RoIPool reads none). Forward + backward, median of ``--repeats`` runs after a warm-up, ours and torchvision's
interleaved in one process so both see the same machine state. Peak memory is measured
per (implementation, workload) in a fresh subprocess, after a warm-up step: on CPU the
peak RSS of one more step (``VmHWM``, reset through ``/proc/self/clear_refs``) minus the
RSS before it, with glibc's mmap threshold fixed (every large block is mapped on
allocation and unmapped on free, so RSS follows live memory) and free heap returned to
the OS first (``malloc_trim``); on GPU the rise of ``torch.cuda.max_memory_allocated``
over ``memory_allocated``.

    python scripts/bench_roi.py                 # CPU, all workloads, with memory
    python scripts/bench_roi.py --device cuda   # GPU
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, TypedDict, cast

import torch
from torchvision.ops import roi_align, roi_pool

from roi_ablation.roi import REGISTRY, extract


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


class Geometry(TypedDict):
    """The geometry arguments of ``extract`` / ``RoISettings``."""

    sampling_ratio: int
    aligned: bool
    layout: str


#: Geometry of a layer whose entry states no paper setting: the 2017 RoIAlign's.
DEFAULT_GEOMETRY: Geometry = {"sampling_ratio": 2, "aligned": False, "layout": "center"}


def variants() -> list[tuple[str, str]]:
    """(method, agg) of every registered layer and aggregation it supports."""
    return [(name, agg) for name, spec in REGISTRY.items() for agg in spec.aggs]


def paper_geometry(method: str) -> Geometry:
    """``sampling_ratio`` / ``aligned`` / ``layout`` of ``method`` as the paper ran it."""
    # register() keeps `paper` to geometry keys, so the merge is a full Geometry
    return cast(Geometry, {**DEFAULT_GEOMETRY, **REGISTRY[method].paper})


def make_inputs(w: Workload, device: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and proposals with log-uniform sizes 16-512 px, as an RPN emits them."""
    g = torch.Generator().manual_seed(seed)
    h, wd = w.image_hw[0] // w.stride, w.image_hw[1] // w.stride
    features = torch.randn(w.images, w.channels, h, wd, generator=g)
    size = torch.exp(torch.empty(w.rois, 2).uniform_(float(torch.log(torch.tensor(16.0))), float(torch.log(torch.tensor(512.0))), generator=g))
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
        return extract(x, rois, method, agg, w.output, scale, **paper_geometry(method))

    def step() -> None:
        x = features.detach().requires_grad_()
        forward(x).sum().backward()
        if x.is_cuda:
            torch.cuda.synchronize()

    return step


def _status_kib(field: str) -> int:
    """A ``VmRSS``/``VmHWM``-style field of ``/proc/self/status``, in KiB."""
    with open("/proc/self/status") as status:
        match = re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"/proc/self/status has no {field}")
    return int(match.group(1))


def step_peak_mib(impl: str, workload: str, device: str) -> float:
    """Peak memory (MiB) that one forward+backward adds to the live memory before it.

    Run in a fresh process (``--memory-probe``): inputs are created and one warm-up step
    runs first, so lazy initialisation (thread pools, kernels) is not counted.
    """
    w = WORKLOADS[workload]
    features, rois = make_inputs(w, device)
    step = runner(impl, w, features, rois)
    step()
    if features.is_cuda:
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    base = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM to the current RSS
    step()
    return (_status_kib("VmHWM") - base) / 2**10


def measure_memory(impl: str, workload: str, device: str, threads: int) -> float:
    """``step_peak_mib`` in a fresh subprocess (NaN if the probe fails, e.g. not on Linux)."""
    command = [sys.executable, __file__, "--memory-probe", impl, workload, "--device", device,
               "--threads", str(threads)]
    # A fixed mmap threshold maps every large block on allocation and unmaps it on free,
    # so RSS follows live memory instead of glibc's heap caching heuristics.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        print(f"memory probe {impl} {workload} failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return float("nan")
    return float(out.stdout.strip().splitlines()[-1])


def median_times(steps: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median seconds of each step; one warm-up each, then the steps interleaved."""
    times: dict[str, list[float]] = {impl: [] for impl in steps}
    for step in steps.values():
        step()
    for _ in range(repeats):
        for impl, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[impl].append(time.perf_counter() - t0)
    return {impl: statistics.median(t) for impl, t in times.items()}


def print_table(med: dict[str, float], mem: dict[str, float]) -> None:
    """Times and peak memory, as ratios to torchvision's RoIAlign and to our align/avg."""
    print(f"{'impl':<16}{'fwd+bwd ms':>11}{'tv_align/x':>11}{'x/our align avg':>16}"
          f"{'peak MiB':>10}{'mem/tv_align':>13}")
    for impl, seconds in med.items():
        peak = mem.get(impl, float("nan"))
        mem_ratio = peak / mem["tv_align"] if mem.get("tv_align", 0) > 0 else float("nan")
        print(f"{impl:<16}{seconds * 1e3:>11.1f}{med['tv_align'] / seconds:>10.2f}x"
              f"{seconds / med['ours:align:avg']:>15.2f}x{peak:>10.0f}{mem_ratio:>13.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="intra-op threads (default: %(default)s)")
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--memory-probe", nargs=2, metavar=("IMPL", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.memory_probe:
        impl, workload = args.memory_probe
        print(step_peak_mib(impl, workload, args.device))
        return 0
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, "
          f"median of {args.repeats}")
    impls = ["tv_align", "tv_pool"] + [f"ours:{m}:{a}" for m, a in variants()]
    for key in args.workloads:
        w = WORKLOADS[key]
        features, rois = make_inputs(w, args.device)
        med = median_times({impl: runner(impl, w, features, rois) for impl in impls}, args.repeats)
        mem = {} if args.no_memory else {impl: measure_memory(impl, key, args.device, args.threads) for impl in impls}
        print(f"\n## {w.name}: {w.images} images, map {tuple(features.shape[2:])}, {w.rois} RoIs, stride {w.stride}")
        print_table(med, mem)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
