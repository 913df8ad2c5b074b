"""``write_report``: run directories -> the paper's tables, figures, claims, power plan and provenance.

The one report pipeline, called by ``roi-ablation-tables`` and by the sweep callback alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from roi_ablation.report.claims import RULEBOOKS, Rulebook, write_claims
from roi_ablation.report.collect import ReportError, Run, collect
from roi_ablation.report.dashboard import write_tensorboard
from roi_ablation.report.plot import plot_gains, plot_tables
from roi_ablation.report.power import GPU_CHECK, GpuCheck, Plan, plan, read_gpu_check, write_power
from roi_ablation.report.provenance import render_provenance
from roi_ablation.report.render import render_markdown, why_unplaced, write_csv_and_markdown
from roi_ablation.report.tables import Table, build_tables


@dataclass
class Report:
    """What a report found and wrote."""

    runs: list[Run]
    tables: list[Table]
    unplaced: list[Run]
    plans: list[Plan] = field(default_factory=list)
    gpu: GpuCheck = field(default_factory=lambda: GpuCheck({}))
    written: list[Path] = field(default_factory=list)

    @property
    def problems(self) -> list[Run]:
        """Runs that did not complete: failed, interrupted, missing or with a malformed record."""
        return [run for run in self.runs if run.status != "complete"]


def write_report(dirs: list[Path], out: Path, command: str, baseline: str | None = None,
                 gpu_check: Path = GPU_CHECK, rules: Rulebook = RULEBOOKS["v1"]) -> Report:
    """Read every run under ``dirs`` and write the report into ``out``; ``command`` goes into the provenance.

    ``baseline``: the variant key gains are measured from (default RoIPool); ``gpu_check``:
    the gpu_check.json whose step times price the power plan in GPU hours, if it exists;
    ``rules``: the margins of the verdicts and plans (docs/claims.md's v1 or v2).
    Raises ``ReportError`` for a directory without runs, an unknown baseline, or when no
    run says which data set and stride it used (naming each run and why).
    """
    collection = collect(dirs)
    tables, unplaced = build_tables(collection.runs, baseline)
    if not tables:
        raise ReportError("no run says which data set and stride it used:\n"
                          + "\n".join(f"  {why_unplaced(run)}" for run in unplaced))
    out.mkdir(parents=True, exist_ok=True)
    gpu = read_gpu_check(gpu_check)
    report = Report(collection.runs, tables, unplaced, plan(tables, gpu, rules), gpu)
    for table in tables:
        report.written += write_csv_and_markdown(out, table.stem, table.columns, table.records(), render_markdown(table))
    report.written += [plot_tables(tables, out / "tables.png"), plot_gains(tables, out / "gains.png")]
    report.written += write_claims(tables, out, rules)
    report.written += write_power(report.plans, gpu, out, rules)
    provenance = out / "provenance.md"
    provenance.write_text(render_provenance(tables, unplaced, collection.sweeps, command), encoding="utf-8")
    report.written += [provenance, write_tensorboard(tables, out)]
    return report
