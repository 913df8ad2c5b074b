"""``RoISettings``: one RoI layer and its options, the one description everything shares.

The same dataclass is the ``roi`` config group's schema (Hydra checks keys and types
against it), the arguments of the model's poolers, the ``roi`` block of ``metrics.json``
and, normalised by what the layer reads, the report's row key. Geometry left unset
(``None``) takes the layer's paper settings from its registry entry, so ``roi=warp_max``
is just ``method: warp, agg: max``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Optional

from .geometry import LAYOUTS
from .registry import GEOMETRY_ARGS, REGISTRY, get_layer

#: Geometry of a layer that states no paper setting for an argument it reads.
GEOMETRY_DEFAULTS: dict[str, Any] = {"sampling_ratio": 2, "aligned": False, "layout": "center"}

#: Largest fixed sampling ratio a config may ask for. The plan holds K*h*w*n^2*4 weights:
#: n=16 at 512 RoIs of 7x7 is 26M entries (~0.3 GB with indices); n=64 would need ~5 GB.
MAX_SAMPLING_RATIO = 16

LAYER_KEYS = ("method", "agg", *GEOMETRY_ARGS)


@dataclass
class RoISettings:
    """A RoI layer (``method``, ``agg``) and the geometry it is read with; see docs/design.md.

    ``mask`` overrides any of ``LAYER_KEYS`` for the mask branch only (None or empty: the same layer).
    Built from a config, the settings are checked and completed (``ValueError`` naming the
    key); :meth:`from_json` keeps a record as written, even for a layer not imported here.
    """

    method: str = "align"
    agg: str = "avg"
    sampling_ratio: Optional[int] = None  # samples per bin side; <= 0: adaptive ceil(bin size)
    aligned: Optional[bool] = None  # half-pixel offset (Detectron2's ROIAlignV2)
    layout: Optional[str] = None  # center | interior | corner
    # Overrides for the mask branch, e.g. roi.mask="{sampling_ratio: 0}" (typed Any so that such an
    # override replaces the node; checked below). null: the box branch's layer.
    mask: Any = None

    def __post_init__(self) -> None:
        try:
            spec = get_layer(self.method)
            spec.check_agg(self.agg)
        except ValueError as err:
            raise ValueError(f"roi: {err}") from None
        for key in GEOMETRY_ARGS:
            if getattr(self, key) is None:
                setattr(self, key, spec.paper.get(key, GEOMETRY_DEFAULTS[key]))
        if self.layout not in LAYOUTS:
            raise ValueError(f"roi.layout: unknown layout {self.layout!r}; valid: {', '.join(LAYOUTS)}")
        if not isinstance(self.sampling_ratio, int) or self.sampling_ratio > MAX_SAMPLING_RATIO:
            raise ValueError(
                f"roi.sampling_ratio must be an integer <= {MAX_SAMPLING_RATIO} (<= 0: adaptive); got "
                f"{self.sampling_ratio!r}: the sampling plan holds K*h*w*n^2*4 weights, so n={MAX_SAMPLING_RATIO} "
                "is already ~0.3 GB at 512 RoIs of 7x7"
            )
        if self.mask is not None and not isinstance(self.mask, dict):
            raise ValueError(f"roi.mask must be a mapping of overrides for the mask branch, e.g. {{sampling_ratio: 0}}; got {self.mask!r}")
        if self.mask:
            unknown = sorted(set(self.mask) - set(LAYER_KEYS))
            if unknown:
                raise ValueError(f"roi.mask has unknown keys {unknown}; valid: {', '.join(LAYER_KEYS)}")
            try:
                self.for_branch("mask")  # checks the mask branch's layer as a whole
            except ValueError as err:
                raise ValueError(f"roi.mask={self.mask}: {err}") from None
        else:
            self.mask = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RoISettings":
        """The settings as a run record holds them, unchecked (the layer may live in a user's module)."""
        settings = cls.__new__(cls)
        for f in fields(cls):
            setattr(settings, f.name, data.get(f.name, f.default))
        settings.mask = settings.mask or None
        return settings

    def to_json(self) -> dict[str, Any]:
        """The ``roi`` block of ``metrics.json``; ``mask`` only when set (docs/design.md's format)."""
        record = {key: getattr(self, key) for key in LAYER_KEYS}
        if self.mask:
            record["mask"] = dict(self.mask)
        return record

    def layer_args(self) -> dict[str, Any]:
        """Keyword arguments of ``extract`` / ``RoIPooler`` (the box branch's layer)."""
        return {key: getattr(self, key) for key in LAYER_KEYS}

    def for_branch(self, branch: str) -> "RoISettings":
        """The layer of the ``"box"`` or ``"mask"`` branch (the box's, with ``mask`` on top)."""
        if branch == "box" or not self.mask:
            return replace(self, mask=None) if self.mask else self
        merged = {**self.layer_args(), **self.mask}
        if merged["method"] != self.method:  # another layer: its own paper geometry unless the override sets it
            merged.update({key: self.mask.get(key) for key in GEOMETRY_ARGS})
        return RoISettings(**merged)

    def normalized(self) -> "RoISettings":
        """The same layer with the geometry it does not read set to one value, so equal layers compare equal.

        A mask override that changes nothing is dropped. Layers not registered here are kept as they are.
        """
        spec = REGISTRY.get(self.method)
        ignored = {} if spec is None else {k: GEOMETRY_DEFAULTS[k] for k in GEOMETRY_ARGS if k not in spec.reads}
        box = RoISettings.from_json({**self.layer_args(), **ignored})
        if not self.mask:
            return box
        mask = RoISettings.from_json(self.for_branch("mask").layer_args()).normalized()
        changed = {k: v for k, v in asdict(mask).items() if k in LAYER_KEYS and v != getattr(box, k)}
        return replace(box, mask=changed or None)

    def key(self) -> tuple[Any, ...]:
        """A hashable tuple of every field (``mask`` as sorted items)."""
        mask = tuple(sorted((str(k), str(v)) for k, v in (self.mask or {}).items()))
        return (*(getattr(self, key) for key in LAYER_KEYS), mask)

    def __hash__(self) -> int:
        return hash(self.key())

