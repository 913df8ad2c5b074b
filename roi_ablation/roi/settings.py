"""``RoISettings``: one RoI layer and its options, the one value everything shares.

The settings flow config -> pooler -> ``extract`` -> run record -> table row ->
TensorBoard -> explainer as this one immutable value (docs/design.md draws the path):
it is the ``roi`` config group's schema (Hydra checks keys and types against it), what
``extract``, ``build_plan`` and ``RoIPooler`` complete their arguments with, the ``roi``
block of ``metrics.json`` and, normalised by what the layer reads, the report's row key.

Defaults live here and in the registry only: ``method`` and ``agg`` are the fields'
defaults; geometry left unset (``None``) takes the layer's paper settings from its
registry entry, else ``GEOMETRY_DEFAULTS``, so ``roi=warp_max`` is just
``method: warp, agg: max``. Which geometry a layer reads, its variant key, its table
label and its HParams values are methods, so no other module re-derives them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import FrozenInstanceError, asdict, dataclass, fields, replace
from typing import Any, Optional

from roi_ablation.values import is_int

from .geometry import LAYOUTS
from .registry import GEOMETRY_ARGS, REGISTRY, get_layer

#: Geometry of a layer that states no paper setting for an argument it reads.
GEOMETRY_DEFAULTS: dict[str, Any] = {"sampling_ratio": 2, "aligned": False, "layout": "center"}

#: Largest fixed sampling ratio a model may be configured with (``check_plan_size``). The plan holds K*h*w*n^2*4 weights:
#: n=16 at 512 RoIs of 7x7 is 26M entries (~0.3 GB with indices); n=64 would need ~5 GB.
MAX_SAMPLING_RATIO = 16

LAYER_KEYS = ("method", "agg", *GEOMETRY_ARGS)


@dataclass
class RoISettings:
    """A RoI layer (``method``, ``agg``) and the geometry it is read with; see docs/design.md.

    ``mask`` overrides any of ``LAYER_KEYS`` for the mask branch only (None or empty: the same layer).
    Built from a config, the settings are checked and completed (``ValueError`` naming the
    key); :meth:`from_json` keeps a record as written, even for a layer not imported here.

    Immutable once built (assigning a field raises ``FrozenInstanceError``; derive a variant
    with ``dataclasses.replace``). It is not declared ``frozen=True`` because OmegaConf makes
    the config node of a frozen dataclass read-only, and then no override could set ``roi``.
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
                object.__setattr__(self, key, spec.paper.get(key, GEOMETRY_DEFAULTS[key]))
        if self.layout not in LAYOUTS:
            raise ValueError(f"roi.layout: unknown layout {self.layout!r}; valid: {', '.join(LAYOUTS)}")
        if not is_int(self.sampling_ratio):
            raise ValueError(f"roi.sampling_ratio must be an integer (<= 0: adaptive); got {self.sampling_ratio!r}")
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
            object.__setattr__(self, "mask", None)
        object.__setattr__(self, "_sealed", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("_sealed"):
            raise FrozenInstanceError(f"RoISettings is immutable: use dataclasses.replace(settings, {name}=...)")
        object.__setattr__(self, name, value)

    @classmethod
    def of(cls, **given: Any) -> "RoISettings":
        """Checked settings from keyword arguments where ``None`` means "the default"
        (``extract``'s, ``build_plan``'s and ``RoIPooler``'s arguments)."""
        return cls(**{key: value for key, value in given.items() if value is not None})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RoISettings":
        """The settings as a run record holds them, unchecked (the layer may live in a user's module)."""
        settings = cls.__new__(cls)
        for f in fields(cls):
            object.__setattr__(settings, f.name, data.get(f.name, f.default))
        object.__setattr__(settings, "mask", settings.mask or None)
        object.__setattr__(settings, "_sealed", True)
        return settings

    @classmethod
    def described(cls, roi: dict[str, Any]) -> "RoISettings":
        """The settings of a config's ``roi`` node as far as it goes: checked and completed when valid,
        else as written (for the record of a run whose config was refused or never ran)."""
        try:
            return cls(**roi)
        except (TypeError, ValueError):
            return cls.from_json(roi)

    def to_json(self) -> dict[str, Any]:
        """The ``roi`` block of ``metrics.json``; ``mask`` only when set (docs/design.md's format)."""
        record = {key: getattr(self, key) for key in LAYER_KEYS}
        if self.mask:
            record["mask"] = dict(self.mask)
        return record

    def layer_args(self) -> dict[str, Any]:
        """Keyword arguments of ``extract`` / ``RoIPooler`` (the box branch's layer)."""
        return {key: getattr(self, key) for key in LAYER_KEYS}

    def geometry(self) -> dict[str, Any]:
        """``sampling_ratio``, ``aligned`` and ``layout``: what a plan builder is called with."""
        return {key: getattr(self, key) for key in GEOMETRY_ARGS}

    @property
    def reads(self) -> frozenset[str]:
        """The geometry arguments the layer reads (all of them for a layer not registered here)."""
        spec = REGISTRY.get(self.method)
        return spec.reads if spec is not None else frozenset(GEOMETRY_ARGS)

    def paper_geometry(self, key: str) -> Any:
        """The value of geometry argument ``key`` the layer is run with when nothing sets it."""
        spec = REGISTRY.get(self.method)
        return (spec.paper if spec is not None else {}).get(key, GEOMETRY_DEFAULTS[key])

    def is_preset(self) -> bool:
        """A registered layer exactly as its paper settings run it (aggregation aside), no mask override."""
        return (self.method in REGISTRY and not self.mask
                and all(getattr(self, key) == self.paper_geometry(key) for key in self.reads))

    def variant_key(self) -> str:
        """A compact key naming every setting the layer reads, e.g. ``align/avg/n=2/unaligned/center``."""
        parts = [self.method, self.agg]
        if "sampling_ratio" in self.reads:
            adaptive = isinstance(self.sampling_ratio, int) and self.sampling_ratio <= 0
            parts.append("n=adaptive" if adaptive else f"n={self.sampling_ratio}")
        if "aligned" in self.reads:
            parts.append("aligned" if self.aligned else "unaligned")
        if "layout" in self.reads:
            parts.append(str(self.layout))
        if self.mask:
            parts.append("mask:" + ",".join(f"{k}={v}" for k, v in sorted(self.mask.items())))
        return "/".join(parts)

    def label(self, paper_aggs: Collection[str] = ()) -> str:
        """A table's ``method`` cell: the layer's title plus how it departs from its paper settings.

        ``paper_aggs``: the aggregations the paper ran the layer with; another one is noted.
        """
        spec = REGISTRY.get(self.method)
        if spec is None:
            return self.method
        notes: list[str] = [self.agg] if paper_aggs and self.agg not in paper_aggs else []
        for key in sorted(self.reads, key=("layout", "sampling_ratio", "aligned").index):
            value = getattr(self, key)
            if value == self.paper_geometry(key):
                continue
            if key == "sampling_ratio":
                notes.append("adaptive n" if value <= 0 else f"n={value}")
            elif key == "aligned":
                notes.append("aligned" if value else "unaligned")
            else:
                notes.append(str(value))
        if self.mask:
            notes.append("mask " + " ".join(f"{k}={v}" for k, v in sorted(self.mask.items())))
        return f"{spec.title} ({', '.join(notes)})" if notes else spec.title

    def shown_value(self, key: str) -> Any:
        """Field ``key`` as a dashboard shows it: a geometry argument the layer does not read
        (other than a flag) is ``unused``, as the tables treat it."""
        value = getattr(self, key)
        if key in GEOMETRY_ARGS and key not in self.reads and not isinstance(value, bool):
            return "unused"
        return value

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
        ignored = {} if self.method not in REGISTRY else {k: GEOMETRY_DEFAULTS[k] for k in GEOMETRY_ARGS if k not in self.reads}
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

    def check_plan_size(self) -> None:
        """``ValueError`` if a branch asks for more than ``MAX_SAMPLING_RATIO`` samples per bin side.

        A model's check, not the carrier's: ``extract`` on a few RoIs may sample more (a limit
        taken in a test), a detector's 512 RoIs per batch may not.
        """
        for branch in ("box", "mask"):
            ratio = self.for_branch(branch).sampling_ratio
            if isinstance(ratio, int) and ratio > MAX_SAMPLING_RATIO:
                key = "roi.sampling_ratio" if branch == "box" else "roi.mask.sampling_ratio"
                raise ValueError(
                    f"{key} must be an integer <= {MAX_SAMPLING_RATIO} (<= 0: adaptive); got {ratio!r}: the sampling "
                    f"plan holds K*h*w*n^2*4 weights, so n={MAX_SAMPLING_RATIO} is already ~0.3 GB at 512 RoIs of 7x7"
                )

