"""The COCO loader on the hand-made fixture: what it returns for every quirk."""

import logging

import numpy as np
import torch

from roi_ablation.data import build_dataset, num_classes
from roi_ablation.data import coco as coco_module
from roi_ablation.data.coco import read_categories


def test_categories_map_to_contiguous_labels(coco):
    ds = build_dataset(coco.cfg(), "train", train=True)
    assert ds.num_classes == 3 == num_classes(coco.cfg())
    assert ds.label_to_category == [0, coco.CAR, coco.DOG]
    assert ds.category_names == ["__background__", "car", "dog"]


def test_training_skips_images_without_targets_evaluation_keeps_all(coco):
    assert build_dataset(coco.cfg(), "train", train=True).image_ids == [1, 2]
    assert build_dataset(coco.cfg(filter_empty=False), "train", train=True).image_ids == [1, 2, 3, 4]
    assert build_dataset(coco.cfg(), "val", train=False).image_ids == [1, 2, 3, 4]


def test_polygons_rle_crowd_and_degenerate_boxes(coco, caplog):
    with caplog.at_level(logging.WARNING):
        ds = build_dataset(coco.cfg(), "val", train=False)
    image, target = ds[ds.image_ids.index(1)]
    assert image.dtype == torch.float32 and image.shape == (3, 30, 40)
    assert torch.equal(image, torch.from_numpy(coco.pixels[1]).permute(2, 0, 1).float() / 255)
    assert target["image_id"] == 1
    # The crowd region (id 3) and the 0.5 px wide box (id 4) are not targets.
    assert target["labels"].tolist() == [2, 1]  # dog (17), car (3)
    assert target["labels"].dtype == torch.int64
    assert target["boxes"].dtype == torch.float32
    assert target["boxes"].tolist() == [[2, 2, 30, 20], [12, 20, 19, 27]]
    masks = target["masks"]
    assert masks.dtype == torch.uint8 and masks.shape == (2, 30, 40)
    # Multi-part polygon: both parts set, the gap between them empty.
    assert masks[0, 5, 6] == 1 and masks[0, 15, 25] == 1 and masks[0, 15, 15] == 0 and masks[0, 5, 25] == 0
    assert torch.equal(masks[1], torch.from_numpy(coco.car_mask_1))  # compressed RLE
    # Crowd regions stay in the COCO object for evaluation.
    assert ds.coco.anns[3]["iscrowd"] == 1 and ds.coco.anns[6]["iscrowd"] == 1
    # Degenerate boxes are counted and logged once for the data set.
    logged = [
        r.getMessage() for r in caplog.records if "degenerate" in r.getMessage() or "under 1 px" in r.getMessage()
    ]
    assert len(logged) == 1 and "dropped 2 annotations" in logged[0]


def test_grayscale_image_and_uncompressed_rle(coco):
    ds = build_dataset(coco.cfg(), "val", train=False)
    image, target = ds[ds.image_ids.index(2)]
    gray = torch.from_numpy(coco.pixels[2]).float() / 255
    assert image.shape == (3, 25, 20)
    assert all(torch.equal(image[c], gray) for c in range(3))
    assert torch.equal(target["masks"][0], torch.from_numpy(coco.car_mask_2))
    assert target["boxes"].tolist() == [[3, 4, 9, 21]]


def test_image_without_targets_has_empty_tensors(coco):
    ds = build_dataset(coco.cfg(), "val", train=False)
    assert [target["image_id"] for _, target in ds] == [1, 2, 3, 4]
    for image_id in (3, 4):
        image, target = ds[ds.image_ids.index(image_id)]
        assert target["boxes"].shape == (0, 4) and target["labels"].shape == (0,)
        assert target["masks"].shape == (0, *image.shape[-2:])


def test_training_flip_moves_boxes_and_masks(coco):
    plain = build_dataset(coco.cfg(), "train", train=True)
    flipped = build_dataset(coco.cfg(flip_prob=1.0), "train", train=True)
    (image, target), (f_image, f_target) = plain[0], flipped[0]
    assert torch.equal(f_image, image.flip(-1))
    assert torch.equal(f_target["masks"], target["masks"].flip(-1))
    assert f_target["boxes"].tolist() == [[10, 2, 38, 20], [21, 20, 28, 27]]


def test_evaluation_never_flips(coco):
    ds = build_dataset(coco.cfg(flip_prob=1.0), "val", train=False)
    assert torch.equal(ds[0][0], torch.from_numpy(coco.pixels[1]).permute(2, 0, 1).float() / 255)


def test_categories_read_from_tail_or_full_file(coco, monkeypatch):
    tail = read_categories(coco.annotation_file("train"))
    monkeypatch.setattr(coco_module, "_TAIL_BYTES", 16)  # too short: falls back to a full load
    assert read_categories(coco.annotation_file("train")) == tail
    assert [c["id"] for c in tail] == [coco.CAR, coco.DOG]


def test_masks_match_pycocotools(coco):
    """The loader's masks are exactly COCO.annToMask, so training and COCOeval agree."""
    ds = build_dataset(coco.cfg(), "val", train=False)
    _, target = ds[0]
    expected = np.stack([ds.coco.annToMask(ds.coco.anns[i]) for i in (1, 2)])
    assert np.array_equal(target["masks"].numpy(), expected)
