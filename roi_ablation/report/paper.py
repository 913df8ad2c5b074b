"""The paper's numbers and row definitions (Mask R-CNN, He et al. 2017, Tables 2c and 2d).

A run lands on a paper row only when its RoI layer is the paper's preset (see `PRESETS`);
every other setting becomes an extra row of the same table, labelled by how it differs,
so an ablation beyond the paper is never mistaken for a reproduction of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from roi_ablation.report.collect import RoiSettings

MASK_METRICS = ("AP", "AP50", "AP75")
BOX_METRICS = ("APbb", "APbb50", "APbb75")

#: Display names of the built-in layers; user-registered layers keep their own name.
METHOD_NAMES = {"pool": "RoIPool", "warp": "RoIWarp", "align": "RoIAlign"}

#: What the paper's columns "align?" and "bilinear?" say about each built-in layer.
FLAGS = {"pool": (False, False), "warp": (False, True), "align": (True, True)}

#: The layers as the paper ran them (the `roi=` presets): (sampling_ratio, layout), or
#: None where the layer reads neither. All are aligned=False, the 2017 convention.
PRESETS: dict[str, tuple[int, str] | None] = {
    "pool": None,
    "warp": (2, "corner"),
    "align": (2, "center"),
}


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper table; `aggs` lists the aggregations that fill it, preferred first."""

    method: str
    aggs: tuple[str, ...]
    values: dict[str, float]


@dataclass(frozen=True)
class Layout:
    """How one table looks: its columns, its paper rows, and which metrics it compares."""

    stem: str
    title: str
    stride: int
    lead_columns: tuple[str, ...]
    metrics: tuple[str, ...]
    info_metrics: tuple[str, ...]
    tail_columns: tuple[str, ...]
    paper_rows: tuple[PaperRow, ...]
    source: str


def _row(method: str, aggs: tuple[str, ...], metrics: tuple[str, ...], *values: float) -> PaperRow:
    return PaperRow(method, aggs, dict(zip(metrics, values, strict=True)))


TABLE_2C = Layout(
    stem="table2c",
    title="Table 2c: RoI layers at stride 16",
    stride=16,
    lead_columns=("method", "align", "bilinear", "agg"),
    metrics=MASK_METRICS,
    info_metrics=BOX_METRICS,
    tail_columns=(),
    paper_rows=(
        _row("pool", ("max",), MASK_METRICS, 26.9, 48.8, 26.4),
        _row("warp", ("max",), MASK_METRICS, 27.2, 49.2, 27.1),
        _row("warp", ("avg",), MASK_METRICS, 27.1, 48.9, 27.1),
        _row("align", ("max",), MASK_METRICS, 30.2, 51.0, 31.8),
        _row("align", ("avg",), MASK_METRICS, 30.3, 51.2, 31.5),
    ),
    source="Mask R-CNN (He et al. 2017) Table 2c: ResNet-50-C4, stride 16, COCO minival, mask AP",
)

# The paper's 2d names no aggregation; RoIPool is max by definition, and RoIAlign was
# avg in Detectron and every released Mask R-CNN (2c shows max and avg within 0.1 AP),
# so either RoIAlign aggregation fills the paper row, avg listed first.
TABLE_2D = Layout(
    stem="table2d",
    title="Table 2d: RoI layers at stride 32",
    stride=32,
    lead_columns=("method",),
    metrics=MASK_METRICS + BOX_METRICS,
    info_metrics=(),
    tail_columns=("agg",),
    paper_rows=(
        _row("pool", ("max",), MASK_METRICS + BOX_METRICS, 23.6, 46.5, 21.6, 28.2, 52.7, 26.9),
        _row("align", ("avg", "max"), MASK_METRICS + BOX_METRICS, 30.9, 51.8, 32.1, 34.0, 55.3, 36.4),
    ),
    source="Mask R-CNN (He et al. 2017) Table 2d: ResNet-50-C5, stride 32, COCO minival, mask and box AP",
)


def layout_for(stride: int) -> Layout:
    """The paper layout of a stride; other strides get 2d's columns and no paper rows."""
    for layout in (TABLE_2C, TABLE_2D):
        if layout.stride == stride:
            return layout
    return Layout(
        stem=f"table_stride{stride}",
        title=f"RoI layers at stride {stride} (not in the paper)",
        stride=stride,
        lead_columns=TABLE_2D.lead_columns,
        metrics=TABLE_2D.metrics,
        info_metrics=(),
        tail_columns=TABLE_2D.tail_columns,
        paper_rows=(),
        source="no paper table at this stride",
    )


def is_preset(roi: RoiSettings) -> bool:
    """Whether `roi` is the layer exactly as the paper ran it (aggregation aside)."""
    if roi.method not in PRESETS or roi.aligned or roi.mask:
        return False
    preset = PRESETS[roi.method]
    return preset is None or (roi.sampling_ratio, roi.layout) == preset


def is_gain_base(roi: RoiSettings) -> bool:
    """The row gains are measured from: RoIPool (max), the paper's baseline in 2c and 2d."""
    return is_preset(roi) and roi.method == "pool" and roi.agg == "max"


def paper_row(layout: Layout, roi: RoiSettings) -> PaperRow | None:
    """The paper row `roi` reproduces in `layout`, if any."""
    if not is_preset(roi):
        return None
    return next(
        (row for row in layout.paper_rows if row.method == roi.method and roi.agg in row.aggs),
        None,
    )


def label(roi: RoiSettings) -> str:
    """The row's `method` cell: the layer's name plus how it departs from the paper's preset."""
    name = METHOD_NAMES.get(roi.method, roi.method)
    notes: list[str] = []
    if roi.method == "pool" and roi.agg != "max":
        notes.append(roi.agg)
    preset = PRESETS.get(roi.method)
    if preset is not None:
        n, layout = preset
        if roi.layout != layout:
            notes.append(roi.layout)
        if roi.sampling_ratio != n:
            notes.append("adaptive n" if roi.sampling_ratio <= 0 else f"n={roi.sampling_ratio}")
    if roi.aligned:
        notes.append("aligned")
    if roi.mask:
        notes.append("mask " + " ".join(f"{k}={v}" for k, v in roi.mask))
    return f"{name} ({', '.join(notes)})" if notes else name


def variant_key(roi: RoiSettings) -> str:
    """A compact key naming every setting that matters, e.g. `align/avg/n=2/aligned/center`."""
    n = "adaptive" if roi.sampling_ratio <= 0 else str(roi.sampling_ratio)
    parts = [roi.method, roi.agg]
    if roi.method != "pool":
        parts.append(f"n={n}")
    parts.append("aligned" if roi.aligned else "unaligned")
    if roi.method != "pool":
        parts.append(roi.layout)
    if roi.mask:
        parts.append("mask:" + ",".join(f"{k}={v}" for k, v in roi.mask))
    return "/".join(parts)


def preset_settings(method: str, agg: str) -> RoiSettings:
    """The paper's preset of a built-in layer, for a paper row that no run reached."""
    n, layout = PRESETS[method] or (2, "center")
    return row_key(RoiSettings(method, agg, n, False, layout))


def row_key(roi: RoiSettings) -> RoiSettings:
    """`roi` with the settings its layer ignores normalised, so equivalent runs share a row."""
    if roi.method != "pool":
        return roi
    return RoiSettings("pool", roi.agg, 0, roi.aligned, "", roi.mask)
