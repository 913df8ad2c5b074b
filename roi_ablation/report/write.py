"""``write_report``: run directories -> the paper's tables, figures, claims and provenance.

The one report pipeline, called by ``roi-ablation-tables`` and by the sweep callback alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from roi_ablation.report.claims import write_claims
from roi_ablation.report.collect import ReportError, Run, collect
from roi_ablation.report.dashboard import write_tensorboard
from roi_ablation.report.plot import plot_gains, plot_tables
from roi_ablation.report.provenance import render_provenance
from roi_ablation.report.render import render_markdown, write_csv
from roi_ablation.report.tables import Table, build_tables


@dataclass
class Report:
    """What a report found and wrote."""

    runs: list[Run]
    tables: list[Table]
    unplaced: list[Run]
    written: list[Path] = field(default_factory=list)

    @property
    def problems(self) -> list[Run]:
        """Runs that did not complete: failed, interrupted, missing or with a malformed record."""
        return [run for run in self.runs if run.status != "complete"]


def write_report(dirs: list[Path], out: Path, command: str) -> Report:
    """Read every run under ``dirs`` and write the report into ``out``; ``command`` goes into the provenance.

    Raises ``ReportError`` for a directory without runs, or when no run says which data
    set and model it used.
    """
    collection = collect(dirs)
    tables, unplaced = build_tables(collection.runs)
    if not tables:
        raise ReportError("no run says which data set and stride it used")
    out.mkdir(parents=True, exist_ok=True)
    report = Report(collection.runs, tables, unplaced)
    for table in tables:
        report.written.append(write_csv(table, out / f"{table.stem}.csv"))
        markdown = out / f"{table.stem}.md"
        markdown.write_text(render_markdown(table), encoding="utf-8")
        report.written.append(markdown)
    report.written += [plot_tables(tables, out / "tables.png"), plot_gains(tables, out / "gains.png")]
    report.written += write_claims(tables, out)
    provenance = out / "provenance.md"
    provenance.write_text(render_provenance(tables, unplaced, collection.sweeps, command), encoding="utf-8")
    report.written += [provenance, write_tensorboard(tables, out)]
    return report
