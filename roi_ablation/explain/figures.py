"""The seed's pictures for any setting: one figure per method and a side-by-side comparison.

Cells are coloured as the seed colours them: read inside the box (orange), lost (blue:
the box covers them, nothing reads them), gained (green: read, outside the box). Sample
points, their cells and weights come from the plan, so the picture is what ``extract``
computes. Drawn on the Agg canvas directly (no pyplot), so it works headless.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from roi_ablation.explain.coverage import Coverage, first_bin_reads
from roi_ablation.explain.setting import PICTURE_OFFSET, Setting

READ, LOST, GAINED, BOX = "#f6c37b", "#3b7dd8", "#4caf50", "#d62728"
# Sample points take their bin's colour; none of these is a cell or box colour.
BIN_COLOURS = ("#000000", "#6a1b9a", "#d81b60", "#795548", "#9e9e9e")
MARGIN = 2  # cells shown around everything that is overlapped or read
MAX_LABELLED = 20  # cells per side up to which each read cell shows its weight share
PANEL_INCHES = 7.0

Window = tuple[int, int, int, int]  # x_begin, x_end, y_begin, y_end (cells, end exclusive)


def _window(coverages: list[Coverage]) -> Window:
    """The part of the map worth drawing: every overlapped or read cell, plus a margin."""
    height, width = coverages[0].area.shape
    touched = sum(cov.overlapped | cov.read for cov in coverages)
    ys, xs = touched.nonzero(as_tuple=True)
    return (max(0, int(xs.min()) - MARGIN), min(width, int(xs.max()) + 1 + MARGIN),
            max(0, int(ys.min()) - MARGIN), min(height, int(ys.max()) + 1 + MARGIN))


def _cell_colours(cov: Coverage) -> np.ndarray:
    rgb = np.ones((*cov.area.shape, 3))
    for mask, colour in ((cov.read & cov.overlapped, READ), (cov.lost, LOST), (cov.gained, GAINED)):
        rgb[mask.numpy()] = to_rgb(colour)
    return rgb


def _bin_colours(bins: np.ndarray, ow: int) -> list[str]:
    """Colour of bin ``(i, j)`` (flat index ``i * ow + j``) is ``(i + 2 j) mod 5``: its eight
    neighbours all have other colours."""
    return [BIN_COLOURS[(b // ow + 2 * (b % ow)) % len(BIN_COLOURS)] for b in bins.tolist()]


def _draw_bins(ax: Axes, setting: Setting) -> None:
    """The box's bins as a bilinear layer maps it before rounding (dashed)."""
    mapped = setting.mapped()
    x0, y0 = float(mapped.x0[0]) + PICTURE_OFFSET, float(mapped.y0[0]) + PICTURE_OFFSET
    bin_w, bin_h = float(mapped.bin_w[0]), float(mapped.bin_h[0])
    oh, ow = setting.output_size
    ax.vlines([x0 + k * bin_w for k in range(ow + 1)], y0, y0 + oh * bin_h, colors=BOX, linestyles="--", lw=1)
    ax.hlines([y0 + k * bin_h for k in range(oh + 1)], x0, x0 + ow * bin_w, colors=BOX, linestyles="--", lw=1)


def _draw_first_bin_reads(ax: Axes, cov: Coverage) -> None:
    """Lines from each sample of bin 0 to the cell centres it reads, thicker for more weight."""
    for (px, py), reads in first_bin_reads(cov.plan):
        for (cx, cy), weight in reads:
            ax.plot([px, cx], [py, cy], color="0.15", lw=0.4 + 2.5 * weight, alpha=0.6, zorder=3)


def _label_shares(ax: Axes, cov: Coverage, window: Window) -> None:
    """Each read cell's share (%) of the mean over all bins."""
    x_begin, x_end, y_begin, y_end = window
    for y in range(y_begin, y_end):
        for x in range(x_begin, x_end):
            share = float(cov.share[y, x])
            if share > 0:
                ax.text(x + 0.5, y + 0.85, f"{100 * share:.2g}", ha="center", va="bottom", fontsize=6, zorder=5)


def _draw_panel(ax: Axes, setting: Setting, cov: Coverage, window: Window, detailed: bool) -> None:
    """Cells, box and sample points; ``detailed`` adds bins, bin 0's reads and weight shares."""
    x_begin, x_end, y_begin, y_end = window
    ax.imshow(_cell_colours(cov)[y_begin:y_end, x_begin:x_end], extent=(x_begin, x_end, y_end, y_begin),
              interpolation="nearest", zorder=0)
    ax.set_xticks(range(x_begin, x_end + 1))
    ax.set_yticks(range(y_begin, y_end + 1))
    ax.tick_params(labelsize=7)
    ax.grid(color="0.6", lw=0.5)
    x1, y1, x2, y2 = setting.box_on_grid
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=BOX, lw=2, zorder=4))
    plan = cov.plan
    points = (plan.points[plan.valid] + PICTURE_OFFSET).numpy()
    bins = np.repeat(np.arange(plan.num_bins), plan.valid.shape[1]).reshape(plan.valid.shape)[plan.valid.numpy()]
    ax.scatter(points[:, 0], points[:, 1], c=_bin_colours(bins, plan.output_size[1]), s=22 if detailed else 10,
               edgecolors="black", linewidths=0.4, zorder=6)
    if detailed:
        _draw_bins(ax, setting)
        _draw_first_bin_reads(ax, cov)
        if max(x_end - x_begin, y_end - y_begin) <= MAX_LABELLED:
            _label_shares(ax, cov, window)
    ax.set_xlim(x_begin, x_end)
    ax.set_ylim(y_end, y_begin)
    ax.set_aspect("equal")
    ax.set_title(f"{cov.method}: lost {int(cov.lost.sum())} ({cov.lost_share():.0%}), gained "
                 f"{int(cov.gained.sum())} ({cov.gained_share():.0%}), misplaced {cov.misplaced:.0%}", fontsize=9)


def _figure(setting: Setting, panels: int, window: Window, detailed: bool) -> tuple[Figure, list[Axes]]:
    x_begin, x_end, y_begin, y_end = window
    scale = PANEL_INCHES / max(x_end - x_begin, y_end - y_begin)
    fig = Figure(figsize=(panels * (x_end - x_begin) * scale + 0.5, (y_end - y_begin) * scale + 1.6), layout="constrained")
    FigureCanvasAgg(fig)
    oh, ow = setting.output_size
    fig.suptitle(f"box ({', '.join(f'{v:g}' for v in setting.box)}) px, stride {setting.stride}, {oh}x{ow} bins, "
                 f"sampling ratio {setting.sampling_ratio}, {setting.layout}, aligned={setting.aligned}", fontsize=9)
    handles = [Patch(color=READ, label="read, inside the box"), Patch(color=LOST, label="lost"),
               Patch(color=GAINED, label="gained"), Patch(fill=False, ec=BOX, lw=2, label="box")]
    if detailed:
        handles.append(Line2D([], [], color=BOX, ls="--", lw=1, label="bins before any rounding"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    return fig, list(fig.subplots(1, panels, squeeze=False)[0])


def method_figure(setting: Setting, cov: Coverage) -> Figure:
    """One method in detail: cells, box, bins, samples, bin 0's reads, weight shares (%)."""
    window = _window([cov])
    fig, (ax,) = _figure(setting, 1, window, detailed=True)
    _draw_panel(ax, setting, cov, window, detailed=True)
    return fig


def comparison_figure(setting: Setting, coverages: list[Coverage]) -> Figure:
    """All methods side by side on the same window: what each reads inside and outside the box."""
    window = _window(coverages)
    fig, axes = _figure(setting, len(coverages), window, detailed=False)
    for ax, cov in zip(axes, coverages, strict=True):
        _draw_panel(ax, setting, cov, window, detailed=False)
    return fig


def build_figures(setting: Setting, coverages: list[Coverage]) -> dict[str, Figure]:
    """``{"roi_<method>": figure, ..., "comparison": figure}`` (no name can clash)."""
    figures = {f"roi_{cov.method}": method_figure(setting, cov) for cov in coverages}
    figures["comparison"] = comparison_figure(setting, coverages)
    return figures


def save_figures(figures: dict[str, Figure], out: Path) -> list[Path]:
    """Write ``<name>.png`` for each figure into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        paths.append(out / f"{name}.png")
        fig.savefig(paths[-1], dpi=110)
    return paths
