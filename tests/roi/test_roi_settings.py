"""RoISettings: the one description of a layer that configs, poolers, records and tables share."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from roi_ablation.roi import REGISTRY, RoISettings


def test_unset_geometry_is_the_layers_paper_setting():
    assert RoISettings(method="warp", agg="max").layer_args() == {
        "method": "warp", "agg": "max", "sampling_ratio": 2, "aligned": False, "layout": "corner"}
    assert RoISettings(method="align", agg="avg", aligned=True).layout == "center"


def test_normalised_settings_ignore_what_the_layer_does_not_read():
    paper = RoISettings(method="pool", agg="max").normalized()
    assert RoISettings(method="pool", agg="max", aligned=True, sampling_ratio=0, layout="corner").normalized() == paper
    assert hash(RoISettings(method="pool", agg="max", aligned=True).normalized()) == hash(paper)
    assert RoISettings(method="align", aligned=True).normalized() != RoISettings(method="align").normalized()
    assert RoISettings(method="prpool", sampling_ratio=4).normalized() == RoISettings(method="prpool").normalized()


def test_mask_override_for_the_mask_branch_only():
    roi = RoISettings(method="align", agg="avg", mask={"sampling_ratio": 0})
    assert roi.for_branch("box").sampling_ratio == 2 and roi.for_branch("box").mask is None
    assert roi.for_branch("mask").sampling_ratio == 0
    # another layer for the mask: its own paper geometry
    assert RoISettings(method="align", mask={"method": "warp", "agg": "max"}).for_branch("mask").layout == "corner"
    # an override that changes nothing is no override in the table
    assert RoISettings(method="pool", agg="max", mask={"aligned": True}).normalized().mask is None


@pytest.mark.parametrize(("values", "message"), [
    ({"method": "roipool"}, "roi: unknown RoI method 'roipool'; valid: align, pool"),
    ({"method": "prpool", "agg": "max"}, "does not support agg 'max'; valid: avg"),
    ({"layout": "centre"}, "roi.layout: unknown layout 'centre'; valid: center, interior, corner"),
    ({"sampling_ratio": True}, "roi.sampling_ratio must be an integer (<= 0: adaptive); got True"),
    ({"mask": {"ratio": 3}}, "roi.mask has unknown keys ['ratio']"),
    ({"mask": {"agg": "median"}}, "roi.mask={'agg': 'median'}: roi: RoI method 'align' does not support agg 'median'"),
])
def test_mistakes_name_the_key_and_the_valid_values(values, message):
    with pytest.raises(ValueError) as info:
        RoISettings(**values)
    assert message in str(info.value)


def test_a_model_may_not_sample_more_than_the_cap_per_bin_side_in_either_branch():
    RoISettings(sampling_ratio=16, mask={"sampling_ratio": 0}).check_plan_size()
    with pytest.raises(ValueError, match=r"^roi.sampling_ratio must be an integer <= 16"):
        RoISettings(sampling_ratio=17).check_plan_size()
    with pytest.raises(ValueError, match=r"^roi.mask.sampling_ratio must be an integer <= 16"):
        RoISettings(mask={"sampling_ratio": 32}).check_plan_size()


def test_settings_are_immutable_and_derived_values_are_new_ones():
    settings = RoISettings(method="pool", agg="max")
    with pytest.raises(dataclasses.FrozenInstanceError, match="dataclasses.replace"):
        settings.agg = "avg"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        RoISettings.from_json({"method": "pool"}).layout = "corner"  # type: ignore[misc]
    assert dataclasses.replace(settings, agg="avg").agg == "avg" and settings.agg == "max"
    assert copy.deepcopy(settings) == settings and pickle.loads(pickle.dumps(settings)) == settings


def test_what_a_layer_reads_names_its_variant_label_and_hparams():
    pool, align = RoISettings(method="pool", agg="max"), RoISettings(method="align", agg="avg", sampling_ratio=0)
    assert pool.reads == frozenset() and align.reads == {"sampling_ratio", "aligned", "layout"}
    assert pool.variant_key() == "pool/max" and align.variant_key() == "align/avg/n=adaptive/unaligned/center"
    assert pool.label() == "RoIPool" and align.label() == "RoIAlign (adaptive n)"
    assert pool.label(paper_aggs={"avg"}) == "RoIPool (max)"
    assert pool.shown_value("sampling_ratio") == "unused" and pool.shown_value("aligned") is False
    assert align.shown_value("sampling_ratio") == 0 and align.shown_value("layout") == "center"
    assert pool.is_preset() and not align.is_preset()


def test_json_round_trip_keeps_an_unknown_layer_as_written():
    record = {"method": "not_imported_here", "agg": "avg", "sampling_ratio": 3, "aligned": True, "layout": "corner"}
    settings = RoISettings.from_json(record)
    assert settings.to_json() == record and settings.normalized() == settings
    assert "not_imported_here" not in REGISTRY
    assert RoISettings(mask={"sampling_ratio": 0}).to_json()["mask"] == {"sampling_ratio": 0}
