"""The precision contract: box geometry stays float32 whatever the features' dtype or autocast.

Paper-scale inputs: an 800x1333 image (padded to 800x1344) and boxes up to 1344 px, where
bf16 snaps a corner to 4-8 px and fp16 to 0.5-1 px. The features hold values exactly
representable in the half type, so the float32 computation on them is the exact answer
and the only error allowed is rounding the result once to the half type (relative
``finfo(half).eps``, twice its worst case). A box rounded to the half type moves bins by
whole pixels and fails that by far.
"""

from __future__ import annotations

import pytest
import torch
from roi_cases import NEEDS_CUDA, registered_variants

from roi_ablation.roi import REGISTRY, build_plan, extract
from roi_ablation.roi.poolers import RoIPooler

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support:UserWarning")

IMAGE_SHAPES = [(800, 1333), (800, 1200)]
PADDED = (800, 1344)
HALF_CASES = [pytest.param("cpu", torch.bfloat16, id="cpu-bf16"),
              pytest.param("cuda", torch.float16, id="cuda-fp16", marks=NEEDS_CUDA)]
GEOMETRY = dict(sampling_ratio=2, aligned=True, layout="center")


def _features(shape: tuple[int, ...], half: torch.dtype, device: str, seed: int) -> torch.Tensor:
    """float32 features whose values ``half`` holds exactly."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g).to(half).float().to(device)


def _boxes(n: int, seed: int, device: str) -> torch.Tensor:
    """``[n, 4]`` boxes with fractional corners over the padded image, 16-800 px sides.

    Half the boxes sit at the far right (x up to 1344), where half types are coarsest.
    """
    g = torch.Generator().manual_seed(seed)
    side = torch.exp(torch.empty(n, 2).uniform_(torch.log(torch.tensor(16.0)), torch.log(torch.tensor(800.0)),
                                                generator=g))
    x2 = PADDED[1] - torch.rand(n, generator=g) * torch.where(torch.arange(n) % 2 == 0, 40.0, PADDED[1] - side[:, 0])
    y1 = torch.rand(n, generator=g) * (PADDED[0] - side[:, 1])
    boxes = torch.stack([x2 - side[:, 0], y1, x2, y1 + side[:, 1]], dim=1)
    assert boxes.max() > 1300 and not torch.equal(boxes.bfloat16().float(), boxes)  # the case the test is for
    return boxes.to(device)


def _forward_backward(fn, x: torch.Tensor, half: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Output and gradient of ``fn`` at ``x``, for an output gradient that ``half`` holds exactly."""
    x = x.detach().requires_grad_()
    y = fn(x)
    g = torch.Generator().manual_seed(3)
    grad_out = torch.randn(y.shape, generator=g).to(half).to(y.device, y.dtype)
    (grad,) = torch.autograd.grad(y, x, grad_out)
    return y.detach(), grad


def _assert_half_rounding_only(y: torch.Tensor, grad: torch.Tensor, ref_y: torch.Tensor, ref_grad: torch.Tensor,
                               half: torch.dtype) -> None:
    assert y.dtype == half and grad.dtype == half
    tol = dict(rtol=torch.finfo(half).eps, atol=1e-6)
    torch.testing.assert_close(y.float(), ref_y, **tol)
    torch.testing.assert_close(grad.float(), ref_grad, **tol)


def _layer_kwargs(method: str, agg: str, scale: float) -> dict:
    return dict(method=method, agg=agg, output_size=(7, 7), spatial_scale=scale, **GEOMETRY)


@pytest.mark.parametrize("device,half", HALF_CASES)
@pytest.mark.parametrize("method,agg", registered_variants())
def test_extract_under_autocast_reads_float32_boxes(device, half, method, agg):
    x = _features((2, 4, 50, 84), half, device, seed=1)
    boxes = _boxes(24, seed=2, device=device)
    rois = torch.cat([(torch.arange(24, device=device) % 2).float()[:, None], boxes], dim=1)
    kw = _layer_kwargs(method, agg, 1 / 16)
    ref_y, ref_grad = _forward_backward(lambda f: extract(f, rois, **kw), x, half)
    with torch.autocast(device, dtype=half):
        y, grad = _forward_backward(lambda f: extract(f, rois, **kw), x.to(half), half)
    _assert_half_rounding_only(y, grad, ref_y, ref_grad, half)


def _pooler_case(levels: int, half: torch.dtype, device: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """One stride-16 map (C4), or P2-P5 of an FPN (strides 4-32), for the padded batch."""
    strides = [16] if levels == 1 else [4, 8, 16, 32]
    names = [f"p{i}" for i in range(len(strides))]
    maps = {name: _features((2, 4, PADDED[0] // s, PADDED[1] // s), half, device, seed=10 + i)
            for i, (name, s) in enumerate(zip(names, strides))}
    return maps, names


@pytest.mark.parametrize("device,half", HALF_CASES)
@pytest.mark.parametrize("levels", [1, 4], ids=["single", "fpn"])
@pytest.mark.parametrize("method,agg", registered_variants())
def test_pooler_under_autocast_reads_float32_boxes(device, half, levels, method, agg):
    maps, names = _pooler_case(levels, half, device)
    pooler = RoIPooler(names, 7, method=method, agg=agg, **GEOMETRY)
    boxes = [_boxes(16, seed=20, device=device), _boxes(12, seed=21, device=device)]

    def pool(flat_maps: torch.Tensor) -> torch.Tensor:
        # One leaf for every level: the gradient of all of them in one tensor.
        parts = torch.split(flat_maps, [m.numel() for m in maps.values()])
        levels_in = {name: part.view_as(maps[name]) for name, part in zip(names, parts)}
        return pooler(levels_in, boxes, IMAGE_SHAPES)

    flat = torch.cat([m.reshape(-1) for m in maps.values()])
    ref_y, ref_grad = _forward_backward(pool, flat, half)
    with torch.autocast(device, dtype=half):
        y, grad = _forward_backward(pool, flat.to(half), half)
    _assert_half_rounding_only(y, grad, ref_y, ref_grad, half)


@pytest.mark.parametrize("method", sorted(REGISTRY))
@pytest.mark.parametrize("features_dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_geometry_is_float32_or_float64_as_the_boxes(method, features_dtype):
    rois = torch.tensor([[0, 1000.3, 10.7, 1333.1, 300.9]])
    for boxes_dtype, geometry_dtype in [(torch.float32, torch.float32), (torch.bfloat16, torch.float32),
                                        (torch.float64, torch.float64)]:
        plan = build_plan((1, 1, 50, 84), rois.to(boxes_dtype), method, dtype=features_dtype)
        assert plan.weights.dtype == geometry_dtype
