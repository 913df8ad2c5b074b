"""``DataConfig``: the ``data`` config group's schema, with its defaults and checks.

One dataclass holds every key of ``configs/data/{coco,shapes}.yaml``: the loader options
both data sets share and the synthetic generator's settings (ignored by ``data=coco``).
Hydra checks keys and types against it; ``__post_init__`` checks values, so a mistake
fails at composition with the dotted key named, not hours into a run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, List, Optional, get_args, get_origin, get_type_hints

from roi_ablation.values import is_int

from .errors import DataError
from .shapes import SHAPES

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
        self._check_types()
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

    def _check_types(self) -> None:
        """What Hydra checks for a structured config, for one built from a plain dict (scripts, tests)."""
        for key, hint in get_type_hints(DataConfig).items():
            value = getattr(self, key)
            optional = type(None) in get_args(hint)
            if not (optional and value is None):
                setattr(self, key, _checked(key, value, str if optional else get_origin(hint) or hint))


_TYPE_NAMES = {str: "a string", bool: "true or false", int: "an integer", float: "a number", list: "a list"}


def _checked(key: str, value: Any, kind: type) -> Any:
    """`value` if it is of `kind`; an integer for a float key becomes a float, so 12 and 12.0 hash alike."""
    number = is_int(value) or isinstance(value, float)
    if kind is float and number:
        if not math.isfinite(value):
            raise DataError(f"data.{key} must be a finite number; got {value}")
        return float(value)
    if kind is int and is_int(value):
        return value
    if kind is list and isinstance(value, Sequence) and not isinstance(value, str):
        return [str(v) for v in value]
    if kind in (str, bool) and isinstance(value, kind):
        return value
    raise DataError(f"data.{key} must be {_TYPE_NAMES[kind]}; got {value!r}")


def as_data_config(cfg: DataConfig | Mapping[str, Any]) -> DataConfig:
    """The checked ``DataConfig`` of a ``data`` node: itself, or built from a dict / DictConfig.

    Keys a mapping leaves out take the schema's defaults; an unknown key is refused by name.
    """
    if isinstance(cfg, DataConfig):
        return cfg
    from omegaconf import DictConfig, OmegaConf

    values = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    known = {f.name for f in fields(DataConfig)}
    unknown = sorted(str(k) for k in values if k not in known)  # type: ignore[union-attr]
    if unknown:
        raise DataError(f"data.{unknown[0]} is not a data setting; valid keys: {', '.join(sorted(known))}")
    return DataConfig(**values)  # type: ignore[arg-type]
