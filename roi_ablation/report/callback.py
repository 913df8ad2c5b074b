"""A Hydra callback: when a multirun ends, its tables are built and where to look is printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from roi_ablation.report.__main__ import main as tables_main


class TablesCallback(Callback):
    """Runs `roi-ablation-tables SWEEP_DIR --out SWEEP_DIR/tables` after every sweep."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        out = sweep_dir / "tables"
        print(f"\nSweep finished: building the tables from {sweep_dir}")
        if tables_main([str(sweep_dir), "--out", str(out)]) == 0:
            tables = ", ".join(str(p) for p in sorted(out.glob("*.md")) if p.name != "provenance.md")
            print(f"\nTables: {tables} (CSV and tables.png beside them)"
                  f"\nTensorBoard (training curves, images, the tables as text):"
                  f"\n  tensorboard --logdir {sweep_dir}")
