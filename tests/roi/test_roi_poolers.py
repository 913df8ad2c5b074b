"""RoIPooler: torchvision's MultiScaleRoIAlign interface over any registry layer."""

import itertools

import pytest
import torch
from roi_cases import DEVICES, registered_variants
from torchvision.ops import MultiScaleRoIAlign, roi_align

from roi_ablation.roi.poolers import RoIPooler, fpn_levels


def _boxes(n: int, size: float, generator: torch.Generator) -> torch.Tensor:
    xy = torch.rand(n, 2, generator=generator) * size * 0.8
    wh = torch.rand(n, 2, generator=generator) * size * 0.5 + 2
    return torch.cat([xy, (xy + wh).clamp(max=size - 1)], dim=1)


def test_fpn_levels_follow_the_fpn_paper() -> None:
    boxes = torch.tensor([[0, 0, 224, 224], [0, 0, 112, 112], [0, 0, 448, 448], [0, 0, 8, 8], [0, 0, 2000, 2000.]])
    assert fpn_levels(boxes, 2, 5).tolist() == [4, 3, 5, 2, 5]


@pytest.mark.parametrize("device", DEVICES)
def test_single_level_equals_roi_align(device: str) -> None:
    g = torch.Generator().manual_seed(0)
    features = torch.randn(2, 8, 12, 12, generator=g).to(device)
    boxes = [_boxes(5, 192, g).to(device), _boxes(3, 192, g).to(device)]
    pooler = RoIPooler(["0"], 7, method="align", agg="avg", sampling_ratio=2, aligned=False)
    ours = pooler({"0": features}, boxes, [(192, 192), (180, 192)])
    expected = roi_align(features, boxes, 7, spatial_scale=1 / 16, sampling_ratio=2, aligned=False)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_multi_level_equals_multiscale_roi_align(device: str) -> None:
    g = torch.Generator().manual_seed(1)
    features = {str(i): torch.randn(2, 4, 256 // 2 ** (i + 2), 256 // 2 ** (i + 2), generator=g).to(device)
                for i in range(4)}
    boxes = [_boxes(20, 256, g) * 1.0, _boxes(10, 256, g)]
    boxes[0][:3] = torch.tensor([[0, 0, 250, 250], [10, 10, 30, 30], [5, 5, 120, 130.]])
    boxes = [b.to(device) for b in boxes]
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


# ----------------------------------------------------------------------------- empty inputs

FPN_NAMES = ["p2", "p3", "p4", "p5"]
#: One box per FPN level P2-P5 (sides 56, 112, 224, 448 px: levels 2, 3, 4, 5 by eq. 1).
BOX_OF_LEVEL = [torch.tensor([10.0, 20.0, 10.0 + side, 20.0 + side]) for side in (56, 112, 224, 448)]


def _fpn_maps(images: int, channels: int = 3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return {name: torch.randn(images, channels, 512 // 2 ** (i + 2), 512 // 2 ** (i + 2), generator=g,
                              requires_grad=True) for i, name in enumerate(FPN_NAMES)}


def _assert_clean_gradients(maps: dict[str, torch.Tensor], pooled: torch.Tensor) -> None:
    """Backward of a pooled batch leaves every level's gradient finite (zeros, or None if not read)."""
    pooled.sum().backward()
    for feature in maps.values():
        assert feature.grad is None or torch.isfinite(feature.grad).all()


@pytest.mark.parametrize("names", [["p4"], FPN_NAMES], ids=["single", "fpn"])
@pytest.mark.parametrize("method,agg", registered_variants())
def test_a_batch_without_images_gives_an_empty_result(names, method, agg):
    maps = {name: feature for name, feature in _fpn_maps(0).items() if name in names}
    pooled = RoIPooler(names, (7, 5), method=method, agg=agg)(maps, [], [])
    assert pooled.shape == (0, 3, 7, 5)
    _assert_clean_gradients(maps, pooled)


@pytest.mark.parametrize("names", [["p4"], FPN_NAMES], ids=["single", "fpn"])
@pytest.mark.parametrize("method,agg", registered_variants())
def test_images_without_boxes_give_an_empty_result_with_zero_gradients(names, method, agg):
    maps = {name: feature for name, feature in _fpn_maps(2).items() if name in names}
    pooled = RoIPooler(names, 7, method=method, agg=agg)(maps, [torch.zeros(0, 4), torch.zeros(0, 4)], [(512, 512)] * 2)
    assert pooled.shape == (0, 3, 7, 7)
    _assert_clean_gradients(maps, pooled)
    assert all(torch.count_nonzero(f.grad) == 0 for f in maps.values() if f.grad is not None)


@pytest.mark.parametrize("occupied", list(itertools.product([False, True], repeat=4)),
                         ids=lambda o: "".join("x" if level else "-" for level in o))
def test_every_combination_of_empty_fpn_levels(occupied):
    """Boxes on some levels only: each box reads its own level; empty levels pass zero gradient."""
    maps = _fpn_maps(2)
    on_levels = [BOX_OF_LEVEL[i] for i in range(4) if occupied[i]]
    boxes = [torch.stack(on_levels) if on_levels else torch.zeros(0, 4), torch.zeros(0, 4)]
    assert fpn_levels(boxes[0], 2, 5).tolist() == [i + 2 for i in range(4) if occupied[i]]
    pooler = RoIPooler(FPN_NAMES, 7, method="align", agg="max")
    pooled = pooler(maps, boxes, [(512, 512)] * 2)
    assert pooled.shape == (sum(occupied), 3, 7, 7)
    for row, level in enumerate(i for i in range(4) if occupied[i]):
        alone = RoIPooler([FPN_NAMES[level]], 7, method="align", agg="max")
        torch.testing.assert_close(pooled[row], alone({FPN_NAMES[level]: maps[FPN_NAMES[level]]}, [boxes[0][row:row + 1]],
                                                      [(512, 512)])[0], rtol=0, atol=0)
    _assert_clean_gradients(maps, pooled)
    for level, name in enumerate(FPN_NAMES):
        assert (torch.count_nonzero(maps[name].grad) > 0) == occupied[level]


def test_boxes_and_image_shapes_must_match():
    with pytest.raises(ValueError, match="boxes for 1 images but 2 image shapes"):
        RoIPooler(["p4"], 7)({"p4": torch.zeros(2, 3, 32, 32)}, [torch.zeros(0, 4)], [(512, 512)] * 2)
