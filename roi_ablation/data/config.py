"""``DataConfig``: the ``data`` config group's schema, with its defaults and checks.

One dataclass holds every key of ``configs/data/{coco,shapes}.yaml``: the loader options
both data sets share and the synthetic generator's settings (ignored by ``data=coco``).
Hydra (or ``schema.typed``, for a node from a script) checks keys and types against it;
``__post_init__`` checks values, so a mistake fails at composition with the dotted key
named, not hours into a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import List, Optional, get_type_hints

from .errors import DataError
from .shapes import SHAPES, ShapesSpec

DATA_SETS = ("coco", "shapes")
ON_BAD_ANNOTATION = ("error", "skip")
MIN_OBJECT_SIZE = 8  # px: a smaller generated shape has too few pixels to tell its class


@dataclass
class DataConfig:
    """The ``data`` group; see the yaml files for what each key does."""

    name: str = "coco"
    root: Optional[str] = None
    filter_empty: bool = True
    flip_prob: float = 0.5
    aspect_ratio_grouping: bool = False
    skip_bad_images: bool = False
    on_bad_annotation: str = "error"
    # Synthetic generator (data=shapes only).
    num_train: int = 2000
    num_val: int = 200
    image_size: int = 192
    classes: List[str] = field(default_factory=lambda: ["circle", "square", "triangle", "bar", "ring"])
    min_size: float = 12.0
    max_size: float = 64.0
    max_objects: int = 6
    min_visible: float = 0.4
    noise: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.name not in DATA_SETS:
            raise DataError(f"data.name must be one of {', '.join(DATA_SETS)}; got {self.name!r}")
        if self.on_bad_annotation not in ON_BAD_ANNOTATION:
            raise DataError(
                f"data.on_bad_annotation must be one of {', '.join(ON_BAD_ANNOTATION)}; got {self.on_bad_annotation!r}"
            )
        if not 0.0 <= self.flip_prob <= 1.0:
            raise DataError(f"data.flip_prob must be in [0, 1]; got {self.flip_prob}")
        for key in ("num_train", "num_val", "max_objects"):
            if getattr(self, key) < 1:
                raise DataError(f"data.{key} must be >= 1; got {getattr(self, key)}")
        if self.image_size < MIN_OBJECT_SIZE:
            raise DataError(f"data.image_size must be >= {MIN_OBJECT_SIZE}; got {self.image_size}")
        if not MIN_OBJECT_SIZE <= self.min_size <= self.max_size <= self.image_size:
            raise DataError(
                f"data.min_size and data.max_size must satisfy {MIN_OBJECT_SIZE} <= min_size <= max_size <= "
                f"image_size; got min_size={self.min_size}, max_size={self.max_size}, image_size={self.image_size}"
            )
        if not 0.0 <= self.min_visible <= 1.0:
            raise DataError(f"data.min_visible must be in [0, 1]; got {self.min_visible}")
        if self.noise < 0:
            raise DataError(f"data.noise must be >= 0; got {self.noise}")
        unknown = [c for c in self.classes if c not in SHAPES]
        if not self.classes or unknown or len(set(self.classes)) < len(self.classes):
            raise DataError(f"data.classes must be distinct names from {', '.join(SHAPES)}; got {self.classes}")

    def shapes_spec(self) -> ShapesSpec:
        """The synthetic generator's settings; an integer for a float key is a float, so 12 and 12.0 share a cache."""
        kinds = get_type_hints(ShapesSpec)
        values = {f.name: getattr(self, f.name) for f in fields(ShapesSpec)}
        return ShapesSpec(**{**values, **{k: float(v) for k, v in values.items() if kinds[k] is float},
                             "classes": tuple(self.classes)})
