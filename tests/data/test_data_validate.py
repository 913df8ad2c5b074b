"""The annotation check: each bad entry refuses the run by name (or is skipped and counted), once per content."""

import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any

import pytest

from roi_ablation.data import DataError, build_dataset
from roi_ablation.data import validate

Edit = Callable[[dict[str, Any]], None]


def edit_split(coco, split: str, change: Edit) -> None:
    path = coco.annotation_file(split)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def ann(data: dict[str, Any], ann_id: int) -> dict[str, Any]:
    return next(a for a in data["annotations"] if a["id"] == ann_id)


def set_ann(ann_id: int, key: str, value: Any) -> Edit:
    return lambda data: ann(data, ann_id).__setitem__(key, value)


def set_image(index: int, key: str, value: Any) -> Edit:
    return lambda data: data["images"][index].__setitem__(key, value)


def polygon(coordinates: int) -> list[list[float]]:
    return [[float(2 + k % 7) for k in range(coordinates)]]


# (edit, kind, where, detail): annotation 1 is image 1's polygon, 2 its compressed RLE, 5 image 2's uncompressed RLE.
CASES = {
    "duplicate image id": (set_image(1, "id", 1), "duplicate image id", "image 1 (000000000001.png)", "2 image entries"),
    "duplicate annotation id": (set_ann(2, "id", 1), "duplicate annotation id", "annotation 1 (image 1)", "2 annotations"),
    "unknown image id": (set_ann(1, "image_id", 99), "unknown image id", "annotation 1 (image 99)", "no image entry"),
    "unknown category id": (set_ann(1, "category_id", 5), "unknown category id", "annotation 1 (image 1)", "category_id 5"),
    "NaN bbox": (set_ann(1, "bbox", [math.nan, 2.0, 28.0, 18.0]), "bad bbox", "annotation 1 (image 1)", "bbox is [nan"),
    "string in bbox": (set_ann(1, "bbox", ["2", 2.0, 28.0, 18.0]), "bad bbox", "annotation 1", "bbox is ['2'"),
    "negative box size": (set_ann(1, "bbox", [2.0, 2.0, -3.0, 18.0]), "bad bbox", "annotation 1", "negative width"),
    "bbox outside image": (set_ann(1, "bbox", [100.0, 2.0, 28.0, 18.0]), "bbox outside image", "annotation 1", "40x30"),
    "NaN area": (set_ann(1, "area", math.nan), "bad annotation", "annotation 1", "area=nan"),
    "no iscrowd": (lambda d: ann(d, 1).pop("iscrowd"), "bad annotation", "annotation 1", "iscrowd=None"),
    "segmentation []": (set_ann(1, "segmentation", []), "empty segmentation", "annotation 1 (image 1)", "is []"),
    "no segmentation": (lambda d: ann(d, 1).pop("segmentation"), "empty segmentation", "annotation 1", "is None"),
    "polygon of 2": (set_ann(1, "segmentation", polygon(2)), "bad polygon", "annotation 1", "polygon 0 has 2 coordinates"),
    "polygon of 4": (set_ann(1, "segmentation", polygon(4)), "bad polygon", "annotation 1", "polygon 0 has 4 coordinates"),
    "odd polygon": (set_ann(1, "segmentation", [polygon(8)[0], [1] * 7]), "bad polygon", "annotation 1", "polygon 1 has 7"),
    "flat polygon": (set_ann(1, "segmentation", [2, 2, 10, 2, 10, 8]), "bad polygon", "annotation 1", "polygon 0 is 2"),
    "infinite polygon": (set_ann(1, "segmentation", [[2, 2, 9, math.inf, 9, 8]]), "bad polygon", "annotation 1", "finite"),
    "RLE size mismatch": (
        lambda d: ann(d, 2)["segmentation"].__setitem__("size", [31, 40]),
        "bad RLE",
        "annotation 2 (image 1)",
        "RLE size [31, 40] is not the image's [height, width] = [30, 40]",
    ),
    "RLE counts short": (
        lambda d: ann(d, 5)["segmentation"]["counts"].pop(),
        "bad RLE",
        "annotation 5 (image 2)",
        "do not cover the 20x25 image",
    ),
    "compressed RLE truncated": (
        lambda d: ann(d, 2)["segmentation"].__setitem__("counts", ann(d, 2)["segmentation"]["counts"][:-2]),
        "bad RLE",
        "annotation 2",
        "do not cover",
    ),
    "unsafe file name ..": (set_image(0, "file_name", "../000000000001.png"), "unsafe file name", "image 1", "leaves"),
    "absolute file name": (set_image(0, "file_name", "/etc/hostname"), "unsafe file name", "image 1 (/etc/hostname)", ""),
    "bad image size": (set_image(0, "width", 0), "bad image entry", "image 1", "width=0"),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("split", ["train", "val"])
def test_bad_entry_refuses_with_file_entry_problem_and_fix(coco, case, split):
    change, kind, where, detail = CASES[case]
    edit_split(coco, split, change)
    with pytest.raises(DataError) as caught:
        build_dataset(coco.cfg(), split, train=split == "train")
    message = str(caught.value)
    header, first, *_ = message.splitlines()
    assert header.startswith(f"{coco.annotation_file(split)} has ") and re.search(rf"\(\d+ {kind}[,)]", header)
    assert first.startswith(f"  {where}") and detail in first and validate.FIXES[kind] in first
    assert message.endswith("set data.on_bad_annotation=skip to drop the bad entries and train on the rest.")


def test_missing_image_file_is_found_before_training(coco):
    (coco.image_dir("val") / coco.file_name(3)).unlink()
    with pytest.raises(DataError, match=r"1 bad entry \(1 missing image file\)[\s\S]*  image 3 \(000000000003.png\)"):
        build_dataset(coco.cfg(), "val", train=False)


def test_good_file_passes_and_its_fixture_quirks_stay_allowed(coco):
    """Crowd RLEs, degenerate boxes, non-contiguous categories and images without annotations are not problems."""
    data = json.loads(coco.annotation_file("val").read_text())
    assert validate.content_problems(data) == []


def test_counts_per_kind_and_only_the_first_problems_listed(coco):
    def many(data: dict[str, Any]) -> None:
        for a in data["annotations"]:
            a["segmentation"] = polygon(4)
        data["images"][3]["id"] = 3

    edit_split(coco, "val", many)
    message = str(pytest.raises(DataError, build_dataset, coco.cfg(), "val", train=False).value)
    assert "has 9 bad entries (5 bad polygon, 2 duplicate image id, 2 unknown image id)" in message.splitlines()[0]
    shown = validate.SHOWN_PROBLEMS
    validate.SHOWN_PROBLEMS = 3
    try:
        message = str(pytest.raises(DataError, build_dataset, coco.cfg(), "val", train=False).value)
    finally:
        validate.SHOWN_PROBLEMS = shown
    assert len(message.splitlines()) == 1 + 3 + 1


def test_skip_drops_bad_annotations_and_counts_them(coco, caplog):
    edit_split(coco, "val", set_ann(1, "segmentation", polygon(4)))
    with caplog.at_level(logging.WARNING):
        ds = build_dataset(coco.cfg(on_bad_annotation="skip"), "val", train=False)
    assert sorted(ds.coco.anns) == [2, 3, 4, 5, 6, 7]
    assert ds.image_ids == [1, 2, 3, 4]
    _, target = ds[0]
    assert target["labels"].tolist() == [1]  # only the car (RLE) is left on image 1
    logged = [r.getMessage() for r in caplog.records if "data.on_bad_annotation=skip" in r.getMessage()]
    assert len(logged) == 1
    assert "dropped 0 of 4 image entries and 1 of 7 annotations (1 bad polygon)" in logged[0]


def test_skip_drops_bad_images_with_their_annotations(coco, caplog):
    def change(data: dict[str, Any]) -> None:
        data["images"][1]["id"] = 1  # image 2's entry claims id 1: neither can be trusted
        data["images"][2]["file_name"] = "../escape.png"

    edit_split(coco, "train", change)
    with caplog.at_level(logging.WARNING):
        ds = build_dataset(coco.cfg(on_bad_annotation="skip", filter_empty=False), "train", train=True)
    assert ds.image_ids == [4]
    assert sorted(ds.coco.anns) == [6, 7]  # image 2's annotation (5) has image_id 2, now unknown
    logged = next(r.getMessage() for r in caplog.records if "data.on_bad_annotation=skip" in r.getMessage())
    assert "dropped 3 of 4 image entries and 5 of 7 annotations" in logged
    assert "2 duplicate image id" in logged and "1 unsafe file name" in logged and "1 unknown image id" in logged


def test_content_checked_once_per_content(coco, monkeypatch):
    build_dataset(coco.cfg(), "val", train=False)
    cache = coco.annotation_file("val").with_name(".instances_val2017.json.checked.json")
    assert cache.is_file()
    monkeypatch.setattr(validate, "content_problems", lambda data: pytest.fail("checked again"))
    build_dataset(coco.cfg(), "val", train=False)
    monkeypatch.undo()
    edit_split(coco, "val", set_ann(1, "segmentation", []))  # new content, new check
    with pytest.raises(DataError, match="1 empty segmentation"):
        build_dataset(coco.cfg(), "val", train=False)


def test_cached_problems_still_refuse(coco, monkeypatch):
    edit_split(coco, "val", set_ann(1, "segmentation", []))
    pytest.raises(DataError, build_dataset, coco.cfg(), "val", train=False)
    monkeypatch.setattr(validate, "content_problems", lambda data: pytest.fail("checked again"))
    with pytest.raises(DataError, match="1 empty segmentation"):
        build_dataset(coco.cfg(), "val", train=False)
    ds = build_dataset(coco.cfg(on_bad_annotation="skip"), "val", train=False)
    assert 1 not in ds.coco.anns


def test_files_are_listed_again_on_a_cache_hit(coco):
    build_dataset(coco.cfg(), "val", train=False)
    (coco.image_dir("val") / coco.file_name(4)).unlink()
    with pytest.raises(DataError, match="1 missing image file"):
        build_dataset(coco.cfg(), "val", train=False)


def test_unwritable_annotation_dir_caches_in_the_user_cache(coco, monkeypatch, tmp_path):
    monkeypatch.setenv("ROI_ABLATION_CACHE", str(tmp_path / "user"))
    coco.annotation_file("val").with_name(".instances_val2017.json.checked.json").mkdir()  # cannot be written
    build_dataset(coco.cfg(), "val", train=False)
    assert len(list((tmp_path / "user" / "checked").glob("*.json"))) == 1
    monkeypatch.setattr(validate, "content_problems", lambda data: pytest.fail("checked again"))
    build_dataset(coco.cfg(), "val", train=False)


def test_no_writable_cache_at_all_still_runs(coco, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("ROI_ABLATION_CACHE", str(blocker / "cache"))
    coco.annotation_file("val").with_name(".instances_val2017.json.checked.json").mkdir()
    assert len(build_dataset(coco.cfg(), "val", train=False)) == 4


def test_compressed_rle_runs_match_pycocotools():
    """The check reads compressed RLE exactly as pycocotools writes it (empty, full and random masks)."""
    import numpy as np
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(0)
    for trial in range(60):
        height, width = rng.integers(1, 50, 2)
        mask = (rng.random((height, width)) < [0.0, 1.0, rng.random()][trial % 3]).astype(np.uint8)
        counts = mask_utils.encode(np.asfortranarray(mask))["counts"].decode("ascii")
        runs = {"size": [int(height), int(width)], "counts": validate._compressed_runs(counts)}
        assert np.array_equal(mask_utils.decode(mask_utils.frPyObjects(runs, height, width)), mask)
