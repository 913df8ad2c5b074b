"""What `roi-ablation-tables` and the sweep callback print: counts, problems, paths, plans, results.

It ends with a short table per stride (mask AP per row, the gain over the baseline with
its 95% interval when there are two seeds or more), so a demo's last screen shows the
effect beside the paths of the files that hold everything else.
"""

from __future__ import annotations

from roi_ablation.report.power import TARGET
from roi_ablation.report.render import describe, why_unplaced
from roi_ablation.report.tables import Row, Table
from roi_ablation.report.write import Report


def print_summary(report: Report) -> None:
    """The counts, every run that did not complete (with why), the files written, the plans, the results."""
    print(f"{len(report.runs)} runs, {len(report.problems)} failed or missing, {len(report.tables)} tables")
    for run in report.problems:
        print(f"  {describe(run)}")
    for run in report.unplaced:
        print(f"  in no table: {why_unplaced(run)}")
    for path in report.written:
        print(f"wrote {path}")
    print("\n".join(power_lines(report)))
    for table in report.tables:
        print("\n" + "\n".join(result_lines(table)))


def power_lines(report: Report) -> list[str]:
    """The comparisons that need more seeds than the sweep has for a decision, and what those cost."""
    planned = [p for p in report.plans if p.pilot is not None]
    more = [p for p in planned if p.seeds is None or p.seeds > p.pilot_seeds]
    lines = [f"\nSeeds for a decision with {TARGET:.0%} power (power.md): {len(planned) - len(more)} of "
             f"{len(report.plans)} comparisons have enough{'; the others need:' if more else ''}"]
    for p in more:
        hours = [f"{value:,.2f} {unit} h" for value, unit in ((p.cpu_hours, "CPU"), (p.gpu_hours, "GPU")) if value is not None]
        need = "not reachable" if p.seeds is None else f"{p.seeds} seeds" + (f" ({', '.join(hours)})" if hours else "")
        lines.append(f"  {p.comparison}, stride {p.stride}, {p.metric}: {need}")
    if len(planned) < len(report.plans):
        lines.append(f"  {len(report.plans) - len(planned)} more need 2+ seeds paired in each row before they can be planned")
    if report.gpu.note:
        lines.append(f"  {report.gpu.note}")
    return lines


def result_lines(table: Table) -> list[str]:
    """One line per row with runs: label, aggregation, mask AP (seeds) and the gain over the baseline [95% CI]."""
    key = table.key
    rows = [row for row in table.rows if row.runs]  # a paper row no run reached says nothing here
    width = max((len(row.label) for row in rows), default=0)
    lines = [f"{table.stem} ({key.data}, {key.model}, {key.iterations} iterations): "
             f"mask AP (seeds), gain vs {table.base_title} [95% CI]"]
    for row in rows:
        lines.append(f"  {row.label:<{width}}  {row.roi.agg}  {_mask_ap(row):>10}  {_gain(row, table)}")
    return lines


def _mask_ap(row: Row) -> str:
    n = len(row.by_status("complete"))
    return f"{row.mean['AP']:.1f} ({n})" if "AP" in row.mean else f"– ({n})"


def _gain(row: Row, table: Table) -> str:
    if row is table.base:
        return "baseline"
    if "AP" not in row.gain:
        return "–"
    low_high = row.gain_ci.get("AP")
    return f"{row.gain['AP']:+.1f}" + (f" [{low_high[0]:+.1f}, {low_high[1]:+.1f}]" if low_high else "")
