"""A Hydra callback: when a multirun ends, its report is built whatever happened to the jobs.

Jobs never raise into Hydra (``roi_ablation.train`` records a failed job and carries on),
so this runs after every sweep. It writes the tables and the HParams experiment config,
lists the jobs that did not complete, and then makes the command exit with 1 if any did.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from roi_ablation.report.claims import RULEBOOKS
from roi_ablation.report.collect import ReportError
from roi_ablation.report.summary import print_summary
from roi_ablation.report.write import write_report


class TablesCallback(Callback):
    """``roi-ablation-tables SWEEP_DIR --out SWEEP_DIR/tables`` after every sweep; exit 1 if a job did not complete.

    ``rules``: the claims' rulebook (``hydra.callbacks.tables.rules=v2`` in an experiment).
    """

    def __init__(self, rules: str = "v1") -> None:
        if rules not in RULEBOOKS:
            raise ValueError(f"hydra.callbacks.tables.rules={rules!r} is no rulebook; valid: {', '.join(sorted(RULEBOOKS))}")
        self.rules = rules

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        out = sweep_dir / "tables"
        print(f"\nSweep finished: building the tables from {sweep_dir}")
        try:
            command = ["roi-ablation-tables", str(sweep_dir), "--out", str(out)] + (
                ["--rules", self.rules] if self.rules != "v1" else [])
            report = write_report([sweep_dir], out, shlex.join(command), rules=RULEBOOKS[self.rules])
        except (ReportError, OSError) as exc:
            print(f"roi-ablation-tables: error: {exc}")
            raise SystemExit(1) from None
        print_summary(report)
        tables = ", ".join(str(p) for p in report.written if p.suffix == ".md" and p.name.startswith("table"))
        print(f"\nTables: {tables} (CSV, claims and figures beside them)"
              f"\nTensorBoard (training curves, images, HParams, the tables as text):"
              f"\n  tensorboard --logdir {sweep_dir}")
        if report.problems:
            print(f"\n{len(report.problems)} of {len(report.runs)} jobs did not complete (listed above); "
                  "rerun the same command to resume them")
            raise SystemExit(1)
