"""Find run directories under sweep outputs and read each into a `Run`.

A run is any directory holding `metrics.json` (the engine's `RunRecord`, written when a
run ends: complete, failed or interrupted) or `.hydra/config.yaml` (written by Hydra when a
job starts). A job killed before it wrote its record still has its config, so it is read
as "missing" and still placed in its table row; a record that does not match the schema
is a failed run with the reason. A sweep's gaps stay visible instead of vanishing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from omegaconf import DictConfig, OmegaConf

from roi_ablation.engine.metrics import METRICS_FILE, MalformedRecord, RunRecord, read_record
from roi_ablation.roi import RoISettings
from roi_ablation.roi.registry import import_custom_modules

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
    """One training run as the tables see it, whatever state it ended in."""

    path: Path
    status: Status
    roi: RoISettings
    data: str | None
    model: str | None
    stride: int | None
    seed: int | None
    iterations: int | None
    metrics: dict[str, float] = field(default_factory=dict)
    train_s: float | None = None
    eval_s: float | None = None
    git: str | None = None
    device: str | None = None
    error: str | None = None
    overrides: list[str] | None = None


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
    config = _load_config(path / ".hydra" / "config.yaml")
    overrides = _load_overrides(path / ".hydra" / "overrides.yaml")
    _import_user_layers(config)
    if not (path / METRICS_FILE).is_file():
        return _from_config(path, config, overrides, "missing", "no metrics.json (killed, still running, or never run)")
    try:
        record = read_record(path / METRICS_FILE)
    except MalformedRecord as err:
        return _from_config(path, config, overrides, "failed", f"malformed metrics.json: {err}")
    iterations = record.iterations
    if record.status != "complete":  # a run stopped early belongs to the table of the schedule it was started with
        planned = OmegaConf.select(config, "train.max_iter", default=None) if config else None
        iterations = planned if isinstance(planned, int) else iterations
    return Run(
        path=path, status=record.status, roi=record.roi, data=record.data, model=record.model,  # type: ignore[arg-type]
        stride=record.stride, seed=record.seed, iterations=iterations,
        metrics=_table_metrics(record) if record.status == "complete" else {},
        train_s=record.train_s, eval_s=record.eval_s, git=record.git,
        error=None if record.status == "complete" else (record.error or record.status), overrides=overrides,
    )


def _from_config(path: Path, config: DictConfig | None, overrides: list[str] | None, status: Status, error: str) -> Run:
    """A run without a usable record, described by its Hydra config as far as it goes (stride is measured, so unknown)."""
    def get(key: str) -> Any:
        value = OmegaConf.select(config, key, default=None, throw_on_resolution_failure=False) if config else None
        return OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value

    roi = get("roi") or {}
    try:
        settings = RoISettings(**roi)  # completes the geometry a preset leaves to the layer's paper settings
    except (TypeError, ValueError):
        settings = RoISettings.from_json(roi)
    max_iter = get("train.max_iter")
    return Run(path=path, status=status, roi=settings, data=_as_str(get("data.name")), model=_as_str(get("model.name")),
               stride=get("model.stride"), seed=get("seed"), iterations=max_iter if isinstance(max_iter, int) else None,
               error=error, overrides=overrides)


def _table_metrics(record: RunRecord) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, (section, key) in METRIC_SOURCES.items():
        value = (getattr(record, section) or {}).get(key)
        if value is not None:
            out[name] = float(value)
    return out


def _import_user_layers(config: DictConfig | None) -> None:
    """Import the run's `custom_imports`, so a user's layer has its registry entry (title, flags) here too."""
    names = OmegaConf.select(config, "custom_imports", default=None) if config else None
    try:
        import_custom_modules(list(names or []))
    except ValueError:
        pass  # not importable here: the row keeps the layer's name and shows no flags


def _load_config(path: Path) -> DictConfig | None:
    if not path.is_file():
        return None
    try:
        config = OmegaConf.load(path)
    except Exception:  # a half-written config must not stop the report; the run shows as unknown
        return None
    return config if isinstance(config, DictConfig) else None


def _load_overrides(path: Path) -> list[str] | None:
    if not path.is_file():
        return None
    try:
        loaded = OmegaConf.to_container(OmegaConf.load(path))
    except Exception:  # provenance only: an unreadable file just loses the command line
        return None
    return [str(o) for o in loaded] if isinstance(loaded, list) else None


def _sweep_commands(root: Path) -> dict[Path, list[str]]:
    """The `-m` overrides of every Hydra multirun under `root` (from multirun.yaml)."""
    out: dict[Path, list[str]] = {}
    for path in sorted(root.rglob("multirun.yaml")):
        task = _load_config(path)
        overrides = OmegaConf.select(task, "hydra.overrides.task", default=None) if task else None
        if overrides is not None:
            out[path.parent] = [str(o) for o in overrides]
    return out


def _as_str(value: Any) -> str | None:
    return None if value is None else str(value)
