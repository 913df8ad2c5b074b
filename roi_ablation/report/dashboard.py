"""Log the Markdown tables to TensorBoard as text, so a dashboard user sees the results."""

from __future__ import annotations

from pathlib import Path

from torch.utils.tensorboard import SummaryWriter


def write_tensorboard(texts: dict[str, str], logdir: Path) -> Path:
    """One text entry per table, tag `tables/<stem>`; a rerun replaces the previous log."""
    logdir.mkdir(parents=True, exist_ok=True)
    for stale in logdir.glob("events.out.tfevents.*"):
        stale.unlink()
    writer = SummaryWriter(str(logdir))
    try:
        for stem, markdown in texts.items():
            writer.add_text(f"tables/{stem}", markdown, global_step=0)
    finally:
        writer.close()
    return logdir
