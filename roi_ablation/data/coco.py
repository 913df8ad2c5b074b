"""COCO-format instance segmentation, read with pycocotools.

Handles what real COCO 2017 contains: polygons with several parts, compressed and
uncompressed RLE, crowd regions (kept in `coco` for evaluation, never training
targets), images without annotations, grayscale images, non-contiguous category ids
(mapped to contiguous labels 1..K, 0 being background) and degenerate boxes (dropped).
What it does not accept, malformed entries, is refused (or skipped) before any image is
read: see validate.py. Images are decoded lazily; one that cannot be is named in one line.
"""

import contextlib
import hashlib
import io
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from torch import Tensor
from torch.utils.data import Dataset

from roi_ablation.values import is_int

from .errors import DataError
from .validate import checked_annotations

logger = logging.getLogger(__name__)

SPLITS = ("train", "val")
Target = dict[str, Any]
Transform = Callable[[Tensor, Target], tuple[Tensor, Target]]
ImageTargets = tuple[list[dict[str, Any]], list[list[float]]]  # training annotations, their xyxy boxes


def annotation_path(root: Path, split: str) -> Path:
    return root / "annotations" / f"instances_{split}2017.json"


def image_dir(root: Path, split: str) -> Path:
    return root / f"{split}2017"


def load_annotations(path: Path) -> tuple[dict[str, Any], str]:
    """The parsed annotation file and its SHA-256 (the key of its cached checks), or a DataError
    naming the file and what is wrong."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"annotation file not found: {path} (expected the COCO 2017 layout under data.root)") from None
    except OSError as err:
        raise DataError(f"cannot read annotation file {path} ({err})") from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(
            f"{path} is not valid JSON ({err}): the file is truncated or corrupt; download it again"
        ) from None
    missing = [
        k
        for k in ("images", "annotations", "categories")
        if not isinstance(data, dict) or not isinstance(data.get(k), list)
    ]
    if missing:
        raise DataError(f"{path} is not a COCO instances file: no {', '.join(missing)} list")
    ids = [c.get("id") if isinstance(c, dict) and isinstance(c.get("name"), str) else None for c in data["categories"]]
    if not all(is_int(i) for i in ids) or len(set(ids)) < len(ids):
        raise DataError(f"{path}: every category needs a distinct integer id and a name; got ids {ids}")
    return data, hashlib.sha256(raw).hexdigest()


_CATEGORIES_KEY = re.compile(r'"categories"\s*:\s*(?=\[)')
_TAIL_BYTES = 1 << 20


def read_categories(path: Path) -> list[dict[str, Any]]:
    """The categories of an annotation file, sorted by id.

    COCO writes `categories` last, so the file's tail is parsed first: that makes
    counting classes for the model instant instead of a ~20 s, multi-GB load of
    instances_train2017.json. Falls back to a full load for any other layout.
    """
    if path.is_file():
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - _TAIL_BYTES))
            tail = f.read().decode("utf-8", errors="replace")
        for match in reversed(list(_CATEGORIES_KEY.finditer(tail))):
            try:
                categories, _ = json.JSONDecoder().raw_decode(tail, match.end())
            except ValueError:
                continue
            if all(isinstance(c, dict) and "id" in c and "name" in c for c in categories):
                return sorted(categories, key=lambda c: c["id"])
    return sorted(load_annotations(path)[0]["categories"], key=lambda c: c["id"])


class UnreadableImage(DataError):
    """An image file that cannot be used: `problem` says why, the message adds the fix."""

    FIX = "replace the file, or set data.skip_bad_images=true to skip such images"

    def __init__(self, problem: str) -> None:
        if problem.startswith(f"Caught {type(self).__name__}"):
            # A DataLoader worker's error, re-raised by torch as this type with the worker's
            # traceback as text: its last line is the original message, all the user needs.
            problem = problem.rstrip().rsplit("\n", 1)[-1].split(": ", 1)[-1].removesuffix(f"; {self.FIX}")
        super().__init__(f"{problem}; {self.FIX}")
        self.problem = problem


def read_rgb(path: Path, size: tuple[int, int]) -> Tensor:
    """A float32 [3, H, W] image in [0, 1]; any mode (grayscale, palette, CMYK) becomes RGB."""
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as err:  # what Pillow raises for missing, non-image or truncated files
        raise UnreadableImage(f"cannot read image {path} ({err})") from None
    if rgb.size != size:
        raise UnreadableImage(
            f"image {path} is {rgb.size[0]}x{rgb.size[1]} but its annotation says {size[0]}x{size[1]}"
        )
    return torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float().div_(255)


def _xyxy_box(ann: dict[str, Any], width: int, height: int) -> list[float] | None:
    """The annotation's box as xyxy clipped to the image, or None if under 1 px wide or high."""
    x, y, w, h = ann["bbox"]
    x1, y1, x2, y2 = max(x, 0.0), max(y, 0.0), min(x + w, width), min(y + h, height)
    return [x1, y1, x2, y2] if x2 - x1 >= 1 and y2 - y1 >= 1 else None


class CocoInstances(Dataset[tuple[Tensor, Target]]):
    """One split of a COCO-layout data set; samples are (image, target) as torchvision's Mask R-CNN takes them.

    Labels follow `categories` (the train split's, i.e. the model's label space); the
    split's own annotation file must list the same category ids.
    """

    def __init__(
        self,
        root: Path,
        split: str,
        categories: list[dict[str, Any]],
        transform: Transform | None = None,
        filter_empty: bool = False,
        skip_bad_images: bool = False,
        on_bad_annotation: str = "error",
    ) -> None:
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; use one of {SPLITS}")
        ann_file = annotation_path(root, split)
        data, digest = load_annotations(ann_file)
        self.image_dir = image_dir(root, split)
        if not self.image_dir.is_dir():
            raise DataError(f"image directory not found: {self.image_dir} (expected next to {root / 'annotations'})")
        self.coco = _make_coco(checked_annotations(ann_file, data, digest, self.image_dir, on_bad_annotation))
        category_ids = [c["id"] for c in categories]
        if sorted(self.coco.cats) != category_ids:
            raise DataError(
                f"{ann_file} has category ids {sorted(self.coco.cats)} but the train split has {category_ids}; "
                "both splits must share one category list"
            )
        self.label_to_category = [0, *category_ids]
        self.category_names = ["__background__", *(c["name"] for c in categories)]
        self.num_classes = len(self.label_to_category)
        self._category_to_label = {cat: label for label, cat in enumerate(self.label_to_category) if label}
        self.transform = transform
        self.skip_bad_images = skip_bad_images
        self.bad_image_ids: set[int] = set()
        self._targets, degenerate = self._scan_annotations()
        if degenerate:
            logger.warning("%s: dropped %d annotations whose box is under 1 px wide or high", ann_file, degenerate)
        self.image_ids = sorted(i for i in self.coco.imgs if self._targets[i][0] or not filter_empty)
        if not self.image_ids:
            usable = " with a usable (non-crowd, non-degenerate) annotation" if filter_empty else ""
            raise DataError(f"{ann_file} has no image{usable}")

    def _scan_annotations(self) -> tuple[dict[int, ImageTargets], int]:
        """Per image, its training annotations and their boxes; and how many boxes were degenerate."""
        targets: dict[int, ImageTargets] = {}
        degenerate = 0
        for image_id, info in self.coco.imgs.items():
            anns, boxes = [], []
            for ann in self.coco.imgToAnns.get(image_id, []):
                if ann["iscrowd"]:
                    continue
                box = _xyxy_box(ann, info["width"], info["height"])
                if box is None:
                    degenerate += 1
                    continue
                anns.append(ann)
                boxes.append(box)
            targets[image_id] = (anns, boxes)
        return targets, degenerate

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int) -> tuple[Tensor, Target]:
        # With skip_bad_images an unreadable image is replaced by the next readable one,
        # so batches keep their size; evaluation sees that image's id twice.
        start = range(len(self))[index]  # IndexError past the end, as iteration expects
        for offset in range(len(self)):
            image_id = self.image_ids[(start + offset) % len(self)]
            image = None if image_id in self.bad_image_ids else self._read_image(image_id)
            if image is not None:
                target = self._target(image_id, image.shape[-2:])
                return self.transform(image, target) if self.transform else (image, target)
        raise DataError(f"no image in {self.image_dir} could be read")

    def _read_image(self, image_id: int) -> Tensor | None:
        """The image, or None (warned once per image and process) when unreadable and skip_bad_images is set."""
        info = self.coco.imgs[image_id]
        try:
            return read_rgb(self.image_dir / info["file_name"], (info["width"], info["height"]))
        except UnreadableImage as err:
            if not self.skip_bad_images:
                raise
            self.bad_image_ids.add(image_id)
            logger.warning(
                "%s: skipped (data.skip_bad_images=true); %d unreadable images skipped so far in this process",
                err.problem,
                len(self.bad_image_ids),
            )
            return None

    def _target(self, image_id: int, size: torch.Size) -> Target:
        anns, boxes = self._targets[image_id]
        if anns:
            masks = torch.from_numpy(
                np.ascontiguousarray(mask_utils.decode([self.coco.annToRLE(a) for a in anns]).transpose(2, 0, 1))
            )
        else:
            masks = torch.zeros((0, *size), dtype=torch.uint8)
        return {
            "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor([self._category_to_label[a["category_id"]] for a in anns], dtype=torch.int64),
            "masks": masks,
            "image_id": image_id,
        }


def _make_coco(dataset: dict[str, Any]) -> COCO:
    """A COCO index over already-parsed annotations, without pycocotools' progress prints."""
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco
