"""Gradients: exact (gradcheck, float64) for every variant, arg-max routing, determinism; CPU and CUDA."""

from __future__ import annotations

import pytest
import torch
from roi_cases import DEVICES, features, make_rois, registered_variants

from roi_ablation.roi import build_plan, extract

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support:UserWarning")

# Boxes well inside a 6x7 map, in pixels at stride 2: away from the border (where a max
# could tie between clamped samples) and with distinct random features (no other ties).
GRADCHECK_ROIS = torch.tensor(
    [[0, 1.3, 2.1, 9.7, 8.9], [1, 0.6, 0.4, 6.2, 11.3], [0, 4.5, 3.5, 12.5, 10.5], [1, 2.0, 2.0, 2.9, 3.3]],
    dtype=torch.float64,
)


SAMPLING = [(2, True, "center"), (0, False, "interior"), (1, True, "corner")]
GRADCHECK_CASES = [("pool", agg, 2, True, "center") for agg in ("max", "avg")] + [
    (method, agg, *sampling) for method in ("warp", "align") for agg in ("max", "avg") for sampling in SAMPLING
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method,agg,sampling_ratio,aligned,layout", GRADCHECK_CASES)
def test_gradcheck(method, agg, sampling_ratio, aligned, layout, device):
    x = features(shape=(2, 2, 6, 7), seed=21, dtype=torch.float64).to(device).requires_grad_()
    rois = GRADCHECK_ROIS.to(device)

    def fn(f):
        return extract(f, rois, method, agg, (2, 2), 0.5, sampling_ratio, aligned, layout)

    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-8, rtol=1e-6)


def test_gradcheck_with_border_boxes_avg():
    """The mean is linear: its gradient is exact even for boxes leaving the map."""
    x = features(shape=(2, 2, 5, 6), seed=22, dtype=torch.float64).requires_grad_()
    rois = make_rois(5, 6, 0.5, seed=22).double()
    for method in ("pool", "warp", "align"):
        assert torch.autograd.gradcheck(
            lambda f: extract(f, rois, method, "avg", (2, 3), 0.5, 0, True, "interior"), (x,), eps=1e-6, atol=1e-8
        )


def _sample_value(x2d: torch.Tensor, cells: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return (x2d.reshape(-1)[cells] * weights).sum()


@pytest.mark.parametrize("method", ("align", "warp"))
@pytest.mark.parametrize("layout", ("center", "interior", "corner"))
@pytest.mark.parametrize("device", DEVICES)
def test_max_routes_gradient_to_the_argmax_sample(method, layout, device):
    """d max / d features = the bilinear weights of the winning sample, nothing else."""
    x = features(shape=(1, 1, 8, 8), seed=23, dtype=torch.float64).to(device).requires_grad_()
    rois = torch.tensor([[0, 1.2, 0.7, 6.1, 5.3]], dtype=torch.float64, device=device)
    kw = dict(output_size=1, spatial_scale=1.0, sampling_ratio=3, aligned=True, layout=layout)
    y = extract(x, rois, method, "max", **kw)
    y.sum().backward()
    plan = build_plan(x.shape, rois, method, dtype=torch.float64, **kw)
    values = torch.stack([_sample_value(x.detach(), plan.cells[0, s], plan.weights[0, s]) for s in range(9)])
    best = int(values.argmax())
    assert (values < values[best]).sum() == 8  # a unique winner
    assert y.item() == pytest.approx(values[best].item(), abs=1e-12)
    expected = x.new_zeros(64).index_add_(0, plan.cells[0, best], plan.weights[0, best])
    torch.testing.assert_close(x.grad.reshape(-1), expected, rtol=0, atol=1e-12)
    assert torch.count_nonzero(x.grad) <= 4


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", ("pool", "align"))
def test_max_ties_send_the_whole_gradient_to_one_sample(method, device):
    """On a constant map every sample ties: one sample (the first) gets the gradient."""
    x = torch.ones(1, 1, 6, 6, dtype=torch.float64, device=device, requires_grad=True)
    rois = torch.tensor([[0, 0.6, 0.6, 4.4, 4.4]], dtype=torch.float64, device=device)
    kw = dict(output_size=1, spatial_scale=1.0, sampling_ratio=2, aligned=True, layout="center")
    extract(x, rois, method, "max", **kw).sum().backward()
    assert x.grad.sum().item() == pytest.approx(1.0, abs=1e-12)
    plan = build_plan(x.shape, rois, method, dtype=torch.float64, **kw)
    first = x.new_zeros(36).index_add_(0, plan.cells[0, 0], plan.weights[0, 0])
    torch.testing.assert_close(x.grad.reshape(-1), first, rtol=0, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method,agg", registered_variants())
def test_outputs_and_gradients_are_deterministic(method, agg, device):
    """Many overlapping RoIs accumulate into the same cells: still bit-identical reruns."""
    x = features(shape=(2, 16, 20, 24), seed=24).to(device)
    g = torch.Generator().manual_seed(24)
    xy = torch.rand(96, 2, generator=g) * 200
    wh = torch.rand(96, 2, generator=g) * 150 + 8
    batch = torch.randint(2, (96, 1), generator=g).float()
    rois = torch.cat([batch, xy, xy + wh], dim=1).to(device)
    grad_out = None
    runs = []
    for _ in range(3):
        xi = x.clone().requires_grad_()
        y = extract(xi, rois, method, agg, (7, 7), 1 / 16, 2, True, "center")
        if grad_out is None:
            grad_out = torch.randn(y.shape, generator=g).to(device)
        y.backward(grad_out)
        runs.append((y.detach(), xi.grad))
    for y, grad in runs[1:]:
        assert torch.equal(y, runs[0][0])
        assert torch.equal(grad, runs[0][1])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method,agg", registered_variants())
def test_empty_roi_set_has_zero_gradient(method, agg, device):
    x = features(shape=(2, 3, 5, 6)).to(device).requires_grad_()
    y = extract(x, torch.zeros(0, 5, device=device), method, agg, (2, 3), 1 / 16)
    assert y.shape == (0, 3, 2, 3)
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    assert torch.count_nonzero(x.grad) == 0
