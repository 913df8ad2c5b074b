"""The seed's pictures for any setting: one figure per method and a side-by-side comparison.

Every panel draws the plan ``extract`` applies, with one encoding and one legend:
- a cell's fill is its share of the mean over all bins (colour bar, one scale for every
  panel); cells the box covers but nothing reads are lost (blue, as the seed colours
  them); cells read outside the box are gained (green outline: they have a weight too);
- a layer whose samples each read one whole cell (RoIPool; any such registered layer)
  draws each bin's cells as a rectangle in the bin's colour: its rounded bins. Other
  layers draw their sample points in their bin's colour;
- the detailed figure adds the bins before any rounding (dashed) and bin 0's reads.
All panels of a figure share axes, so the same cell sits at the same place in each.
Drawn on the Agg canvas directly (no pyplot), so it works headless.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from torch import Tensor

from roi_ablation.explain.coverage import Coverage, first_bin_reads
from roi_ablation.explain.setting import PICTURE_OFFSET, Setting
from roi_ablation.roi import SamplingPlan

LOST, GAINED, BOX = "#3b7dd8", "#4caf50", "#d62728"
WEIGHT_CMAP = "Oranges"
# A bin's samples (or cells) take its colour; none of these is a cell or box colour.
BIN_COLOURS = ("#000000", "#6a1b9a", "#00838f", "#795548", "#757575")
MARGIN = 1  # cells shown around everything that is overlapped or read
PANEL_INCHES = 5.5
BIN_INSET = 0.1  # whole-cell bins are drawn inset, so two bins sharing a cell both show
DPI = 150

Window = tuple[int, int, int, int]  # x_begin, x_end, y_begin, y_end (cells, end exclusive)
Row = tuple[Setting, list[Coverage]]  # one box: its setting and each method's coverage


def _window(coverages: Sequence[Coverage]) -> Window:
    """The part of the map worth drawing: every overlapped or read cell, plus a margin."""
    height, width = coverages[0].area.shape
    touched = cast(Tensor, sum(cov.overlapped | cov.read for cov in coverages))  # a tensor: coverages is not empty
    ys, xs = touched.nonzero(as_tuple=True)
    return (max(0, int(xs.min()) - MARGIN), min(width, int(xs.max()) + 1 + MARGIN),
            max(0, int(ys.min()) - MARGIN), min(height, int(ys.max()) + 1 + MARGIN))


def _bin_colour(bin_index: int, ow: int) -> str:
    """Bin ``(i, j)`` takes colour ``(i + 2 j) mod 5``: its eight neighbours all have other colours."""
    return BIN_COLOURS[(bin_index // ow + 2 * (bin_index % ow)) % len(BIN_COLOURS)]


def reads_whole_cells(plan: SamplingPlan) -> bool:
    """Whether each sample reads exactly one cell (so a bin is a set of cells, not of points)."""
    return plan.cells.shape[-1] == 1


def _cell_rectangle(plan: SamplingPlan, bin_index: int) -> tuple[int, int, int, int] | None:
    """The cells bin ``bin_index`` reads, as (x_begin, y_begin, x_end, y_end); None if it reads none."""
    _, height, width = plan.feature_shape
    cells = plan.cells[bin_index, :, 0][plan.valid[bin_index] & (plan.weights[bin_index, :, 0] != 0)]
    if not len(cells):
        return None
    xs, ys = cells % width, (cells // width) % height
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _draw_cells(ax: Axes, cov: Coverage, window: Window, norm: Normalize) -> None:
    """Weight share (colour map), lost cells (blue) and gained cells (green outline)."""
    x_begin, x_end, y_begin, y_end = window
    share = 100 * cov.share.numpy()[y_begin:y_end, x_begin:x_end]
    ax.imshow(np.ma.masked_equal(share, 0), cmap=WEIGHT_CMAP, norm=norm, extent=(x_begin, x_end, y_end, y_begin),
              interpolation="nearest", zorder=0)
    for y, x in cov.lost.nonzero().tolist():
        ax.add_patch(Rectangle((x, y), 1, 1, color=LOST, zorder=1))
    for y, x in cov.gained.nonzero().tolist():
        ax.add_patch(Rectangle((x + 0.06, y + 0.06), 0.88, 0.88, fill=False, ec=GAINED, lw=3, zorder=2))


def _draw_reading(ax: Axes, plan: SamplingPlan, detailed: bool) -> None:
    """Whole-cell layers: each bin's cells as a rectangle; others: sample points; both in bin colours."""
    ow = plan.output_size[1]
    if reads_whole_cells(plan):
        for b in range(plan.num_bins):
            if (extent := _cell_rectangle(plan, b)) is not None:
                x0, y0, x1, y1 = extent
                ax.add_patch(Rectangle((x0 + BIN_INSET, y0 + BIN_INSET), x1 - x0 - 2 * BIN_INSET, y1 - y0 - 2 * BIN_INSET,
                                       fill=False, ec=_bin_colour(b, ow), lw=1.8, zorder=5))
        return
    points = (plan.points[plan.valid] + PICTURE_OFFSET).numpy()
    bins = np.repeat(np.arange(plan.num_bins), plan.valid.shape[1]).reshape(plan.valid.shape)[plan.valid.numpy()]
    ax.scatter(points[:, 0], points[:, 1], c=[_bin_colour(b, ow) for b in bins.tolist()], s=22 if detailed else 10,
               edgecolors="white", linewidths=0.5, zorder=6)


def _draw_bins(ax: Axes, setting: Setting) -> None:
    """The box's bins as a bilinear layer maps it before any rounding (dashed)."""
    mapped = setting.mapped()
    x0, y0 = float(mapped.x0[0]) + PICTURE_OFFSET, float(mapped.y0[0]) + PICTURE_OFFSET
    bin_w, bin_h = float(mapped.bin_w[0]), float(mapped.bin_h[0])
    oh, ow = setting.output_size
    ax.vlines([x0 + k * bin_w for k in range(ow + 1)], y0, y0 + oh * bin_h, colors=BOX, linestyles="--", lw=1, zorder=4)
    ax.hlines([y0 + k * bin_h for k in range(oh + 1)], x0, x0 + ow * bin_w, colors=BOX, linestyles="--", lw=1, zorder=4)


def _draw_first_bin_reads(ax: Axes, cov: Coverage) -> None:
    """Lines from each sample of bin 0 to the cell centres it reads, thicker for more weight."""
    for (px, py), reads in first_bin_reads(cov.plan):
        for (cx, cy), weight in reads:
            ax.plot([px, cx], [py, cy], color="0.15", lw=0.4 + 2.5 * weight, alpha=0.7, zorder=3)


def _draw_panel(ax: Axes, setting: Setting, cov: Coverage, window: Window, norm: Normalize, detailed: bool) -> None:
    x_begin, x_end, y_begin, y_end = window
    _draw_cells(ax, cov, window, norm)
    ax.set_xticks(range(x_begin, x_end + 1))
    ax.set_yticks(range(y_begin, y_end + 1))
    ax.tick_params(labelsize=7)
    ax.grid(color="0.75", lw=0.5)
    ax.set_axisbelow(False)
    x1, y1, x2, y2 = setting.box_on_grid
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=BOX, lw=2, zorder=4))
    _draw_reading(ax, cov.plan, detailed)
    if detailed:
        _draw_bins(ax, setting)
        _draw_first_bin_reads(ax, cov)
    ax.set_xlim(x_begin, x_end)
    ax.set_ylim(y_end, y_begin)
    ax.set_aspect("equal")
    ax.set_title(f"{cov.method}: lost {int(cov.lost.sum())} ({cov.lost_share():.0%}), gained "
                 f"{int(cov.gained.sum())} ({cov.gained_share():.0%}), misplaced {cov.misplaced:.0%}", fontsize=9)


def _box_text(setting: Setting) -> str:
    return f"box ({', '.join(f'{v:g}' for v in setting.box)}) px"


def _options_text(setting: Setting) -> str:
    oh, ow = setting.output_size
    g = setting.geometry
    return f"stride {setting.stride}, {oh}x{ow} bins, sampling ratio {g['sampling_ratio']}, {g['layout']}, aligned={g['aligned']}"


def _legend(fig: Figure, coverages: Sequence[Coverage], detailed: bool, ncols: int) -> None:
    """Entries for what the figure's panels draw, and only that."""
    whole_cells = [reads_whole_cells(cov.plan) for cov in coverages]
    entries: list[tuple[bool, Patch | Line2D]] = [
        (any(bool(cov.lost.any()) for cov in coverages), Patch(color=LOST, label="lost (covered, never read)")),
        (any(bool(cov.gained.any()) for cov in coverages),
         Patch(fill=False, ec=GAINED, lw=3, label="gained (read, outside the box)")),
        (True, Patch(fill=False, ec=BOX, lw=2, label="box")),
        (not all(whole_cells),
         Line2D([], [], ls="", marker="o", mfc=BIN_COLOURS[1], mec="white", label="samples, coloured by bin")),
        (any(whole_cells), Patch(fill=False, ec=BIN_COLOURS[2], lw=1.8, label="cells each bin reads (whole-cell layer)")),
        (detailed, Line2D([], [], color=BOX, ls="--", lw=1, label="bins before any rounding")),
        (detailed and not all(whole_cells),
         Line2D([], [], color="0.15", lw=1.5, label="bin 0: cells each sample reads (width: weight)")),
    ]
    handles = [handle for shown, handle in entries if shown]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(ncols, len(handles)), fontsize=8)


def _figure(rows: int, cols: int, window: Window) -> tuple[Figure, np.ndarray]:
    x_begin, x_end, y_begin, y_end = window
    scale = PANEL_INCHES / max(x_end - x_begin, y_end - y_begin)
    size = (cols * (x_end - x_begin) * scale + 1.6, rows * ((y_end - y_begin) * scale + 0.5) + 1.4)
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    for ax in axes[-1]:
        ax.set_xlabel("x (cells; cell i spans [i, i+1))", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("y (cells)", fontsize=8)
    return fig, axes


def _norm(coverages: Sequence[Coverage]) -> Normalize:
    return Normalize(vmin=0, vmax=100 * max(float(cov.share.max()) for cov in coverages))


def _colour_bar(fig: Figure, axes: np.ndarray, norm: Normalize) -> None:
    fig.colorbar(ScalarMappable(norm=norm, cmap=WEIGHT_CMAP), ax=list(axes.ravel()), shrink=0.8,
                 label="cell's share of the mean over all bins (%)")


def method_figure(setting: Setting, cov: Coverage, window: Window, norm: Normalize) -> Figure:
    """One method in detail: weights, lost and gained cells, box, bins before rounding, its
    samples or whole-cell bins, bin 0's reads."""
    fig, axes = _figure(1, 1, window)
    _draw_panel(axes[0, 0], setting, cov, window, norm, detailed=True)
    fig.suptitle(f"{_box_text(setting)}, {_options_text(setting)}", fontsize=9)
    _colour_bar(fig, axes, norm)
    _legend(fig, [cov], detailed=True, ncols=2)
    return fig


def comparison_figure(rows: Sequence[Row], window: Window, norm: Normalize) -> Figure:
    """All methods side by side, one row per box, on shared axes and one colour scale."""
    fig, axes = _figure(len(rows), len(rows[0][1]), window)
    for axes_row, (setting, coverages) in zip(axes, rows, strict=True):
        for ax, cov in zip(axes_row, coverages, strict=True):
            _draw_panel(ax, setting, cov, window, norm, detailed=False)
        axes_row[0].annotate(_box_text(setting), (0, 1.1), xycoords="axes fraction", fontsize=9, fontweight="bold")
    fig.suptitle(_options_text(rows[0][0]), fontsize=9)
    _colour_bar(fig, axes, norm)
    _legend(fig, [cov for _, coverages in rows for cov in coverages], detailed=False, ncols=min(5, 2 * len(rows[0][1])))
    return fig


def build_figures(rows: Sequence[Row]) -> dict[str, Figure]:
    """``{"roi_<method>": figure, ..., "comparison": figure}`` (no name can clash).

    Per-method figures show the first row's box; the comparison shows every row. One
    window and one colour scale serve all of them.
    """
    everything = [cov for _, coverages in rows for cov in coverages]
    window, norm = _window(everything), _norm(everything)
    setting, coverages = rows[0]
    figures = {f"roi_{cov.method}": method_figure(setting, cov, window, norm) for cov in coverages}
    figures["comparison"] = comparison_figure(rows, window, norm)
    return figures


def save_figures(figures: dict[str, Figure], out: Path) -> list[Path]:
    """Write ``<name>.png`` for each figure into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        paths.append(out / f"{name}.png")
        fig.savefig(paths[-1], dpi=DPI)
    return paths
