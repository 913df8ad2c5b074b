"""The explainer's figures and report in TensorBoard, next to a run's curves if wanted."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from torch.utils.tensorboard import SummaryWriter


def write_tensorboard(figures: dict[str, Figure], report: str, logdir: Path) -> Path:
    """Images ``explain/<name>`` and the text report ``explain/report`` into ``logdir``."""
    with SummaryWriter(log_dir=str(logdir)) as writer:
        for name, fig in figures.items():
            writer.add_figure(f"explain/{name}", fig, close=False)
        # TensorBoard renders text as Markdown; indenting keeps the report's columns.
        writer.add_text("explain/report", "\n".join(f"    {line}" for line in report.splitlines()))
    return logdir
