"""Find run directories under sweep outputs and read each into a `Run` (the engine's `RunRecord` and where it is).

A run is any directory holding `metrics.json` (the engine's `RunRecord`, written when a
run ends: complete, failed or interrupted) or `.hydra/config.yaml` (written by Hydra when a
job starts). A job killed before it wrote its record still has its config, so it is read
as "missing" and still placed in its table row; a record that does not match the schema
is a failed run with the reason. A sweep's gaps stay visible instead of vanishing.
Hydra's files are read as plain YAML: the report needs a few keys, not the config system.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from roi_ablation.engine.metrics import METRICS_FILE, MalformedRecord, RunRecord, read_record
from roi_ablation.roi.registry import import_custom_modules
from roi_ablation.values import select

Status = Literal["complete", "failed", "interrupted", "missing"]

#: Table metric name -> (run record section, key). AP values are percentages.
METRIC_SOURCES: dict[str, tuple[str, str]] = {
    "AP": ("segm", "AP"),
    "AP50": ("segm", "AP50"),
    "AP75": ("segm", "AP75"),
    "APbb": ("bbox", "AP"),
    "APbb50": ("bbox", "AP50"),
    "APbb75": ("bbox", "AP75"),
}


class ReportError(Exception):
    """A user-facing error (bad input directory); the CLI prints it without a traceback."""


@dataclass
class Run:
    """One run directory as the tables see it: its run record, whatever state the run ended in.

    `record` is the run's metrics.json. A run without a usable one (killed before writing
    it, or malformed) gets a record described from its Hydra config, as the engine does for
    a refused config: stride unknown (it is measured), and `measured` False, so its times,
    git and device are not taken for the run's own. `iterations` is the schedule the run
    belongs to: the planned `train.max_iter` for one that stopped early.
    """

    path: Path
    record: RunRecord
    status: Status
    iterations: int | None
    measured: bool
    overrides: list[str] | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        """Why the run did not complete (None when it did)."""
        return None if self.status == "complete" else (self.record.error or self.status)


@dataclass
class Collection:
    """Every run found under the given directories, plus the sweep commands seen."""

    runs: list[Run]
    sweeps: dict[Path, list[str]]


def collect(dirs: list[Path]) -> Collection:
    """Read all runs under `dirs`; raise `ReportError` for a directory with none."""
    runs: dict[Path, Run] = {}
    sweeps: dict[Path, list[str]] = {}
    for root in dirs:
        if not root.is_dir():
            raise ReportError(f"{root}: no such directory")
        found = find_run_dirs(root)
        if not found:
            raise ReportError(
                f"{root}: no runs found (no directory below it holds metrics.json "
                "or .hydra/config.yaml)"
            )
        for path in found:
            runs.setdefault(path.resolve(), load_run(path))
        sweeps.update(_sweep_commands(root))
    return Collection(runs=sorted(runs.values(), key=lambda r: str(r.path)), sweeps=sweeps)


def find_run_dirs(root: Path) -> list[Path]:
    """Run directories at or below `root`; a run's own subfolders are not searched."""
    found: list[Path] = []
    for current, subdirs, files in os.walk(root):
        here = Path(current)
        if "metrics.json" in files or (here / ".hydra" / "config.yaml").is_file():
            found.append(here)
            subdirs.clear()
        else:
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
    return found


def load_run(path: Path) -> Run:
    """Read one run directory: its run record, or its Hydra config when it has none."""
    config = _load_yaml(path / ".hydra" / "config.yaml")
    overrides = _load_yaml(path / ".hydra" / "overrides.yaml")
    overrides = [str(o) for o in overrides] if isinstance(overrides, list) else None
    config = config if isinstance(config, dict) else {}
    _import_user_layers(config)
    planned = select(config, "train.max_iter")
    planned = planned if isinstance(planned, int) else None
    if not (path / METRICS_FILE).is_file():
        return _from_config(path, config, overrides, planned, "missing", "no metrics.json (killed, still running, or never run)")
    try:
        record = read_record(path / METRICS_FILE)
    except MalformedRecord as err:
        return _from_config(path, config, overrides, planned, "failed", f"malformed metrics.json: {err}")
    complete = record.status == "complete"
    return Run(
        path=path, record=record, status=record.status, measured=True,  # type: ignore[arg-type]
        # a run stopped early belongs to the table of the schedule it was started with
        iterations=record.iterations if complete or planned is None else planned,
        overrides=overrides, metrics=_table_metrics(record) if complete else {},
    )


def _from_config(path: Path, config: dict[str, Any], overrides: list[str] | None, planned: int | None,
                 status: Status, error: str) -> Run:
    """A run without a usable record, described by its Hydra config as far as it goes (stride is measured, so unknown)."""
    record = RunRecord.from_config(config, git="unknown", error=error)
    return Run(path=path, record=record, status=status, iterations=planned, measured=False, overrides=overrides)


def _table_metrics(record: RunRecord) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, (section, key) in METRIC_SOURCES.items():
        value = (getattr(record, section) or {}).get(key)
        if value is not None:
            out[name] = float(value)
    return out


def _import_user_layers(config: dict[str, Any]) -> None:
    """Import the run's `custom_imports`, so a user's layer has its registry entry (title, flags) here too."""
    names = select(config, "custom_imports")
    try:
        import_custom_modules([str(n) for n in names] if isinstance(names, list) else [])
    except ValueError:
        pass  # not importable here: the row keeps the layer's name and shows no flags


def _load_yaml(path: Path) -> Any:
    """A Hydra file's content; None when absent or unreadable (a half-written file must not stop the report)."""
    if not path.is_file():
        return None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _sweep_commands(root: Path) -> dict[Path, list[str]]:
    """The `-m` overrides of every Hydra multirun under `root` (from multirun.yaml)."""
    out: dict[Path, list[str]] = {}
    for path in sorted(root.rglob("multirun.yaml")):
        overrides = select(_load_yaml(path), "hydra.overrides.task")
        if isinstance(overrides, list):
            out[path.parent] = [str(o) for o in overrides]
    return out
