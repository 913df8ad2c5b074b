"""Every built-in layer against the slow loop reference (tests/roi/roi_reference.py).

Forward values and gradients, float32, tolerance 1e-5, over spatial scales, sampling
ratios (fixed and adaptive), aligned or not, the three sample layouts, and boxes that
leave the map, have zero size or round at exact halves; on the CPU and, where there is
one, on CUDA (the reference always runs on the CPU).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from roi_cases import AGGS, DEVICES, SCALES, features, make_rois
from roi_reference import reference_roi

from roi_ablation.roi import extract

OUTPUT = (2, 3)  # non-square, so a swapped h/w cannot pass
TOL = dict(rtol=1e-5, atol=1e-5)
pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support:UserWarning")

BILINEAR_CASES = list(itertools.product(("warp", "align"), AGGS, SCALES, (1, 2, 0), (True, False),
                                        ("center", "interior", "corner")))


def _compare(method, agg, scale, sampling_ratio=2, aligned=True, layout="center", seed=0, output=OUTPUT, device="cpu"):
    x = features(seed=seed)
    rois = make_rois(x.shape[2], x.shape[3], scale, num_images=x.shape[0], seed=seed)
    on_device = x.to(device, copy=True).requires_grad_()
    y = extract(on_device, rois.to(device), method=method, agg=agg, output_size=output, spatial_scale=scale,
                sampling_ratio=sampling_ratio, aligned=aligned, layout=layout)
    grad_out = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed + 1))
    y.backward(grad_out.to(device))
    ref, ref_grad = reference_roi(x.numpy(), rois.numpy(), method, agg, output, scale,
                                  sampling_ratio, aligned, layout, grad_output=grad_out.numpy())
    assert y.shape == ref.shape and y.dtype == torch.float32 and y.device == on_device.device
    torch.testing.assert_close(y.detach().cpu().double(), torch.from_numpy(ref), **TOL)
    torch.testing.assert_close(on_device.grad.cpu().double(), torch.from_numpy(ref_grad), **TOL)
    # The comparison is not vacuous: most bins read something.
    assert np.count_nonzero(ref) > ref.size // 3
    assert np.count_nonzero(ref_grad) > 0


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method,agg,scale,sampling_ratio,aligned,layout", BILINEAR_CASES)
def test_bilinear_layers_match_reference(method, agg, scale, sampling_ratio, aligned, layout, device):
    _compare(method, agg, scale, sampling_ratio, aligned, layout, device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("agg", AGGS)
@pytest.mark.parametrize("scale", SCALES)
def test_pool_matches_reference(agg, scale, device):
    _compare("pool", agg, scale, device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", ("pool", "warp", "align"))
@pytest.mark.parametrize("agg", AGGS)
def test_square_and_single_bin_outputs_match_reference(method, agg, device):
    _compare(method, agg, 1 / 16, output=(3, 3), seed=3, device=device)
    _compare(method, agg, 1 / 16, output=(1, 1), seed=4, sampling_ratio=0, device=device)


@pytest.mark.parametrize("agg", AGGS)
def test_pool_ignores_sampling_arguments(agg):
    x = features()
    rois = make_rois(5, 6, 1 / 16)
    base = extract(x, rois, "pool", agg, OUTPUT, 1 / 16)
    for kwargs in (dict(sampling_ratio=0), dict(aligned=False), dict(layout="corner")):
        torch.testing.assert_close(extract(x, rois, "pool", agg, OUTPUT, 1 / 16, **kwargs), base, rtol=0, atol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_align_max_is_max_of_bilinear_samples(device):
    """mmcv's meaning of RoIAlign-max: interpolate every sample, then take the max.

    One hot cell at (2, 2); the bin's 2x2 samples sit at 1.75 and 2.75 on each axis, so
    they read 0.75*0.75, 0.75*0.25 (twice) and 0.25*0.25 of it. The max is 0.5625, not
    the 1 that a max over the touched cells would give; the mean is 0.25. The gradient
    of the max goes to the first sample's four neighbours only.
    """
    x = torch.zeros(1, 1, 5, 5, dtype=torch.float64, device=device)
    x[0, 0, 2, 2] = 1.0
    x.requires_grad_()
    rois = torch.tensor([[0, 1.25, 1.25, 3.25, 3.25]], dtype=torch.float64, device=device)
    kw = dict(output_size=1, spatial_scale=1.0, sampling_ratio=2, aligned=False, layout="center")
    y_max = extract(x, rois, "align", "max", **kw)
    y_avg = extract(x, rois, "align", "avg", **kw)
    assert y_max.item() == pytest.approx(0.5625, abs=1e-12)
    assert y_avg.item() == pytest.approx(0.25, abs=1e-12)
    y_max.sum().backward()
    expected = torch.zeros(5, 5, dtype=torch.float64)
    expected[1:3, 1:3] = torch.tensor([[0.0625, 0.1875], [0.1875, 0.5625]], dtype=torch.float64)
    torch.testing.assert_close(x.grad[0, 0].cpu(), expected, rtol=0, atol=1e-12)
    ref, _ = reference_roi(x.detach().cpu().numpy(), rois.cpu().numpy(), "align", "max", (1, 1), 1.0, 2, False, "center")
    assert ref.item() == pytest.approx(0.5625, abs=1e-12)


def _round_box(rois: torch.Tensor, scale: float) -> torch.Tensor:
    """``round(box * scale) / scale`` with C's rounding (half away from zero)."""
    scaled = rois[:, 1:].double() * scale
    rounded = torch.sign(scaled) * torch.floor(scaled.abs() + 0.5)
    return torch.cat([rois[:, :1], (rounded / scale).to(rois.dtype)], dim=1)


@pytest.mark.parametrize("agg", AGGS)
@pytest.mark.parametrize("layout", ("center", "interior", "corner"))
@pytest.mark.parametrize("aligned", (True, False))
@pytest.mark.parametrize("scale,sampling_ratio", [(1.0, 2), (1 / 16, 0), (1 / 32, 1)])
def test_warp_is_align_on_rounded_box(agg, layout, aligned, scale, sampling_ratio):
    x = features(seed=5).requires_grad_()
    rois = make_rois(5, 6, scale, seed=5, reversed_box=True)
    rounded = _round_box(rois, scale)
    assert not torch.equal(rounded, rois)  # the rounding does something
    kw = dict(agg=agg, output_size=OUTPUT, spatial_scale=scale, sampling_ratio=sampling_ratio,
              aligned=aligned, layout=layout)
    warp = extract(x, rois, "warp", **kw)
    (g_warp,) = torch.autograd.grad(warp.sum(), x)
    align = extract(x, rounded, "align", **kw)
    (g_align,) = torch.autograd.grad(align.sum(), x)
    torch.testing.assert_close(warp, align, **TOL)
    torch.testing.assert_close(g_warp, g_align, **TOL)
    # ... and warp is not simply align on the unrounded box.
    assert not torch.allclose(warp, extract(x, rois, "align", **kw), **TOL)
