"""Sweep outputs -> the Mask R-CNN paper's Table 2c/2d: CSV, Markdown, plot, provenance.

`collect` reads run directories, `paper` holds the paper's values and row definitions,
`stats` the interval and power arithmetic, `tables` builds the tables, `claims` tests
the paper's claims, `power` plans the seeds a decision needs,
`render`/`plot`/`dashboard`/`provenance` write them, `write` is the pipeline, `summary`
what it prints, and `__main__` is the `roi-ablation-tables` command.
"""

from roi_ablation.report.collect import ReportError, Run, collect
from roi_ablation.report.tables import Table, build_tables

__all__ = ["ReportError", "Run", "Table", "build_tables", "collect"]
