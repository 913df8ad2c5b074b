"""The layer registry: built-ins, user layers through ``@register``, duplicates, unknown names."""

from __future__ import annotations

import uuid

import pytest
import torch
from roi_cases import features, make_rois

from roi_ablation.roi import REGISTRY, build_plan, extract, register

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support:UserWarning")


@pytest.fixture
def fresh_name():
    """A layer name nobody else uses; whatever gets registered under it is removed after."""
    name = f"test_layer_{uuid.uuid4().hex[:8]}"
    yield name
    REGISTRY.pop(name, None)


def test_builtin_layers_are_registered_with_their_metadata():
    assert {"pool", "warp", "align", "prpool"} <= set(REGISTRY)
    pool, warp, align = REGISTRY["pool"], REGISTRY["warp"], REGISTRY["align"]
    assert [(s.title, s.align, s.bilinear) for s in (pool, warp, align)] == [
        ("RoIPool", False, False), ("RoIWarp", False, True), ("RoIAlign", True, True)]
    assert pool.reads == frozenset() and pool.paper == {}
    assert dict(warp.paper) == {"sampling_ratio": 2, "aligned": False, "layout": "corner"}
    assert dict(align.paper) == {"sampling_ratio": 2, "aligned": False, "layout": "center"}
    assert pool.order < warp.order < align.order


def test_user_layer_metadata_and_its_checks(fresh_name):
    register(fresh_name, title="Mine", align=True, bilinear=False, aggs=("avg",), reads=("layout",),
             paper={"layout": "interior"})(REGISTRY["align"].build)
    spec = REGISTRY[fresh_name]
    assert (spec.title, spec.align, spec.bilinear, spec.aggs, spec.reads) == ("Mine", True, False, ("avg",),
                                                                             frozenset({"layout"}))
    with pytest.raises(ValueError, match="does not support agg 'max'; valid: avg"):
        extract(features(), make_rois(5, 6, 1 / 16), method=fresh_name, agg="max")
    with pytest.raises(ValueError, match="not read by the layer"):
        register(fresh_name + "_x", reads=(), paper={"layout": "corner"})
    with pytest.raises(ValueError, match="aggs must be"):
        register(fresh_name + "_y", aggs=("median",))


def test_user_layer_reusing_the_align_plan_builder(fresh_name):
    """A user layer is a plan builder; this one is RoIAlign with the seed's layout forced."""
    align = REGISTRY["align"]

    @register(fresh_name)
    def interior_align(rois, feature_shape, *, output_size, spatial_scale, sampling_ratio, aligned, layout):
        return align(rois, feature_shape, output_size=output_size, spatial_scale=spatial_scale,
                     sampling_ratio=sampling_ratio, aligned=aligned, layout="interior")

    assert REGISTRY[fresh_name].build is interior_align  # the decorator returns the function unchanged
    x = features().requires_grad_()
    rois = make_rois(5, 6, 1 / 16)
    for agg in ("max", "avg"):
        mine = extract(x, rois, method=fresh_name, agg=agg, output_size=(2, 3), spatial_scale=1 / 16, layout="center")
        expected = extract(x, rois, method="align", agg=agg, output_size=(2, 3), spatial_scale=1 / 16,
                           layout="interior")
        torch.testing.assert_close(mine, expected, rtol=0, atol=0)
        assert not torch.allclose(mine, extract(x, rois, "align", agg, (2, 3), 1 / 16, layout="center"))
        (g,) = torch.autograd.grad(mine.sum(), x)
        (g_ref,) = torch.autograd.grad(expected.sum(), x)
        torch.testing.assert_close(g, g_ref, rtol=0, atol=0)
    plan = build_plan(x.shape, rois, method=fresh_name, output_size=(2, 3), spatial_scale=1 / 16)
    assert plan.num_rois == rois.shape[0]


def test_plan_builder_receives_normalised_arguments(fresh_name):
    seen = {}
    align = REGISTRY["align"]

    @register(fresh_name)
    def spy(rois, feature_shape, **kwargs):
        seen.update(kwargs, rois=rois, feature_shape=feature_shape)
        return align(rois, feature_shape, **kwargs)

    x = features(shape=(2, 3, 5, 6))
    rois = [torch.tensor([[0.0, 0.0, 40.0, 30.0]]), torch.tensor([[8.0, 8.0, 64.0, 64.0]])]
    extract(x, rois, method=fresh_name, agg="avg", output_size=4, spatial_scale=0.0625, sampling_ratio=0,
            aligned=False, layout="corner")
    assert seen["feature_shape"] == (2, 5, 6)
    assert seen["output_size"] == (4, 4)
    assert seen["spatial_scale"] == 0.0625 and isinstance(seen["spatial_scale"], float)
    assert seen["sampling_ratio"] == 0 and seen["aligned"] is False and seen["layout"] == "corner"
    assert seen["rois"].shape == (2, 5) and seen["rois"][:, 0].tolist() == [0.0, 1.0]
    assert seen["rois"].dtype == torch.float32


def test_duplicate_registration_is_an_error_and_keeps_the_first(fresh_name):
    @register(fresh_name)
    def first(rois, feature_shape, **kwargs):
        return REGISTRY["align"](rois, feature_shape, **kwargs)

    with pytest.raises(ValueError, match="already registered"):
        @register(fresh_name)
        def second(rois, feature_shape, **kwargs):  # pragma: no cover - never registered
            raise AssertionError

    assert REGISTRY[fresh_name].build is first
    with pytest.raises(ValueError, match="already registered"):
        register("align")(first)
    assert REGISTRY["align"].build is not first


def test_unknown_name_lists_the_valid_ones_including_user_layers(fresh_name):
    register(fresh_name)(REGISTRY["align"])
    with pytest.raises(ValueError) as info:
        extract(features(), make_rois(5, 6, 1 / 16), method="roi_nope")
    message = str(info.value)
    assert "'roi_nope'" in message
    for name in ("align", "pool", "warp", fresh_name):
        assert name in message
