"""A sweep's outputs in TensorBoard: compact tables as text, and the HParams experiment config.

Both go into one run of their own, `_tables`, so no one mistakes it for a training run
and no other extra run appears in the run lists. It holds a compact table per stride
(method, agg, AP, AP50, AP75, gain vs the baseline row, paper gain; every column stays in
the Markdown and CSV files) and the experiment config of the runs behind the tables, which
fixes the HParams dashboard's axes, their order and its metrics (TensorBoard takes the
config from whichever run holds it). The sweep callback builds the tables once per
sweep, so the config is written once per sweep.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter

from roi_ablation.engine.hparams import experiment_summary
from roi_ablation.report.collect import Run
from roi_ablation.report.paper import MASK_METRICS
from roi_ablation.report.tables import Row, Table

TABLES_RUN = "_tables"
EVENTS_GLOB = "events.out.tfevents.*"


def compact_markdown(table: Table) -> str:
    """The table in seven columns, narrow enough for TensorBoard's text dashboard."""
    metrics = " / ".join(MASK_METRICS)
    lines = [
        f"**{table.layout.title}** ({table.key.data}, {table.key.model}, {table.key.iterations} iterations): "
        f"mask AP in %, mean ± std over seeds (n); gains are over {table.base_title}, as {metrics}.",
        "",
        f"| method | agg | AP | AP50 | AP75 | gain vs {table.base_name} | paper gain |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_compact_row(row, is_base=row is table.base) for row in table.rows]
    lines += ["", f"Every column: `{table.stem}.md` / `{table.stem}.csv`."]
    return "\n".join(lines)


def _compact_row(row: Row, is_base: bool) -> str:
    mean, std, n = row.mean, row.std, len(row.by_status("complete"))
    cells = [row.label, row.roi.agg]
    for metric in MASK_METRICS:
        if metric not in mean:
            cells.append(row.status)
        elif metric in std:
            cells.append(f"{mean[metric]:.1f} ± {std[metric]:.1f}")
        else:
            cells.append(f"{mean[metric]:.1f} (n={n})")
    cells += ["baseline"] * 2 if is_base else [_gains(row.gain), _gains(row.paper_gain)]
    return "| " + " | ".join(cells) + " |"


def _gains(gains: dict[str, float]) -> str:
    if not any(m in gains for m in MASK_METRICS):
        return "–"
    return "/".join(f"{gains[m]:+.1f}" if m in gains else "–" for m in MASK_METRICS)


def run_description(run: Run) -> dict[str, Any]:
    """A run as the HParams sessions name it (the run description of its metrics.json)."""
    record = run.record
    return {"roi": record.roi.to_json(), "model": record.model, "stride": record.stride, "seed": record.seed}


def write_tensorboard(tables: list[Table], out: Path) -> Path:
    """The run `out/_tables`: text `tables/<stem>` per table and the HParams experiment config.

    A rerun replaces the run's earlier event files. Returns the run's directory.
    """
    logdir = out / TABLES_RUN
    logdir.mkdir(parents=True, exist_ok=True)
    for stale in logdir.glob(EVENTS_GLOB):
        stale.unlink()
    complete = [run for table in tables for run in table.runs if run.status == "complete"]
    writer = SummaryWriter(str(logdir))
    try:
        for table in tables:
            writer.add_text(f"tables/{table.stem}", compact_markdown(table), global_step=0)
        assert writer.file_writer is not None  # SummaryWriter opens it on construction
        writer.file_writer.add_summary(experiment_summary([run_description(run) for run in complete]))
    finally:
        writer.close()
    return logdir
