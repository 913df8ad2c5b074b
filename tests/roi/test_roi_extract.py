"""``extract``'s contract: shapes, input forms, empty RoI sets, argument errors, dtypes."""

from __future__ import annotations

import pytest
import torch
from roi_cases import VARIANTS, features, make_rois, registered_variants

from roi_ablation.roi import AGGREGATIONS, LAYOUTS, REGISTRY, RoISettings, SamplingPlan, build_plan, extract
from roi_ablation.roi.extract import as_roi_tensor

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support:UserWarning")

SCALE = 1 / 16


def _rois(seed=0):
    return make_rois(5, 6, SCALE, seed=seed)


@pytest.mark.parametrize("method,agg", VARIANTS)
def test_output_shape_and_size_forms(method, agg):
    x, rois = features(), _rois()
    k, c = rois.shape[0], x.shape[1]
    assert extract(x, rois, method, agg, (2, 5), SCALE).shape == (k, c, 2, 5)
    square = extract(x, rois, method, agg, 3, SCALE)
    assert square.shape == (k, c, 3, 3)
    torch.testing.assert_close(extract(x, rois, method, agg, (3, 3), SCALE), square, rtol=0, atol=0)
    torch.testing.assert_close(extract(x, rois, method, agg, [3, 3], SCALE), square, rtol=0, atol=0)


def test_defaults_are_the_settings_carriers_7x7_stride16():
    """extract's defaults are RoISettings' (align, avg) and the layer's registry paper geometry."""
    x, rois = features(shape=(2, 3, 9, 9)), make_rois(9, 9, SCALE)
    explicit = extract(x, rois, method="align", agg="avg", output_size=(7, 7), spatial_scale=1 / 16,
                       sampling_ratio=2, aligned=False, layout="center")
    torch.testing.assert_close(extract(x, rois), explicit, rtol=0, atol=0)
    warp = RoISettings(method="warp")
    torch.testing.assert_close(extract(x, rois, "warp"), extract(x, rois, **warp.layer_args()), rtol=0, atol=0)
    assert warp.layout == REGISTRY["warp"].paper["layout"] != RoISettings().layout  # the layer's own default


@pytest.mark.parametrize("method,agg", VARIANTS)
def test_list_of_boxes_equals_k5_tensor(method, agg):
    x = features(shape=(3, 3, 5, 6))
    rois = make_rois(5, 6, SCALE, num_images=3)
    per_image = [rois[rois[:, 0] == i, 1:] for i in range(3)]
    per_image[1] = per_image[1][:0]  # an image without boxes
    as_tensor = torch.cat([torch.cat([torch.full((len(b), 1), float(i)), b], dim=1) for i, b in enumerate(per_image)])
    kw = dict(method=method, agg=agg, output_size=(2, 3), spatial_scale=SCALE)
    torch.testing.assert_close(extract(x, per_image, **kw), extract(x, as_tensor, **kw), rtol=0, atol=0)


@pytest.mark.parametrize("method,agg", VARIANTS)
def test_batch_index_selects_the_image(method, agg):
    x, rois = features(shape=(2, 3, 5, 6)), _rois()
    rois[:, 0] = 1
    on_second = extract(x, rois, method, agg, (2, 3), SCALE)
    rois[:, 0] = 0
    torch.testing.assert_close(on_second, extract(x[1:], rois, method, agg, (2, 3), SCALE), rtol=0, atol=0)
    assert not torch.allclose(on_second, extract(x, rois, method, agg, (2, 3), SCALE))


@pytest.mark.parametrize("method,agg", registered_variants())
@pytest.mark.parametrize("images,empty", [(2, torch.zeros(0, 5)), (2, [torch.zeros(0, 4)]),
                                          (2, [torch.zeros(0, 4), torch.zeros(0, 4)]), (0, []), (0, torch.zeros(0, 5))],
                         ids=["tensor", "list1", "list2", "no-images-list", "no-images-tensor"])
def test_empty_roi_set(method, agg, images, empty):
    x = features(shape=(images, 3, 5, 6)).requires_grad_()
    y = extract(x, empty, method, agg, (2, 3), SCALE, sampling_ratio=0)
    assert y.shape == (0, 3, 2, 3) and y.dtype == torch.float32
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape and torch.count_nonzero(x.grad) == 0


def test_an_empty_list_of_images_is_an_empty_roi_tensor():
    assert as_roi_tensor([]).shape == (0, 5)
    assert as_roi_tensor([], "meta").device.type == "meta"


@pytest.mark.parametrize("rois", [make_rois(5, 6, SCALE).to("meta"), [torch.zeros(0, 4, device="meta")]],
                         ids=["tensor", "list"])
def test_rois_on_another_device_than_the_features(rois):
    _raises(["meta", "cpu", "rois.to(features.device)"], rois=rois)


@pytest.mark.parametrize("method,agg", VARIANTS)
def test_non_contiguous_features(method, agg):
    x, rois = features(shape=(2, 6, 5, 6)), _rois()
    base = extract(x[:, ::2].contiguous(), rois, method, agg, (2, 3), SCALE)
    torch.testing.assert_close(extract(x[:, ::2], rois, method, agg, (2, 3), SCALE), base, rtol=0, atol=0)
    cl = x[:, ::2].contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(extract(cl, rois, method, agg, (2, 3), SCALE), base, rtol=0, atol=0)


# ----------------------------------------------------------------------------- errors


def _raises(match_all: list[str], **kwargs):
    args = dict(features=features(), rois=_rois())
    args.update(kwargs)
    with pytest.raises(ValueError) as info:
        extract(**args)
    message = str(info.value)
    for word in match_all:
        assert word in message, f"{word!r} not named in {message!r}"


def test_unknown_method_lists_registered_layers():
    _raises(["'nope'", "align", "pool", "warp"], method="nope")


@pytest.mark.parametrize("agg", ["mean", "sum", "MAX", ""])
def test_unknown_agg_lists_valid_ones(agg):
    _raises(list(AGGREGATIONS), agg=agg)


@pytest.mark.parametrize("method", ["align", "warp", "pool"])
def test_unknown_layout_lists_valid_ones(method):
    _raises(list(LAYOUTS), method=method, layout="edges")


@pytest.mark.parametrize("size", [0, -3, (0, 7), (7,), (7, 7, 7), (2.5, 3), (7, -1), "7"])
def test_bad_output_size(size):
    _raises(["positive int", "(h, w)"], output_size=size)


@pytest.mark.parametrize("size", [None, 7.0])
def test_bad_output_size_of_a_non_sequence_type(size):
    """``None`` or a float are bad output sizes too: ValueError, not a TypeError."""
    _raises(["positive int", "(h, w)"], output_size=size)


@pytest.mark.parametrize("rois,words", [
    (torch.zeros(3, 4), ["[K, 5]", "(3, 4)"]),
    (torch.zeros(3, 6), ["[K, 5]"]),
    (torch.zeros(5), ["[K, 5]"]),
    (torch.zeros(2, 3, 5), ["[K, 5]"]),
    ([torch.zeros(2, 5)], ["[Ki, 4]"]),
    ([torch.zeros(2, 4), torch.zeros(4)], ["rois[1]", "[Ki, 4]"]),
], ids=["k4", "k6", "1d", "3d", "list-k5", "list-1d"])
def test_bad_rois_shape(rois, words):
    _raises(words, rois=rois)


@pytest.mark.parametrize("scale", [0.0, -1 / 16, float("nan")])
def test_non_positive_spatial_scale(scale):
    _raises(["spatial_scale", "positive"], spatial_scale=scale)


def test_non_float_features():
    _raises(["floating-point"], features=torch.zeros(2, 3, 5, 6, dtype=torch.long))


def test_features_must_be_4d():
    _raises(["[N, C, H, W]"], features=torch.zeros(3, 5, 6))


@pytest.mark.parametrize("batch_index", [2.0, -1.0])
def test_batch_index_outside_the_batch_is_an_error(batch_index):
    """A RoI naming an image the batch does not have must not read foreign memory."""
    rois = _rois()
    rois[0, 0] = batch_index
    _raises(["batch"], rois=rois)


def test_build_plan_validates_like_extract():
    with pytest.raises(ValueError, match="valid: .*align"):
        build_plan((1, 2, 5, 5), torch.zeros(1, 5), method="nope")
    with pytest.raises(ValueError, match="center"):
        build_plan((1, 2, 5, 5), torch.zeros(1, 5), layout="x")
    with pytest.raises(ValueError, match="spatial_scale"):
        build_plan((1, 2, 5, 5), torch.zeros(1, 5), spatial_scale=0)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        build_plan((2, 5, 5), torch.zeros(1, 5))


# ----------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("method,agg", VARIANTS)
def test_float64_stays_float64(method, agg):
    x = features(dtype=torch.float64).requires_grad_()
    y = extract(x, _rois(), method, agg, (2, 3), SCALE)
    y.sum().backward()
    assert y.dtype == torch.float64 and x.grad.dtype == torch.float64
    y32 = extract(x.detach().float(), _rois(), method, agg, (2, 3), SCALE)
    torch.testing.assert_close(y.float(), y32, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method,agg", VARIANTS)
def test_float16_returns_float16_computed_in_float32(method, agg):
    x16 = features().half().requires_grad_()
    y = extract(x16, _rois(), method, agg, (2, 3), SCALE)
    assert y.dtype == torch.float16
    y.float().sum().backward()
    assert x16.grad.dtype == torch.float16
    inside = extract(x16.detach().float(), _rois(), method, agg, (2, 3), SCALE)
    torch.testing.assert_close(y, inside.half(), rtol=0, atol=0)


@pytest.mark.parametrize("method,agg", VARIANTS)
def test_autocast_bfloat16(method, agg):
    x32 = features().requires_grad_()
    xbf = x32.detach().bfloat16().requires_grad_()
    rois = _rois()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = extract(xbf, rois, method, agg, (2, 3), SCALE)
        y32_in_autocast = extract(x32, rois, method, agg, (2, 3), SCALE)
    assert y.dtype == torch.bfloat16
    assert y32_in_autocast.dtype == torch.float32
    # Computed in float32 inside: exactly the float32 result of the same values, rounded.
    ref_same_values = extract(xbf.detach().float(), rois, method, agg, (2, 3), SCALE)
    torch.testing.assert_close(y, ref_same_values.bfloat16(), rtol=0, atol=0)
    # ... and close to the float32 result of the unrounded features.
    y32 = extract(x32, rois, method, agg, (2, 3), SCALE)
    torch.testing.assert_close(y.float(), y32, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(y32_in_autocast, y32, rtol=0, atol=0)
    y.float().sum().backward()
    y32.sum().backward()
    assert xbf.grad.dtype == torch.bfloat16
    torch.testing.assert_close(xbf.grad.float(), x32.grad, rtol=2e-2, atol=2e-2)


def test_build_plan_returns_the_plan_extract_uses():
    x, rois = features(), _rois()
    plan = build_plan(x.shape, rois, "align", (2, 3), SCALE, 0, True, "interior")
    assert isinstance(plan, SamplingPlan)
    b = rois.shape[0] * 6
    assert plan.num_bins == b and plan.num_rois == rois.shape[0] and plan.output_size == (2, 3)
    assert plan.points.shape[:2] == plan.cells.shape[:2] == plan.weights.shape[:2] == plan.valid.shape
    assert plan.points.shape[0] == b and plan.points.shape[2] == 2
    # The mean is exactly the plan's weights applied to the features (channels last).
    flat = x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])
    mean = (flat[plan.cells] * plan.mean_weights()[..., None]).sum(dim=(1, 2))
    y = extract(x, rois, "align", "avg", (2, 3), SCALE, 0, True, "interior")
    torch.testing.assert_close(y.permute(0, 2, 3, 1).reshape(b, -1), mean, rtol=1e-6, atol=1e-6)
    assert set(REGISTRY) >= {"pool", "warp", "align"}
