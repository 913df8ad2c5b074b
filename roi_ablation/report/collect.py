"""Find run directories under sweep outputs and read each into a `Run`.

A run is any directory holding `metrics.json` (written by the engine when a run ends,
complete or failed) or `.hydra/config.yaml` (written by Hydra when a job starts). A job
killed before it wrote metrics still has its config, so it is read as "missing" and still
placed in its table row: a sweep's gaps stay visible instead of vanishing.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from omegaconf import DictConfig, OmegaConf

Status = Literal["complete", "failed", "missing"]

#: Table metric name -> (metrics.json section, key). AP values are percentages.
METRIC_SOURCES: dict[str, tuple[str, str]] = {
    "AP": ("segm", "AP"),
    "AP50": ("segm", "AP50"),
    "AP75": ("segm", "AP75"),
    "APbb": ("bbox", "AP"),
    "APbb50": ("bbox", "AP50"),
    "APbb75": ("bbox", "AP75"),
}

#: Run field -> key in the Hydra config, the fallback when metrics.json lacks the field.
CONFIG_KEYS: dict[str, str] = {
    "method": "roi.method",
    "agg": "roi.agg",
    "sampling_ratio": "roi.sampling_ratio",
    "aligned": "roi.aligned",
    "layout": "roi.layout",
    "mask": "roi.mask",
    "model": "model.name",
    "stride": "model.stride",
    "data": "data.name",
    "seed": "seed",
    "iterations": "train.max_iter",
}


class ReportError(Exception):
    """A user-facing error (bad input directory); the CLI prints it without a traceback."""


@dataclass(frozen=True)
class RoiSettings:
    """The RoI-layer settings that define a table row (`mask`: mask-branch overrides)."""

    method: str
    agg: str
    sampling_ratio: int
    aligned: bool
    layout: str
    mask: tuple[tuple[str, str], ...] = ()


@dataclass
class Run:
    """One training run as the tables see it, whatever state it ended in."""

    path: Path
    status: Status
    roi: RoiSettings
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
    """Read one run directory: metrics.json first, the Hydra config for what it lacks."""
    config = _load_config(path / ".hydra" / "config.yaml")
    overrides = _load_overrides(path / ".hydra" / "overrides.yaml")
    metrics_path = path / "metrics.json"
    if not metrics_path.is_file():
        status: Status = "missing"
        raw: dict[str, Any] = {}
        error = "no metrics.json (killed, still running, or never run)"
    else:
        try:
            raw = json.loads(metrics_path.read_text())
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            raw = {}
            status, error = "failed", f"unreadable metrics.json: {exc}"
        else:
            status = "complete" if raw.get("status", "complete") == "complete" else "failed"
            error = str(raw.get("error", raw.get("status"))) if status == "failed" else None

    def get(name: str) -> Any:
        roi = raw.get("roi") if isinstance(raw.get("roi"), dict) else {}
        value = roi.get(name) if name in roi else raw.get(name)
        if value is None and config is not None:
            value = OmegaConf.select(
                config, CONFIG_KEYS[name], default=None, throw_on_resolution_failure=False
            )
            if isinstance(value, DictConfig):
                value = OmegaConf.to_container(value, resolve=True)
        return value

    metrics = _read_metrics(raw) if status == "complete" else {}
    if status == "complete" and not metrics:
        status, error = "failed", "metrics.json reports no segm/bbox AP"
    return Run(
        path=path,
        status=status,
        roi=RoiSettings(
            method=str(get("method") or "?"),
            agg=str(get("agg") or "?"),
            sampling_ratio=_as_int(get("sampling_ratio"), default=2),
            aligned=bool(get("aligned") or False),
            layout=str(get("layout") or "center"),
            mask=tuple(sorted((str(k), str(v)) for k, v in (get("mask") or {}).items())),
        ),
        data=_as_str(get("data")),
        model=_as_str(get("model")),
        stride=_as_int(get("stride")),
        seed=_as_int(get("seed")),
        iterations=_as_int(get("iterations")),
        metrics=metrics,
        train_s=_as_float(raw.get("train_s")),
        eval_s=_as_float(raw.get("eval_s")),
        git=_as_str(raw.get("git")),
        device=_as_str(raw.get("device")),
        error=error,
        overrides=overrides,
    )


def _read_metrics(raw: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, (section, key) in METRIC_SOURCES.items():
        value = _as_float((raw.get(section) or {}).get(key))
        if value is not None:
            out[name] = value
    return out


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


def _as_float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _as_int(value: Any, default: int | None = None) -> int | None:
    number = _as_float(value)
    return default if number is None else int(number)


def _as_str(value: Any) -> str | None:
    return None if value is None else str(value)
