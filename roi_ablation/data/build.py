"""From the `data` config node to a data set: the entry points the engine and models call.

Each takes a `DataConfig` or anything it can be built from (a DictConfig, a dict): the
node goes through `schema.typed`, so a plain dict from a script gets the same checks and
defaults as a composed config.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roi_ablation.schema import typed

from .coco import CocoInstances, annotation_path, read_categories
from .config import DataConfig
from .errors import DataError
from .shapes import ensure_shapes
from .transforms import RandomHorizontalFlip

COCO_LAYOUT = "annotations/instances_train2017.json, annotations/instances_val2017.json, train2017/, val2017/"

DataNode = DataConfig | Mapping[str, Any]


def dataset_root(data_cfg: DataNode) -> Path:
    """The COCO-layout directory the config points at, generating the synthetic set if needed."""
    cfg = typed(DataConfig, data_cfg, "data")
    if cfg.name == "coco":
        if cfg.root is None or cfg.root.strip() == "":
            raise DataError(f"data=coco needs data.root=DIR with {COCO_LAYOUT}")
        path = Path(cfg.root).expanduser()
        if not path.is_dir():
            raise DataError(f"data.root={path} is not a directory; data=coco needs data.root=DIR with {COCO_LAYOUT}")
        return path
    if cfg.root is None:
        raise DataError("data=shapes needs data.root=DIR, the cache directory the synthetic set is generated into")
    return ensure_shapes(cfg.shapes_spec(), Path(cfg.root).expanduser())


def build_dataset(data_cfg: DataNode, split: str, train: bool) -> CocoInstances:
    """One split; `train` adds the random flip and, with data.filter_empty, drops images without targets."""
    cfg = typed(DataConfig, data_cfg, "data")
    root = dataset_root(cfg)
    return CocoInstances(
        root,
        split,
        categories=read_categories(annotation_path(root, "train")),
        transform=RandomHorizontalFlip(cfg.flip_prob) if train and cfg.flip_prob > 0 else None,
        filter_empty=train and cfg.filter_empty,
        skip_bad_images=cfg.skip_bad_images,
        on_bad_annotation=cfg.on_bad_annotation,
    )


def num_classes(data_cfg: DataNode) -> int:
    """Number of classes including background, from the train categories, without loading images."""
    return len(read_categories(annotation_path(dataset_root(data_cfg), "train"))) + 1
