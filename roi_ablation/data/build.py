"""From the `data` config node to a data set: the entry points the engine and models call."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .coco import CocoInstances, annotation_path, read_categories
from .errors import DataError
from .shapes import ShapesSpec, ensure_shapes
from .transforms import RandomHorizontalFlip

COCO_LAYOUT = "annotations/instances_train2017.json, annotations/instances_val2017.json, train2017/, val2017/"


def dataset_root(data_cfg: Mapping[str, Any]) -> Path:
    """The COCO-layout directory the config points at, generating the synthetic set if needed."""
    name = data_cfg.get("name", "coco")
    root = data_cfg.get("root")
    if name == "coco":
        if root is None or str(root).strip() == "":
            raise DataError(f"data=coco needs data.root=DIR with {COCO_LAYOUT}")
        path = Path(str(root)).expanduser()
        if not path.is_dir():
            raise DataError(f"data.root={path} is not a directory; data=coco needs data.root=DIR with {COCO_LAYOUT}")
        return path
    if name == "shapes":
        if root is None:
            raise DataError("data=shapes needs data.root=DIR, the cache directory the synthetic set is generated into")
        return ensure_shapes(ShapesSpec.from_cfg(data_cfg), Path(str(root)).expanduser())
    raise DataError(f"unknown data set data.name={name!r}; use data=coco or data=shapes")


def build_dataset(data_cfg: Mapping[str, Any], split: str, train: bool) -> CocoInstances:
    """One split; `train` adds the random flip and, with data.filter_empty, drops images without targets."""
    root = dataset_root(data_cfg)
    flip_prob = float(data_cfg.get("flip_prob", 0.5))
    return CocoInstances(
        root,
        split,
        categories=read_categories(annotation_path(root, "train")),
        transform=RandomHorizontalFlip(flip_prob) if train and flip_prob > 0 else None,
        filter_empty=train and bool(data_cfg.get("filter_empty", True)),
        skip_bad_images=bool(data_cfg.get("skip_bad_images", False)),
    )


def num_classes(data_cfg: Mapping[str, Any]) -> int:
    """Number of classes including background, from the train categories, without loading images."""
    return len(read_categories(annotation_path(dataset_root(data_cfg), "train"))) + 1
