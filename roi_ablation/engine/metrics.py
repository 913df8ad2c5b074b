"""`metrics.json`: the one file per run that tables and checks read (format in DESIGN.md).

Written atomically by rank 0, on success ("complete") and on failure ("failed" with
"error"), so a sweep's report can show failed runs instead of silently dropping them.
"""

import json
import subprocess
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from roi_ablation.engine.atomic import atomic_write_json

METRICS_FILE = "metrics.json"
ROI_KEYS = ("method", "agg", "sampling_ratio", "aligned", "layout")
Scores = dict[str, float | None]


def git_sha() -> str:
    """The commit of the package's checkout, or "unknown" (installed copy, no git)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def run_description(cfg: DictConfig) -> dict[str, Any]:
    """Which run this is: RoI layer, model, stride, data set, seed.

    `roi.mask` (mask-branch overrides) appears only when set, so the common case
    matches DESIGN.md exactly while such runs stay distinguishable.
    """
    roi = {key: OmegaConf.select(cfg, f"roi.{key}") for key in ROI_KEYS}
    mask = OmegaConf.select(cfg, "roi.mask")
    if mask:
        roi["mask"] = OmegaConf.to_container(mask, resolve=True)
    return {
        "roi": roi,
        "model": OmegaConf.select(cfg, "model.name"),
        "stride": OmegaConf.select(cfg, "model.stride"),
        "data": OmegaConf.select(cfg, "data.name"),
        "seed": OmegaConf.select(cfg, "seed"),
    }


def write_metrics(
    run_dir: Path,
    cfg: DictConfig,
    *,
    iterations: int,
    segm: Scores | None,
    bbox: Scores | None,
    train_s: float,
    eval_s: float,
    error: str | None = None,
) -> dict[str, Any]:
    """Write metrics.json; `error` set means status "failed". Returns what was written."""
    record: dict[str, Any] = {
        **run_description(cfg),
        "iterations": iterations,
        "segm": segm,
        "bbox": bbox,
        "train_s": round(train_s, 3),
        "eval_s": round(eval_s, 3),
        "git": git_sha(),
        "status": "failed" if error else "complete",
    }
    if error:
        record["error"] = error
    atomic_write_json(run_dir / METRICS_FILE, record)
    return record


def read_metrics(run_dir: Path) -> dict[str, Any] | None:
    """metrics.json of `run_dir`, or None if absent or unreadable."""
    try:
        return json.loads((run_dir / METRICS_FILE).read_text())
    except (OSError, ValueError):
        return None
