"""A hand-made COCO 2017 layout with every quirk the loader must handle.

train2017 and val2017 hold the same four images and annotations:
  image 1 (RGB 40x30): multi-part polygon (dog), compressed RLE (car), crowd region
                       (uncompressed RLE, dog), degenerate box (car)
  image 2 (grayscale 20x25): uncompressed RLE (car)
  image 3 (RGB 16x16): no annotations
  image 4 (RGB 24x12): only a crowd region and a degenerate box, so no training target
Category ids are non-contiguous (3 = car, 17 = dog) and listed out of order.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

CAR, DOG = 3, 17


def uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO's uncompressed RLE: run lengths over the column-major pixels, starting with zeros."""
    flat = mask.flatten(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts = [0, *counts]
    return {"size": list(mask.shape), "counts": counts}


def box_mask(height: int, width: int, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[y1:y2, x1:x2] = 1
    return mask


class Fixture:
    """Paths and the ground truth the assertions compare against."""

    CAR, DOG = CAR, DOG

    def __init__(self, root: Path) -> None:
        self.root = root
        rng = np.random.default_rng(0)
        self.pixels = {
            1: rng.integers(0, 256, (30, 40, 3), dtype=np.uint8),
            2: rng.integers(0, 256, (25, 20), dtype=np.uint8),
            3: rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
            4: rng.integers(0, 256, (12, 24, 3), dtype=np.uint8),
        }
        self.car_mask_1 = box_mask(30, 40, 12, 20, 19, 27)  # compressed RLE, image 1
        self.car_mask_2 = box_mask(25, 20, 3, 4, 9, 21)  # uncompressed RLE, image 2
        crowd_1 = box_mask(30, 40, 30, 0, 40, 10)
        crowd_4 = box_mask(12, 24, 0, 0, 10, 10)
        car_rle = mask_utils.encode(np.asfortranarray(self.car_mask_1))
        car_rle = {"size": car_rle["size"], "counts": car_rle["counts"].decode("ascii")}
        tiny = [5.0, 5.0, 5.5, 5.0, 5.5, 9.0]
        self.annotations = [
            {
                "id": 1,
                "image_id": 1,
                "category_id": DOG,
                "iscrowd": 0,
                "bbox": [2.0, 2.0, 28.0, 18.0],
                "area": 108.0,
                "segmentation": [[2, 2, 10, 2, 10, 8, 2, 8], [20, 10, 30, 10, 30, 20, 20, 20]],
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": CAR,
                "iscrowd": 0,
                "bbox": [12.0, 20.0, 7.0, 7.0],
                "area": 49.0,
                "segmentation": car_rle,
            },
            {
                "id": 3,
                "image_id": 1,
                "category_id": DOG,
                "iscrowd": 1,
                "bbox": [30.0, 0.0, 10.0, 10.0],
                "area": 100.0,
                "segmentation": uncompressed_rle(crowd_1),
            },
            {
                "id": 4,
                "image_id": 1,
                "category_id": CAR,
                "iscrowd": 0,
                "bbox": [5.0, 5.0, 0.5, 4.0],
                "area": 1.0,
                "segmentation": [tiny],
            },
            {
                "id": 5,
                "image_id": 2,
                "category_id": CAR,
                "iscrowd": 0,
                "bbox": [3.0, 4.0, 6.0, 17.0],
                "area": 102.0,
                "segmentation": uncompressed_rle(self.car_mask_2),
            },
            {
                "id": 6,
                "image_id": 4,
                "category_id": DOG,
                "iscrowd": 1,
                "bbox": [0.0, 0.0, 10.0, 10.0],
                "area": 100.0,
                "segmentation": uncompressed_rle(crowd_4),
            },
            {
                "id": 7,
                "image_id": 4,
                "category_id": DOG,
                "iscrowd": 0,
                "bbox": [20.0, 3.0, 3.0, 0.0],
                "area": 0.0,
                "segmentation": [[20, 3, 23, 3, 23, 3.5]],
            },
        ]
        images = [
            {"id": i, "file_name": self.file_name(i), "width": p.shape[1], "height": p.shape[0]}
            for i, p in self.pixels.items()
        ]
        dataset = {
            "info": {},
            "licenses": [],
            "images": images,
            "annotations": self.annotations,
            "categories": [
                {"id": DOG, "name": "dog", "supercategory": "animal"},
                {"id": CAR, "name": "car", "supercategory": "vehicle"},
            ],
        }
        (root / "annotations").mkdir(parents=True)
        for split in ("train", "val"):
            self.annotation_file(split).write_text(json.dumps(dataset))
            self.image_dir(split).mkdir()
            for image_id, pixels in self.pixels.items():
                Image.fromarray(pixels).save(self.image_dir(split) / self.file_name(image_id))

    @staticmethod
    def file_name(image_id: int) -> str:
        return f"{image_id:012d}.png"

    def annotation_file(self, split: str) -> Path:
        return self.root / "annotations" / f"instances_{split}2017.json"

    def image_dir(self, split: str) -> Path:
        return self.root / f"{split}2017"

    def cfg(self, **overrides: Any) -> dict[str, Any]:
        return {"name": "coco", "root": str(self.root), "flip_prob": 0.0, **overrides}


@pytest.fixture
def coco(tmp_path: Path) -> Fixture:
    return Fixture(tmp_path / "coco")
