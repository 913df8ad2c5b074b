"""metrics.json is the RunRecord in docs/design.md's format; reading it back is strict."""

import json
from pathlib import Path

import pytest

from roi_ablation.engine.metrics import MalformedRecord, RunRecord, read_metrics, read_record, write_metrics
from roi_ablation.roi import RoISettings

DESIGN_KEYS = ["roi", "model", "stride", "data", "seed", "iterations", "segm", "bbox", "train_s", "eval_s", "git", "status"]
SCORES = {"AP": 30.2, "AP50": 51.0, "AP75": 31.8, "APs": 10.0, "APm": 20.0, "APl": None}


def record(**roi: object) -> RunRecord:
    return RunRecord(RoISettings(method="align", agg="max", **roi), "small_c4", 16, "shapes", 0)


def test_complete_record(tmp_path: Path) -> None:
    write_metrics(tmp_path, record().ended("complete", iterations=6, segm=SCORES, bbox=SCORES, train_s=1.23456, eval_s=0.5))
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert list(written) == DESIGN_KEYS
    assert written["roi"] == {"method": "align", "agg": "max", "sampling_ratio": 2, "aligned": False, "layout": "center"}
    assert (written["model"], written["stride"], written["data"], written["seed"]) == ("small_c4", 16, "shapes", 0)
    assert written["segm"]["AP"] == 30.2 and written["status"] == "complete" and written["train_s"] == 1.235
    assert written["git"] == "unknown" or len(written["git"]) == 40
    assert read_metrics(tmp_path) == RunRecord.from_json(written)


def test_failed_record_carries_the_error(tmp_path: Path) -> None:
    write_metrics(tmp_path, record().ended("failed", iterations=3, error="boom"))
    loaded = read_metrics(tmp_path)
    assert loaded is not None and (loaded.status, loaded.error) == ("failed", "boom")
    assert list(json.loads((tmp_path / "metrics.json").read_text())) == [*DESIGN_KEYS, "error"]


def test_mask_branch_overrides_are_recorded(tmp_path: Path) -> None:
    write_metrics(tmp_path, record(mask={"sampling_ratio": 0}).ended("failed", error="x"))
    assert json.loads((tmp_path / "metrics.json").read_text())["roi"]["mask"] == {"sampling_ratio": 0}


@pytest.mark.parametrize(("change", "reason"), [
    ({"segm": "abc"}, "'segm' must be an object"), ({"status": "done"}, "'status' must be one of"),
    ({"segm": None, "bbox": None}, "neither 'segm' nor 'bbox' has an AP"), ({"segm": {"AP": 130}}, "'segm.AP'"),
    ({"roi": {"method": "align"}}, "'roi'"), ({"iterations": 1.5}, "'iterations' must be an integer"),
])
def test_a_malformed_record_says_what_is_wrong(tmp_path: Path, change: dict, reason: str) -> None:
    good = record().ended("complete", segm=SCORES, bbox=SCORES).to_json()
    (tmp_path / "metrics.json").write_text(json.dumps({**good, **change}))
    with pytest.raises(MalformedRecord, match=reason):
        read_record(tmp_path / "metrics.json")
    assert read_metrics(tmp_path) is None
