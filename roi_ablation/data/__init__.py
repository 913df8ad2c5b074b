"""Data sets for roi-ablation: real COCO 2017 or the synthetic shapes set, both read as COCO.

ds = build_dataset(cfg.data, split="train", train=True)
loader = DataLoader(ds, batch_size=4, collate_fn=collate_fn)
"""

from .batching import GroupedBatchSampler, aspect_ratio_group_ids, collate_fn
from .build import build_dataset, dataset_root, num_classes
from .coco import CocoInstances
from .config import DataConfig
from .errors import DataError
from .shapes import ShapesSpec, ensure_shapes

__all__ = [
    "CocoInstances",
    "DataConfig",
    "DataError",
    "GroupedBatchSampler",
    "ShapesSpec",
    "aspect_ratio_group_ids",
    "build_dataset",
    "collate_fn",
    "dataset_root",
    "ensure_shapes",
    "num_classes",
]
