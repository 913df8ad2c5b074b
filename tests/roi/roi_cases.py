"""Shared inputs of the RoI tests: tiny feature maps and awkward boxes."""

from __future__ import annotations

import pytest
import torch

from roi_ablation.roi import REGISTRY

METHODS = ("pool", "warp", "align")
AGGS = ("max", "avg")
VARIANTS = [(m, a) for m in METHODS for a in AGGS]
SCALES = (1.0, 1 / 16, 1 / 32)  # powers of two: box * scale is exact in float32

NEEDS_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
#: Every comparison with the loop reference or torchvision runs on each (CPU/CUDA pairs).
DEVICES = ("cpu", pytest.param("cuda", marks=NEEDS_CUDA))


def registered_variants() -> list[tuple[str, str]]:
    """(method, agg) of every registered layer and every aggregation it supports."""
    return [(name, agg) for name, spec in REGISTRY.items() for agg in spec.aggs]


def features(shape=(2, 3, 5, 6), seed=0, dtype=torch.float32) -> torch.Tensor:
    """Random features with distinct values (no ties for a max to break)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


def make_rois(height: int, width: int, spatial_scale: float, num_images: int = 2, seed: int = 0,
              num_random: int = 6, reversed_box: bool = False) -> torch.Tensor:
    """``[K, 5]`` float32 RoIs in image pixels for a ``height x width`` feature map.

    Boxes are drawn in cell units and multiplied by the stride (exact for power-of-two
    strides). Besides random boxes (some crossing the border) there are: boxes entirely
    outside the map on every side, zero-size boxes (inside and on the border), boxes
    whose mapped corners are exact halves (RoIPool/RoIWarp round them half away from
    zero, where ``torch.round`` would round 2.5 to 2), a box covering the whole map and
    more, and optionally a reversed box (x2 < x1, y2 < y1).
    """
    g = torch.Generator().manual_seed(seed)
    stride = 1.0 / spatial_scale
    r = torch.rand(num_random, 4, generator=g, dtype=torch.float64)
    x1 = -1.5 + r[:, 0] * (width + 1.0)
    y1 = -1.5 + r[:, 1] * (height + 1.0)
    x2 = x1 + r[:, 2] * 0.8 * width
    y2 = y1 + r[:, 3] * 0.8 * height
    boxes = torch.stack([x1, y1, x2, y2], dim=1).tolist()
    boxes += [
        [width + 1.5, 0.5, width + 3.0, 2.0],  # right of the map, beyond one cell
        [-4.0, -3.5, -1.75, -1.25],  # above-left of the map
        [0.25, height + 1.25, 2.5, height + 2.5],  # below the map
        [width - 0.75, height - 0.5, width + 0.5, height + 0.25],  # straddles the far corner
        [1.75, 2.25, 1.75, 2.25],  # zero size, inside
        [0.0, 0.0, 0.0, 0.0],  # zero size at the origin
        [width, height, width, height],  # zero size on the far border
        [0.5, 1.5, 2.5, 3.5],  # exact halves: 0.5->1, 1.5->2, 2.5->3, 3.5->4
        [-0.5, -1.5, 1.5, 2.5],  # negative halves round away from zero: -0.5->-1, -1.5->-2
        [-2.0, -1.0, width + 1.0, height + 2.0],  # larger than the map
    ]
    if reversed_box:
        boxes.append([3.25, 2.5, 1.0, 0.75])
    coords = torch.tensor(boxes, dtype=torch.float32) * stride
    batch = torch.randint(num_images, (coords.shape[0], 1), generator=g).to(torch.float32)
    return torch.cat([batch, coords], dim=1)
