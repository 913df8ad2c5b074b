"""Write a table (and the claims and power plan) as CSV (for tools) and Markdown (for people and the dashboard)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from roi_ablation.report.collect import Run
from roi_ablation.report.tables import Row, Table

_HEADINGS = {"align": "align?", "bilinear": "bilinear?"}


def write_csv_and_markdown(out: Path, stem: str, columns: Sequence[str], records: Iterable[Mapping[str, object]],
                           markdown: str) -> list[Path]:
    """`out/<stem>.csv` (for tools: numbers rounded to 3 decimals, empty where none) and `out/<stem>.md` (for people)."""
    csv_path, md_path = out / f"{stem}.csv", out / f"{stem}.md"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        for record in records:
            writer.writerow({k: csv_cell(v) for k, v in record.items()})
    md_path.write_text(markdown, encoding="utf-8")
    return [csv_path, md_path]


def render_markdown(table: Table) -> str:
    """The table as the paper prints it, plus paper values, deltas, gains and run status."""
    layout, key = table.layout, table.key
    metrics = layout.metrics
    lead = [*layout.lead_columns, *layout.tail_columns]
    head = [_HEADINGS.get(c, c) for c in lead] + list(metrics) + [
        "paper",
        "Δ vs paper",
        f"gain vs {table.base_name}",
        f"gain {metrics[0]} 95% CI",
        "paper gain",
        "seeds",
        "status",
        "variant",
    ]
    lines = [
        f"# {layout.title}",
        "",
        f"data `{key.data}` · model `{key.model}` · stride {key.stride} · "
        f"{key.iterations} iterations. AP in %, mean ± sample std over complete seeds; "
        f"{' / '.join(metrics)} in the slash-separated columns. Gains are paired by seed: the mean "
        f"of the per-seed differences from {table.base_title}, with a 95% t interval (two seeds or more).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row, record in zip(table.rows, table.records(), strict=True):
        cells = [str(record[c] or "") for c in lead]
        cells += [_mean_std(record[m], record[f"{m}_std"]) for m in metrics]
        cells += [
            _joined(record, "paper_", metrics),
            _joined(record, "delta_", metrics, signed=True),
            _joined(record, "gain_", metrics, signed=True),
            _interval(record, metrics[0]),
            _joined(record, "paper_gain_", metrics, signed=True),
            str(record["n_seeds"]),
            str(record["status"]),
            f"`{record['variant']}`",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Paper values: {layout.source}."]
    if key.data != "coco":
        lines.append(
            f"These runs use `data={key.data}`, not COCO: the paper columns are a reference, "
            f"so compare the gains over {table.base_name} (ours vs the paper's) rather than the deltas."
        )
    lines += [
        "Rows after the paper's are extra variants (settings other than the paper's presets); "
        "`variant` names every setting of a row.",
        "",
        "## Failed and missing runs",
        "",
    ]
    lines += problem_lines(table.rows) or ["None: every run completed."]
    return "\n".join(lines) + "\n"


def problem_lines(rows: list[Row]) -> list[str]:
    """One Markdown bullet per failed or missing run, saying which row it belongs to."""
    return [
        f"- `{display_path(run.path)}` ({row.label}, {run.record.roi.agg}, seed {run.record.seed}): "
        f"{run.status}: {run.error}"
        for row in rows
        for run in row.runs
        if run.status != "complete"
    ]


def describe(run: Run) -> str:
    """A one-line, plain-text description of a run for console output."""
    line = f"{run.status:8} {display_path(run.path)} (seed {run.record.seed})"
    return f"{line}: {run.error}" if run.error else line


def display_path(path: Path) -> str:
    """The path relative to the working directory when below it, so committed files stay portable."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return os.fspath(resolved)


def csv_cell(value: object) -> object:
    if value is None:
        return ""
    return round(value, 3) if isinstance(value, float) else value


def _mean_std(mean: object, std: object) -> str:
    if not isinstance(mean, float):
        return "–"
    return f"{mean:.1f} ± {std:.1f}" if isinstance(std, float) else f"{mean:.1f}"


def _interval(record: dict[str, object], metric: str) -> str:
    low, high = record[f"gain_{metric}_low"], record[f"gain_{metric}_high"]
    return f"[{low:+.1f}, {high:+.1f}]" if isinstance(low, float) and isinstance(high, float) else "–"


def _joined(record: dict[str, object], prefix: str, metrics: tuple[str, ...], signed: bool = False) -> str:
    values = [record[prefix + m] for m in metrics]
    if all(v is None for v in values):
        return "–"
    return " / ".join("–" if v is None else (f"{v:+.1f}" if signed else f"{v:.1f}") for v in values)


def why_unplaced(run: Run) -> str:
    """A run that is in no table: what of its training setup is unknown, and why it is (its error)."""
    record = run.record
    setup = (("data", record.data), ("stride", record.stride), ("model", record.model), ("iterations", run.iterations))
    unknown = "/".join(name for name, value in setup if value is None) or "setup"
    line = f"{display_path(run.path)}: {unknown} unknown"
    return f"{line} ({run.status}: {run.error})" if run.error else line
