"""metrics.json has exactly the DESIGN.md format, on success and on failure."""

import json
from pathlib import Path

import engine_standins as standins
from roi_ablation.engine.metrics import read_metrics, write_metrics

DESIGN_KEYS = ["roi", "model", "stride", "data", "seed", "iterations", "segm", "bbox", "train_s", "eval_s", "git", "status"]
SCORES = {"AP": 30.2, "AP50": 51.0, "AP75": 31.8, "APs": 10.0, "APm": 20.0, "APl": None}


def test_complete_record(tmp_path: Path) -> None:
    write_metrics(tmp_path, standins.config(), iterations=6, segm=SCORES, bbox=SCORES, train_s=1.23456, eval_s=0.5)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert list(record) == DESIGN_KEYS
    assert record["roi"] == {"method": "align", "agg": "max", "sampling_ratio": 2, "aligned": False, "layout": "center"}
    assert (record["model"], record["stride"], record["data"], record["seed"]) == ("standin", 16, "rectangles", 0)
    assert record["segm"]["AP"] == 30.2 and record["status"] == "complete" and record["train_s"] == 1.235
    assert record["git"] == "unknown" or len(record["git"]) == 40


def test_failed_record_carries_the_error(tmp_path: Path) -> None:
    write_metrics(tmp_path, standins.config(), iterations=3, segm=None, bbox=None, train_s=0, eval_s=0, error="boom")
    record = read_metrics(tmp_path)
    assert record is not None
    assert list(record) == [*DESIGN_KEYS, "error"] and record["status"] == "failed" and record["error"] == "boom"


def test_mask_branch_overrides_are_recorded(tmp_path: Path) -> None:
    cfg = standins.config(**{"roi.mask": {"sampling_ratio": 0}})
    write_metrics(tmp_path, cfg, iterations=1, segm=None, bbox=None, train_s=0, eval_s=0)
    assert read_metrics(tmp_path)["roi"]["mask"] == {"sampling_ratio": 0}  # type: ignore[index]
