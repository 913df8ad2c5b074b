"""The contract equalities with torchvision's kernels (docs/design.md): float32, tolerance 1e-5.

- ``align`` + ``avg`` + ``layout="center"`` == ``torchvision.ops.roi_align`` (every
  ``aligned`` / ``sampling_ratio`` combination), forward and backward;
- ``pool`` + ``max`` == ``torchvision.ops.roi_pool``, forward and backward.

Both on the CPU and, where there is one, on CUDA against torchvision's CUDA kernels.
"""

from __future__ import annotations

import pytest
import torch
from roi_cases import DEVICES, SCALES, features, make_rois
from torchvision.ops import roi_align, roi_pool

from roi_ablation.roi import extract

TOL = dict(rtol=1e-5, atol=1e-5)
pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support:UserWarning")


def _forward_backward(fn, x: torch.Tensor, grad_out: torch.Tensor | None = None):
    x = x.detach().clone().requires_grad_()
    y = fn(x)
    if grad_out is None:
        grad_out = torch.randn(y.shape, generator=torch.Generator().manual_seed(7), dtype=y.dtype).to(y.device)
    (g,) = torch.autograd.grad(y, x, grad_out)
    return y.detach(), g, grad_out


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("aligned", (True, False))
@pytest.mark.parametrize("sampling_ratio", (0, 1, 2, 3))
def test_align_avg_center_equals_torchvision_roi_align(scale, aligned, sampling_ratio, device):
    x = features(shape=(2, 4, 7, 9), seed=11).to(device)
    rois = make_rois(7, 9, scale, seed=11, num_random=12, reversed_box=True).to(device)
    out_size = (3, 4)
    y, g, grad_out = _forward_backward(
        lambda f: extract(f, rois, "align", "avg", out_size, scale, sampling_ratio, aligned, "center"), x)
    y_tv, g_tv, _ = _forward_backward(
        lambda f: roi_align(f, rois, out_size, scale, sampling_ratio, aligned), x, grad_out)
    torch.testing.assert_close(y, y_tv, **TOL)
    torch.testing.assert_close(g, g_tv, **TOL)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("out_size", [(2, 3), (1, 1), (4, 4)])
def test_pool_max_equals_torchvision_roi_pool(scale, out_size, device):
    x = features(shape=(2, 4, 7, 9), seed=12).to(device)
    rois = make_rois(7, 9, scale, seed=12, num_random=12, reversed_box=True).to(device)
    y, g, grad_out = _forward_backward(lambda f: extract(f, rois, "pool", "max", out_size, scale), x)
    y_tv, g_tv, _ = _forward_backward(lambda f: roi_pool(f, rois, out_size, scale), x, grad_out)
    torch.testing.assert_close(y, y_tv, **TOL)
    torch.testing.assert_close(g, g_tv, **TOL)


def test_half_rounding_cases_are_really_exercised():
    """The .5 cases above differ between C's round and torch.round (half to even)."""
    for scale in SCALES:
        scaled = make_rois(7, 9, scale)[:, 1:] * scale
        away = torch.sign(scaled) * torch.floor(scaled.abs() + 0.5)
        assert (away != torch.round(scaled)).any()


@pytest.mark.parametrize("device", DEVICES)
def test_pool_rounds_like_c_round_at_the_float32_edge(device):
    """C's ``round(0.49999997f)`` is 0; ``floor(x + 0.5)`` in float32 gives 1 there.

    0.49999997 = 0.5 - 2**-25 is the float32 just below 0.5: adding 0.5 is inexact and
    rounds to 1.0, so a ``sign(x) * floor(|x| + 0.5)`` rounding moves the box one cell.
    """
    x = -torch.arange(16.0, device=device).reshape(1, 1, 4, 4)  # largest value at cell (0, 0)
    edge = 0.5 - 2.0**-25
    rois = torch.tensor([[0, edge, edge, 2.0, 2.0]], dtype=torch.float32, device=device)
    expected = roi_pool(x, rois, (1, 1), 1.0)
    assert expected.item() == 0.0  # torchvision starts the box at cell 0
    torch.testing.assert_close(extract(x, rois, "pool", "max", 1, 1.0), expected, rtol=0, atol=0)
