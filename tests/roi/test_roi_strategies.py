"""The two strategies of ``apply_plan``: the same numbers, and the dense one launch-bounded.

The dense strategy is what CUDA runs; forcing it on the CPU (``ROI_ABLATION_ROI_STRATEGY``)
lets these tests check what a GPU would launch without one.
"""

from __future__ import annotations

import pytest
import torch
from roi_cases import make_rois, registered_variants

from roi_ablation.roi import extract
from roi_ablation.roi import ops
from roi_ablation.roi.registry import get_layer
from roi_ablation.roi.launches import count_launches

#: The C4 box head of the paper's Table 2c: 128 RoIs per image pair, 1024 channels, 14x14.
C4_BOX = dict(images=2, channels=1024, height=50, width=84, rois=128, output=14, stride=16)
#: The paper's three layers with both aggregations (Table 2c's rows and RoIPool avg).
PAPER_LAYERS = [(method, agg) for method in ("pool", "warp", "align") for agg in ("max", "avg")]
OP_BUDGET = {"avg": 50, "max": 100}


def _c4_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    s = C4_BOX
    g = torch.Generator().manual_seed(0)
    x = torch.randn(s["images"], s["channels"], s["height"], s["width"], generator=g)
    image = torch.tensor([s["width"], s["height"]]) * s["stride"]
    corner = torch.rand(s["rois"], 2, generator=g) * image * 0.8
    size = torch.rand(s["rois"], 2, generator=g) * 300 + 8
    batch = torch.randint(0, s["images"], (s["rois"], 1), generator=g).float()
    return x, torch.cat([batch, corner, corner + size], dim=1)


@pytest.mark.parametrize("method,agg", PAPER_LAYERS)
def test_dense_forward_backward_issues_few_ops(monkeypatch, method, agg):
    """At most 50 ops (avg) / 100 (max) per forward+backward at the C4 box head's shapes."""
    monkeypatch.setenv(ops.STRATEGY_ENV, "dense")
    x, rois = _c4_inputs()
    x.requires_grad_()
    geometry = dict(get_layer(method).paper)
    out = C4_BOX["output"]
    grad = torch.ones(C4_BOX["rois"], C4_BOX["channels"], out, out)

    def step() -> None:
        extract(x, rois, method, agg, out, 1 / C4_BOX["stride"], **geometry).backward(grad)

    step()  # the same call streaming-sized would issue thousands: check the forcing took
    counted = count_launches(step)
    assert counted.ops <= OP_BUDGET[agg], counted.by_name
    monkeypatch.setenv(ops.STRATEGY_ENV, "streaming")
    assert count_launches(step).ops > counted.ops


def _pooled_and_grad(x, rois, method, agg, sampling_ratio, aligned):
    x = x.detach().clone().requires_grad_()
    y = extract(x, rois, method, agg, (3, 4), 1 / 16, sampling_ratio=sampling_ratio, aligned=aligned)
    grad_out = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=y.dtype)
    (g,) = torch.autograd.grad(y, x, grad_out)
    return y, g


@pytest.mark.parametrize("method,agg", registered_variants())
@pytest.mark.parametrize("sampling_ratio", [2, 0])
@pytest.mark.parametrize("chunks", ["one", "per-roi"])
def test_dense_equals_streaming(monkeypatch, method, agg, sampling_ratio, chunks):
    """Every layer, fixed and adaptive grids, boxes outside the map (empty bins), one chunk
    or one per RoI: the same values and gradients (float64, up to summation order)."""
    x = torch.randn(2, 3, 9, 11, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rois = make_rois(9, 11, 1 / 16).double()
    results = {}
    for strategy in ops.STRATEGIES:
        monkeypatch.setenv(ops.STRATEGY_ENV, strategy)
        if chunks == "per-roi":
            monkeypatch.setattr(ops, "DENSE_BYTES", 1)
        results[strategy] = [_pooled_and_grad(x, rois, method, agg, sampling_ratio, aligned) for aligned in (True, False)]
    for (y_s, g_s), (y_d, g_d) in zip(results["streaming"], results["dense"]):
        torch.testing.assert_close(y_d, y_s, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(g_d, g_s, rtol=1e-12, atol=1e-12)


def test_strategy_defaults_and_forcing(monkeypatch):
    monkeypatch.delenv(ops.STRATEGY_ENV, raising=False)
    assert ops.strategy_for(torch.device("cpu")) == "streaming"
    assert ops.strategy_for(torch.device("cuda")) == "dense"
    monkeypatch.setenv(ops.STRATEGY_ENV, "dense")
    assert ops.strategy_for(torch.device("cpu")) == "dense"
    monkeypatch.setenv(ops.STRATEGY_ENV, "fast")
    with pytest.raises(ValueError, match="ROI_ABLATION_ROI_STRATEGY='fast' is no RoI strategy; valid: streaming, dense"):
        ops.strategy_for(torch.device("cpu"))
