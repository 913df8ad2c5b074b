"""RoIPooler: torchvision's MultiScaleRoIAlign interface over any registry layer."""

import pytest
import torch
from torchvision.ops import MultiScaleRoIAlign, roi_align

from roi_ablation.roi.poolers import RoIPooler, fpn_levels


def _boxes(n: int, size: float, generator: torch.Generator) -> torch.Tensor:
    xy = torch.rand(n, 2, generator=generator) * size * 0.8
    wh = torch.rand(n, 2, generator=generator) * size * 0.5 + 2
    return torch.cat([xy, (xy + wh).clamp(max=size - 1)], dim=1)


def test_fpn_levels_follow_the_fpn_paper() -> None:
    boxes = torch.tensor([[0, 0, 224, 224], [0, 0, 112, 112], [0, 0, 448, 448], [0, 0, 8, 8], [0, 0, 2000, 2000.]])
    assert fpn_levels(boxes, 2, 5).tolist() == [4, 3, 5, 2, 5]


def test_single_level_equals_roi_align() -> None:
    g = torch.Generator().manual_seed(0)
    features = torch.randn(2, 8, 12, 12, generator=g)
    boxes = [_boxes(5, 192, g), _boxes(3, 192, g)]
    pooler = RoIPooler(["0"], 7, method="align", agg="avg", sampling_ratio=2, aligned=False)
    ours = pooler({"0": features}, boxes, [(192, 192), (180, 192)])
    expected = roi_align(features, boxes, 7, spatial_scale=1 / 16, sampling_ratio=2, aligned=False)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_multi_level_equals_multiscale_roi_align() -> None:
    g = torch.Generator().manual_seed(1)
    features = {str(i): torch.randn(2, 4, 256 // 2 ** (i + 2), 256 // 2 ** (i + 2), generator=g) for i in range(4)}
    boxes = [_boxes(20, 256, g) * 1.0, _boxes(10, 256, g)]
    boxes[0][:3] = torch.tensor([[0, 0, 250, 250], [10, 10, 30, 30], [5, 5, 120, 130.]])
    names = ["0", "1", "2", "3"]
    ours = RoIPooler(names, 7, method="align", agg="avg", sampling_ratio=2, aligned=False)(features, boxes, [(256, 256)] * 2)
    stock = MultiScaleRoIAlign(names, 7, 2)(features, boxes, [(256, 256)] * 2)
    torch.testing.assert_close(ours, stock, atol=1e-5, rtol=1e-5)


def test_gradients_flow_to_every_level() -> None:
    g = torch.Generator().manual_seed(2)
    features = {str(i): torch.randn(1, 3, 64 // 2 ** i, 64 // 2 ** i, generator=g, requires_grad=True) for i in range(3)}
    boxes = [torch.tensor([[0, 0, 20, 20], [0, 0, 120, 120], [0, 0, 250, 250.]])]  # levels 2, 3, 4
    pooler = RoIPooler(["0", "1", "2"], 3, method="pool", agg="max")
    pooler(features, boxes, [(256, 256)]).sum().backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in features.values())


def test_repr_names_the_layer() -> None:
    text = repr(RoIPooler(["0"], (14, 14), method="warp", agg="max", sampling_ratio=0, aligned=True, layout="corner"))
    for part in ("method='warp'", "agg='max'", "output_size=(14, 14)", "sampling_ratio=0", "aligned=True", "layout='corner'"):
        assert part in text


@pytest.mark.parametrize(("kwargs", "valid"), [({"method": "nope"}, "align"), ({"agg": "median"}, "max"), ({"layout": "edge"}, "interior")])
def test_bad_settings_fail_when_built(kwargs: dict, valid: str) -> None:
    with pytest.raises(ValueError, match=valid):
        RoIPooler(["0"], 7, **kwargs)
