"""One PNG of mask AP per RoI layer, one panel per table, so the gaps are seen at a glance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from roi_ablation.report.paper import MASK_METRICS
from roi_ablation.report.tables import Table


def plot_tables(tables: list[Table], path: Path) -> Path:
    """Bars: our mean mask AP/AP50/AP75 with std error bars; black ticks: the paper's values.

    Drawn on the Agg canvas directly (no pyplot), so it works headless and leaves the
    process-wide matplotlib backend alone.
    """
    widths = [max(3.0, 1.3 * len(t.rows)) for t in tables]
    fig = Figure(figsize=(sum(widths) + 1.0, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(tables), squeeze=False, width_ratios=widths)[0]
    bar = 0.8 / len(MASK_METRICS)
    for ax, table in zip(axes, tables, strict=True):
        x = np.arange(len(table.rows))
        for i, metric in enumerate(MASK_METRICS):
            offset = x + (i - (len(MASK_METRICS) - 1) / 2) * bar
            means = [row.mean.get(metric, np.nan) for row in table.rows]
            stds = [row.std.get(metric, 0.0) for row in table.rows]
            papers = [row.paper.values.get(metric, np.nan) if row.paper else np.nan for row in table.rows]
            ax.bar(offset, means, bar, yerr=stds, capsize=3, label=metric, color=f"C{i}")
            ax.scatter(offset, papers, marker="_", s=200, color="black", zorder=3,
                       label="paper" if i == 0 else None)
        ax.set_xticks(x, [f"{row.label}\n{row.roi.agg}\n{row.status}" for row in table.rows], fontsize=7)
        ax.set_title(f"{table.stem}: stride {table.key.stride}, {table.key.data}, {table.key.model}", fontsize=9)
        ax.set_ylabel("mask AP (%)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.savefig(path, dpi=120)
    return path
