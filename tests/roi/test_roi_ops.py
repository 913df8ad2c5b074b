"""The gather/aggregate stage on awkward plans: huge bins, very uneven bins, many samples.

These go through the public ``extract`` only (the kernels in ops.py are free to change),
and check against torchvision or the loop reference, on the CPU and (where there is one) CUDA.
"""

from __future__ import annotations

import pytest
import torch
from roi_cases import DEVICES
from roi_reference import reference_roi
from torchvision.ops import roi_align, roi_pool

from roi_ablation.roi import extract

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support:UserWarning")
TOL = dict(rtol=1e-5, atol=1e-5)


def _grad(y, x, seed=0):
    grad_out = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=y.dtype).to(y.device)
    (g,) = torch.autograd.grad(y, x, grad_out)
    return g, grad_out


@pytest.mark.parametrize("device", DEVICES)
def test_large_pool_bins_equal_torchvision(device):
    """Bins of hundreds of cells next to one-cell bins, forward and backward."""
    x = torch.randn(2, 4, 40, 48, generator=torch.Generator().manual_seed(31)).to(device).requires_grad_()
    rois = torch.tensor([[0, 0, 0, 47, 39], [1, 3, 2, 45, 37], [0, 10, 10, 10, 10], [1, 20, 5, 22, 6],
                         [0, -5, -5, 60, 50]], dtype=torch.float32, device=device)
    for size in [(1, 1), (2, 3)]:
        y = extract(x, rois, "pool", "max", size, 1.0)
        g, grad_out = _grad(y, x)
        y_tv = roi_pool(x, rois, size, 1.0)
        (g_tv,) = torch.autograd.grad(y_tv, x, grad_out)
        torch.testing.assert_close(y, y_tv, **TOL)
        torch.testing.assert_close(g, g_tv, **TOL)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", ["pool", "align"])
def test_max_over_more_than_256_samples_routes_to_the_right_one(method, device):
    """The winning sample is late in a bin of 400 (pool) / 289 (align) samples."""
    h, w = 20, 20
    ramp = torch.arange(h * w, dtype=torch.float32, device=device).reshape(1, 1, h, w) / (h * w)
    x = ramp.clone().requires_grad_()
    if method == "pool":
        rois = torch.tensor([[0, 0, 0, w - 1, h - 1]], dtype=torch.float32, device=device)
        y = extract(x, rois, "pool", "max", 1, 1.0)
        expected_cell = h * w - 1
    else:  # 17 x 17 samples (adaptive: a 17-cell bin) in one bin, inside the map; the last sample is the largest
        rois = torch.tensor([[0, 0.5, 0.5, 17.5, 17.5]], dtype=torch.float32, device=device)
        y = extract(x, rois, "align", "max", 1, 1.0, sampling_ratio=0, aligned=True, layout="corner")
        expected_cell = 16 * w + 16  # the corner layout's last sample sits on cell (16, 16)
    y.sum().backward()
    assert y.item() == pytest.approx(ramp.reshape(-1)[expected_cell].item(), abs=1e-6)
    assert x.grad.reshape(-1)[expected_cell].item() == pytest.approx(1.0, abs=1e-6)
    assert x.grad.sum().item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("agg", ["max", "avg"])
def test_uneven_adaptive_grids_match_reference(agg, device):
    """One RoI samples 1 point per bin, the next 64: bins of very different sizes in one batch."""
    x = torch.randn(2, 3, 24, 24, generator=torch.Generator().manual_seed(32), dtype=torch.float64).to(device)
    x.requires_grad_()
    rois = torch.tensor([[1, 30, 30, 34, 35], [0, 0, 0, 380, 370], [1, 100, 40, 101, 41], [0, 200, 16, 330, 200],
                         [0, 400, 400, 420, 420]], dtype=torch.float64, device=device)
    y = extract(x, rois, "align", agg, (2, 2), 1 / 8, sampling_ratio=0, aligned=True, layout="center")
    g, grad_out = _grad(y, x, seed=1)
    ref, ref_grad = reference_roi(x.detach().cpu().numpy(), rois.cpu().numpy(), "align", agg, (2, 2), 1 / 8, 0, True,
                                  "center", grad_output=grad_out.cpu().numpy())
    torch.testing.assert_close(y.detach().cpu(), torch.from_numpy(ref), **TOL)
    torch.testing.assert_close(g.cpu(), torch.from_numpy(ref_grad), **TOL)
    if agg == "avg":
        y_tv = roi_align(x, rois, (2, 2), 1 / 8, 0, True)
        torch.testing.assert_close(y, y_tv, **TOL)


@pytest.mark.parametrize("device", DEVICES)
def test_many_channels_and_rois_match_torchvision(device):
    """A realistic-shaped call (more channels, 7x7, many RoIs) agrees with torchvision too."""
    g = torch.Generator().manual_seed(33)
    x = torch.randn(2, 64, 25, 38, generator=g).to(device).requires_grad_()
    xy = torch.rand(200, 2, generator=g) * torch.tensor([600.0, 400.0]) - 20
    wh = torch.rand(200, 2, generator=g) * 300
    rois = torch.cat([torch.randint(2, (200, 1), generator=g).float(), xy, xy + wh], dim=1).to(device)
    y = extract(x, rois, "align", "avg", 7, 1 / 16, 2, True, "center")
    grad, grad_out = _grad(y, x, seed=2)
    y_tv = roi_align(x, rois, 7, 1 / 16, 2, True)
    (grad_tv,) = torch.autograd.grad(y_tv, x, grad_out)
    torch.testing.assert_close(y, y_tv, **TOL)
    torch.testing.assert_close(grad, grad_tv, rtol=1e-4, atol=1e-4)
