"""The tables as figures: absolute mask AP (`tables.png`) and gains over the baseline (`gains.png`).

One panel per table (stride), one bar per metric and row. What each figure claims:
- absolute: our mean with its sample std over seeds; one seed draws no error bar and
  says `n=1` under its row, so no bar reads as +-0. The paper's values are drawn only
  for COCO runs: on other data they are not comparable, and would squash ours;
- gains: our gain over the table's baseline row (RoIPool (max) unless `--baseline` says
  otherwise), with its paired 95% interval where the table has one (`row.gain_ci`),
  beside the paper's gain over its value of the same row.
The paper's bars are hatched in their metric's colour, right of ours. Drawn on the Agg canvas directly (no pyplot),
so it works headless and leaves the process-wide matplotlib backend alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from roi_ablation.report.paper import MASK_METRICS
from roi_ablation.report.tables import Row, Table

DPI = 150
BAR_SPAN = 0.8  # of the space between two rows, shared by the metrics' bars
PAPER_STYLE: dict[str, Any] = dict(fill=False, hatch="////", lw=1.0)  # edge and hatch in the metric's colour

RowValue = Callable[[Row, str], float]
RowError = Callable[[Row, str], tuple[float, float] | None]  # (below, above) the bar, or no error bar


def _figure(rows: list[list[Row]]) -> tuple[Figure, list[Axes]]:
    widths = [max(4.5, 1.5 * len(r)) for r in rows]  # a one-row panel still holds its title
    fig = Figure(figsize=(sum(widths) + 1.0, 5.0), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, list(fig.subplots(1, len(rows), squeeze=False, width_ratios=widths)[0])


def _row_labels(rows: list[Row]) -> list[str]:
    """Tick labels: the row, its aggregation and how many seeds its values average."""
    labels = []
    for row in rows:
        n = len(row.by_status("complete"))
        note = f"n={n}" if row.runs and n == len(row.runs) else row.status
        labels.append(f"{row.label}\n{row.roi.agg}\n{note}")
    return labels


def _bars(ax: Axes, rows: list[Row], value: RowValue, error: RowError, paper: RowValue | None) -> None:
    """Per row, one slot per metric: our bar with its error bar where `error` gives one, and
    the paper's hatched bar right beside it when `paper` is given."""
    slot = BAR_SPAN / len(MASK_METRICS)
    width = slot / 2 if paper is not None else slot
    x = np.arange(len(rows))
    for i, metric in enumerate(MASK_METRICS):
        at = x + (i - (len(MASK_METRICS) - 1) / 2) * slot - (width / 2 if paper is not None else 0.0)
        ax.bar(at, [value(row, metric) for row in rows], width, color=f"C{i}")
        for xi, row in zip(at, rows):
            if (err := error(row, metric)) is not None:
                ax.errorbar([xi], [value(row, metric)], yerr=[[err[0]], [err[1]]], fmt="none", ecolor="black",
                            capsize=2, lw=1)
        if paper is not None:
            ax.bar(at + width, [paper(row, metric) for row in rows], width, ec=f"C{i}", **PAPER_STYLE)
    ax.set_xticks(x, _row_labels(rows), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _legend(fig: Figure, paper: bool, interval: str | None) -> None:
    handles: list[Patch | Line2D] = [Patch(color=f"C{i}", label=f"ours: mask {m}") for i, m in enumerate(MASK_METRICS)]
    if interval:
        handles.append(Line2D([], [], color="black", lw=1, label=interval))
    if paper:
        handles.append(Patch(ec="0.3", **PAPER_STYLE, label="paper, beside ours (its metric's colour)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3), fontsize=8)  # fits one narrow panel


def _title(table: Table) -> str:
    key = table.key
    return f"{table.stem}: stride {key.stride}, {key.data}, {key.model}, {key.iterations} iterations"


def _std(row: Row, metric: str) -> tuple[float, float] | None:
    std = row.std.get(metric)
    return None if std is None else (std, std)


def _paper(row: Row, metric: str) -> float:
    return row.paper.values.get(metric, np.nan) if row.paper else np.nan


def tables_figure(tables: list[Table]) -> Figure:
    """Absolute mask AP/AP50/AP75 per row: mean with std error bars (none for one seed)."""
    fig, axes = _figure([t.rows for t in tables])
    for ax, table in zip(axes, tables, strict=True):
        comparable = table.key.data == "coco"
        _bars(ax, table.rows, lambda row, m: row.mean.get(m, np.nan), _std, _paper if comparable else None)
        note = "" if comparable else "\n(not COCO: the paper's values are not comparable; see gains.png)"
        ax.set_title(_title(table) + note, fontsize=9)
        ax.set_ylabel("mask AP (%)")
    _legend(fig, any(t.key.data == "coco" for t in tables), "± sample std over seeds")
    return fig


def plot_tables(tables: list[Table], path: Path) -> Path:
    """`tables_figure` as a PNG."""
    tables_figure(tables).savefig(path, dpi=DPI, bbox_inches="tight")  # the legend may be wider than one panel
    return path


def _gain_ci(row: Row, metric: str) -> tuple[float, float] | None:
    """The paired 95% interval of the gain as distances below and above it, when the row has one."""
    ci = (getattr(row, "gain_ci", None) or {}).get(metric)
    gain = row.gain.get(metric)
    if ci is None or gain is None:
        return None
    return max(gain - ci[0], 0.0), max(ci[1] - gain, 0.0)


def gains_figure(tables: list[Table]) -> Figure:
    """Gain over the baseline per row: ours (with its 95% interval if known) beside the paper's."""
    rows = [[row for row in t.rows if row is not t.base] for t in tables]
    fig, axes = _figure(rows)
    for ax, table, shown in zip(axes, tables, rows, strict=True):
        _bars(ax, shown, lambda row, m: row.gain.get(m, np.nan), _gain_ci, lambda row, m: row.paper_gain.get(m, np.nan))
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(_title(table), fontsize=9)
        ax.set_ylabel(f"gain over {table.base_title}, mask AP points")
    has_ci = any(_gain_ci(row, m) for t in tables for row in t.rows for m in MASK_METRICS)
    _legend(fig, True, "paired 95% interval over seeds" if has_ci else None)
    return fig


def plot_gains(tables: list[Table], path: Path) -> Path:
    """`gains_figure` as a PNG (beside `tables.png`)."""
    gains_figure(tables).savefig(path, dpi=DPI, bbox_inches="tight")  # the legend may be wider than one panel
    return path
