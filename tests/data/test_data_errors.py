"""Bad input gives a DataError whose message names the problem and the fix."""

import json
import logging

import pytest
from PIL import Image
from torch.utils.data import DataLoader

from roi_ablation.data import DataError, build_dataset, collate_fn, num_classes


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


@pytest.mark.parametrize("root", [None, ""])
def test_coco_without_root(root):
    with pytest.raises(
        DataError,
        match=r"data=coco needs data.root=DIR with annotations/instances_train2017.json.*train2017/, val2017/",
    ):
        build_dataset({"name": "coco", "root": root}, "train", train=True)


def test_root_that_does_not_exist(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match=f"data.root={missing} is not a directory"):
        num_classes({"name": "coco", "root": str(missing)})


def test_missing_annotation_file(coco):
    coco.annotation_file("val").unlink()
    with pytest.raises(DataError, match=f"annotation file not found: {coco.annotation_file('val')}"):
        build_dataset(coco.cfg(), "val", train=False)


@pytest.mark.parametrize("split", ["train", "val"])
def test_truncated_json_names_the_file(coco, split):
    path = coco.annotation_file(split)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=f"{path} is not valid JSON.*truncated or corrupt"):
        build_dataset(coco.cfg(), split, train=False)


def test_truncated_train_json_in_num_classes(coco):
    path = coco.annotation_file("train")
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(DataError, match=f"{path} is not valid JSON"):
        num_classes(coco.cfg())


def test_json_that_is_not_coco(coco):
    coco.annotation_file("val").write_text('{"images": []}')
    with pytest.raises(DataError, match="not a COCO instances file: no annotations, categories"):
        build_dataset(coco.cfg(), "val", train=False)


def test_missing_image_dir(coco):
    coco.image_dir("val").rename(coco.root / "elsewhere")
    with pytest.raises(DataError, match=f"image directory not found: {coco.image_dir('val')}"):
        build_dataset(coco.cfg(), "val", train=False)


def test_splits_with_different_categories(coco):
    path = coco.annotation_file("val")
    data = json.loads(path.read_text())
    data["categories"].append({"id": 18, "name": "cat", "supercategory": "animal"})
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="both splits must share one category list"):
        build_dataset(coco.cfg(), "val", train=False)


def test_unreadable_image_names_the_file(coco):
    bad = coco.image_dir("val") / coco.file_name(1)
    bad.write_bytes(b"not a png")
    ds = build_dataset(coco.cfg(), "val", train=False)
    with pytest.raises(DataError, match=f"cannot read image {bad}.*data.skip_bad_images=true"):
        ds[0]


def test_truncated_image_names_the_file(coco):
    bad = coco.image_dir("val") / coco.file_name(1)
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(DataError, match=f"cannot read image {bad}"):
        build_dataset(coco.cfg(), "val", train=False)[0]


def test_image_of_the_wrong_size(coco):
    bad = coco.image_dir("val") / coco.file_name(3)
    Image.new("RGB", (5, 5)).save(bad)
    with pytest.raises(DataError, match=f"image {bad} is 5x5 but its annotation says 16x16"):
        build_dataset(coco.cfg(), "val", train=False)[2]


def test_zero_byte_image_names_the_file(coco):
    bad = coco.image_dir("val") / coco.file_name(2)
    bad.write_bytes(b"")
    with pytest.raises(DataError, match=f"cannot read image {bad}.*data.skip_bad_images=true"):
        build_dataset(coco.cfg(), "val", train=False)[1]


def test_image_removed_after_the_check_names_the_file(coco):
    ds = build_dataset(coco.cfg(), "val", train=False)
    bad = coco.image_dir("val") / coco.file_name(2)
    bad.unlink()
    with pytest.raises(DataError, match=f"cannot read image {bad}"):
        ds[1]


def test_skip_bad_images_uses_the_next_one_and_counts_each_once(coco, caplog):
    for image_id in (1, 2):
        (coco.image_dir("val") / coco.file_name(image_id)).write_bytes(b"garbage")
    ds = build_dataset(coco.cfg(skip_bad_images=True), "val", train=False)
    with caplog.at_level(logging.WARNING):
        assert ds[0][1]["image_id"] == 3
        assert ds[1][1]["image_id"] == 3
        assert ds[0][1]["image_id"] == 3  # a known bad image is not read (nor warned about) again
    assert ds.bad_image_ids == {1, 2}
    warnings = [r.getMessage() for r in caplog.records if "skipped (data.skip_bad_images=true)" in r.getMessage()]
    assert len(warnings) == 2
    assert coco.file_name(1) in warnings[0] and "1 unreadable images skipped" in warnings[0]
    assert coco.file_name(2) in warnings[1] and "2 unreadable images skipped" in warnings[1]


def test_worker_error_keeps_one_line(coco):
    """A DataLoader worker's decode error reaches the main process as one line, not a traceback."""
    bad = coco.image_dir("val") / coco.file_name(1)
    bad.write_bytes(b"garbage")
    loader = DataLoader(build_dataset(coco.cfg(), "val", train=False), num_workers=1, collate_fn=collate_fn)
    with pytest.raises(DataError) as caught:
        next(iter(loader))
    message = str(caught.value)
    assert message.startswith(f"cannot read image {bad}") and "\n" not in message and "Traceback" not in message
    assert message.count("data.skip_bad_images=true") == 1


def test_unknown_data_set_name():
    with pytest.raises(DataError, match="data.name must be one of coco, shapes; got 'imagenet'"):
        build_dataset({"name": "imagenet"}, "train", train=True)


def test_unknown_split(coco):
    with pytest.raises(DataError, match="unknown split 'test'"):
        build_dataset(coco.cfg(), "test", train=False)


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"classes": ["circle", "hexagon"]}, "data.classes"),
        ({"min_size": 50, "max_size": 20}, "data.min_size and data.max_size"),
        ({"num_val": 0}, "data.num_val must be >= 1"),
    ],
)
def test_invalid_shapes_settings(tmp_path, setting, message):
    with pytest.raises(DataError, match=message):
        build_dataset({"name": "shapes", "root": str(tmp_path), **setting}, "train", train=True)


def test_unwritable_shapes_root(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DataError, match="cannot write the generated data set under .*set data.root=DIR"):
        num_classes({"name": "shapes", "root": str(blocker / "cache"), "num_train": 1, "num_val": 1})
