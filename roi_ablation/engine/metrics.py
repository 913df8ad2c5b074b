"""`metrics.json`: the run record, the one file per run that tables and checks read.

``RunRecord`` is its schema, shared by the engine that writes it and the report that
reads it (format in docs/design.md). Rank 0 writes it atomically when a run ends:
"complete", "failed" (with "error") or "interrupted", so a sweep's report shows failed
and stopped runs instead of silently dropping them. Reading is strict: a record that
does not match the schema raises ``MalformedRecord`` saying what is wrong.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from roi_ablation.atomic import atomic_write_json
from roi_ablation.roi import RoISettings
from roi_ablation.roi.settings import LAYER_KEYS
from roi_ablation.values import is_int, is_number, select

METRICS_FILE = "metrics.json"
STATUSES = ("complete", "failed", "interrupted")
Scores = dict[str, float | None]


class MalformedRecord(ValueError):
    """A metrics.json that is not a run record; the message says what is wrong."""


def git_sha() -> str:
    """The commit of the package's checkout, or "unknown" (installed copy, no git)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


@dataclass
class RunRecord:
    """Which run this is (RoI layer, model, measured stride, data, seed) and how it ended."""

    roi: RoISettings
    model: str | None
    stride: int | None
    data: str | None
    seed: int | None
    iterations: int = 0
    segm: Scores | None = None
    bbox: Scores | None = None
    train_s: float = 0.0
    eval_s: float = 0.0
    git: str = field(default_factory=git_sha)
    status: str = "failed"
    error: str | None = None
    device: str | None = None  # where it trained (DistContext.where: "cpu", "cuda:0", "cuda x8"); optional in the file

    def ended(self, status: str, **values: Any) -> "RunRecord":
        """This run, ended with ``status`` and the given values (iterations, scores, times, error)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; got {status!r}")
        return replace(self, status=status, **values)

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "roi": self.roi.to_json(), "model": self.model, "stride": self.stride, "data": self.data,
            "seed": self.seed, "iterations": self.iterations, "segm": self.segm, "bbox": self.bbox,
            "train_s": round(self.train_s, 3), "eval_s": round(self.eval_s, 3), "git": self.git, "status": self.status,
        }
        for name in ("error", "device"):
            if getattr(self, name) is not None:
                record[name] = getattr(self, name)
        return record

    @classmethod
    def from_config(cls, config: Any, **values: Any) -> "RunRecord":
        """A run described by its (resolved or raw Hydra) config as far as it goes: for a job whose
        config was refused, or a run that left no usable record. The stride is measured, so unknown."""
        roi, model, data, seed = (select(config, key) for key in ("roi", "model.name", "data.name", "seed"))
        return cls(RoISettings.described(roi if isinstance(roi, dict) else {}), _optional_str(model), None,
                   _optional_str(data), seed if is_int(seed) else None, **values)

    @classmethod
    def from_json(cls, raw: Any) -> "RunRecord":
        """The record of a parsed metrics.json; ``MalformedRecord`` naming the first field that is wrong."""
        if not isinstance(raw, dict):
            raise MalformedRecord(f"not a JSON object but {type(raw).__name__}")
        roi = raw.get("roi")
        if not isinstance(roi, dict) or not all(isinstance(roi.get(k), str) for k in ("method", "agg")):
            raise MalformedRecord(f"'roi' must be an object with {', '.join(LAYER_KEYS)}; got {roi!r}")
        status = raw.get("status")
        if status not in STATUSES:
            raise MalformedRecord(f"'status' must be one of {', '.join(STATUSES)}; got {status!r}")
        geometry_ok = is_int(roi.get("sampling_ratio")) and isinstance(roi.get("aligned"), bool)
        if not geometry_ok and (status == "complete" or any(roi.get(k) is not None for k in ("sampling_ratio", "aligned"))):
            # a run that failed before its settings were complete may leave them null
            raise MalformedRecord(f"'roi' needs an integer sampling_ratio and a boolean aligned; got {roi!r}")
        scores = {name: _scores(raw.get(name), name) for name in ("segm", "bbox")}
        if status == "complete" and not any(s and s.get("AP") is not None for s in scores.values()):
            raise MalformedRecord("status is 'complete' but neither 'segm' nor 'bbox' has an AP")
        for name in ("stride", "seed", "iterations"):
            if raw.get(name) is not None and not is_int(raw.get(name)):
                raise MalformedRecord(f"'{name}' must be an integer; got {raw.get(name)!r}")
        return cls(
            roi=RoISettings.from_json(roi), model=_optional_str(raw.get("model")), stride=raw.get("stride"),
            data=_optional_str(raw.get("data")), seed=raw.get("seed"), iterations=raw.get("iterations") or 0,
            segm=scores["segm"], bbox=scores["bbox"], train_s=_number(raw.get("train_s")),
            eval_s=_number(raw.get("eval_s")), git=str(raw.get("git", "unknown")), status=status,
            error=_optional_str(raw.get("error")), device=_optional_str(raw.get("device")),
        )


def write_metrics(run_dir: Path, record: RunRecord) -> RunRecord:
    """Write ``record`` as ``run_dir/metrics.json`` (atomically); returns it."""
    atomic_write_json(run_dir / METRICS_FILE, record.to_json())
    return record


def read_record(path: Path) -> RunRecord:
    """The record in ``path``; ``MalformedRecord`` if it is unreadable or not a run record."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise MalformedRecord(f"unreadable: {err}") from None
    return RunRecord.from_json(raw)


def read_metrics(run_dir: Path) -> RunRecord | None:
    """The record of ``run_dir``, or None if it has none or an unusable one."""
    try:
        return read_record(run_dir / METRICS_FILE)
    except MalformedRecord:
        return None


def _number(value: Any) -> float:
    return float(value) if is_number(value) else 0.0


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _scores(value: Any, name: str) -> Scores | None:
    """A section of AP values: numbers (finite, in 0..100) or null."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedRecord(f"'{name}' must be an object of AP values or null; got {value!r}")
    for key, score in value.items():
        ok = score is None or (is_number(score) and -1 <= score <= 100)
        if not ok:
            raise MalformedRecord(f"'{name}.{key}' must be a percentage or null; got {score!r}")
    return dict(value)
