"""The paper's numbers and row definitions (Mask R-CNN, He et al. 2017, Tables 2c and 2d).

A run lands on a paper row only when its RoI layer has the settings the paper ran it
with (its registry entry's ``paper`` geometry); every other setting becomes an extra row
of the same table, labelled by how it differs, so an ablation beyond the paper is never
mistaken for a reproduction of it. What a layer is called, its flags and which settings
it reads come from the registry, so a user's layer gets a correct row with no edit here.
"""

from __future__ import annotations

from dataclasses import dataclass

from roi_ablation.roi import RoISettings

MASK_METRICS = ("AP", "AP50", "AP75")

#: The paper's training schedule (Sec. 3.1): 160k iterations at 16 images per minibatch (8 GPUs x 2).
PAPER_ITERATIONS, PAPER_IMAGES_PER_ITER = 160_000, 16
DEFAULT_BASELINE = "pool/max"  # gains are over RoIPool (max), the paper's baseline in 2c and 2d, unless told otherwise
BOX_METRICS = ("APbb", "APbb50", "APbb75")

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
    model: str | None = None  # the paper's network at this stride, as a `model=` preset


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
    model="r50_c4",
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
    model="r50_c5",
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


def matches_key(roi: RoISettings, key: str) -> bool:
    """Whether `key` names the row of `roi`: its variant key, or `method/agg` for a paper preset."""
    return roi.variant_key() == key or (key == f"{roi.method}/{roi.agg}" and roi.is_preset())


def paper_row(layout: Layout, roi: RoISettings) -> PaperRow | None:
    """The paper row `roi` reproduces in `layout`, if any."""
    if not roi.is_preset():
        return None
    return next((row for row in layout.paper_rows if row.method == roi.method and roi.agg in row.aggs), None)


def label(roi: RoISettings) -> str:
    """The row's `method` cell: the layer's label, noting an aggregation the paper did not run it with."""
    paper_aggs = {agg for table in (TABLE_2C, TABLE_2D) for row in table.paper_rows if row.method == roi.method
                  for agg in row.aggs}
    return roi.label(paper_aggs)


def preset_settings(method: str, agg: str) -> RoISettings:
    """The paper's settings of a registered layer, for a paper row that no run reached."""
    return RoISettings(method=method, agg=agg).normalized()
