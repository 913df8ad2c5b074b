"""Say where each table's numbers came from: runs, code versions, commands, cost, machine."""

from __future__ import annotations

import os
import platform
import shlex
from collections import Counter
from pathlib import Path

import torch

from roi_ablation.report.collect import Run
from roi_ablation.report.render import display_path
from roi_ablation.report.tables import Table


def render_provenance(
    tables: list[Table], unplaced: list[Run], sweeps: dict[Path, list[str]], command: str
) -> str:
    """Markdown provenance of every table written by one `roi-ablation-tables` call."""
    lines = [
        "# Provenance of the tables",
        "",
        f"Built with: `{command}`",
        "",
        f"Machine that built them: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, torch {torch.__version__}.",
        "",
    ]
    if sweeps:
        lines += ["Sweeps (Hydra multirun commands):", ""]
        lines += [f"- `{display_path(d)}`: `{_train_command(o, multirun=True)}`" for d, o in sweeps.items()]
        lines.append("")
    for table in tables:
        lines += _table_section(table)
    if unplaced:
        lines += ["## Runs in no table", "", "Their data, stride or model could not be read:", ""]
        lines += [f"- `{display_path(run.path)}` ({run.status})" for run in unplaced]
    return "\n".join(lines) + "\n"


def _table_section(table: Table) -> list[str]:
    runs = table.runs
    statuses = Counter(run.status for run in runs)
    shas = Counter(run.record.git for run in runs if run.status != "missing")
    devices = sorted({run.record.device for run in runs if run.measured and run.record.device})
    train = sum(run.record.train_s for run in runs if run.measured)
    evaluate = sum(run.record.eval_s for run in runs if run.measured)
    lines = [
        f"## {table.stem}",
        "",
        f"- setup: data `{table.key.data}`, model `{table.key.model}`, stride {table.key.stride}, "
        f"{table.key.iterations} iterations",
        f"- runs: {len(runs)} ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))})",
        f"- git: {', '.join(f'`{sha}` ({n} runs)' for sha, n in shas.most_common()) or 'none recorded'}",
        f"- compute: train {train:.1f} s, eval {evaluate:.1f} s in total",
    ]
    if devices:
        lines.append(f"- devices: {', '.join(devices)}")
    lines += ["", "| run | status | seed | git | train_s | eval_s | command |", "|---|---|---|---|---|---|---|"]
    for run in runs:
        command = f"`{_train_command(run.overrides)}`" if run.overrides is not None else "unknown"
        git, train_s, eval_s = (run.record.git, run.record.train_s, run.record.eval_s) if run.measured else ("", None, None)
        lines.append(
            f"| `{display_path(run.path)}` | {run.status} | {run.record.seed} | {git} | "
            f"{_seconds(train_s)} | {_seconds(eval_s)} | {command} |"
        )
    return lines + [""]


def _train_command(overrides: list[str], multirun: bool = False) -> str:
    words = ["roi-ablation-train", *(["-m"] if multirun else []), *overrides]
    return shlex.join(words).replace("|", "\\|")


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"

