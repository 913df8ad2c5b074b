"""Every experiment and launcher composes; the demo sweep runs end to end at a tiny size."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from roi_ablation.config import compose_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))


def _compose(*overrides: str, hydra: bool = False):
    return compose_config(overrides, return_hydra_config=hydra)


def test_the_experiments_of_the_design_exist() -> None:
    assert {"table2c", "table2d", "shapes_table2c", "shapes_table2d", "shapes_confirm", "demo"} <= set(EXPERIMENTS)


def test_the_confirmatory_sweep_is_judged_by_v2_on_new_seeds() -> None:
    """docs/claims.md's pre-registration: rule v2, seeds the pilot (0-4) never used."""
    cfg = _compose("experiment=shapes_confirm", hydra=True)
    assert cfg.hydra.callbacks.tables.rules == "v2"
    assert not {int(s) for s in cfg.hydra.sweeper.params.seed.split(",")} & set(range(10))


def test_the_demo_is_the_384_px_twin_two_jobs_at_once() -> None:
    cfg = _compose("experiment=demo", hydra=True)
    twin = _compose("experiment=shapes_table2c")
    assert (cfg.data.image_size, cfg.model.anchors.sizes) == (twin.data.image_size, twin.model.anchors.sizes) == (384, [32, 64, 128, 256])
    assert "joblib" in cfg.hydra.launcher._target_ and cfg.hydra.launcher.n_jobs * cfg.cpu_threads == 2


@pytest.mark.parametrize(
    ("experiment", "model", "data", "rows", "seeds"),
    [
        ("table2c", "r50_c4", "coco", {"pool_max", "warp_max", "warp_avg", "align_max", "align_avg", "align_avg_aligned", "pool_avg"}, 3),
        ("table2d", "r50_c5", "coco", {"pool_max", "align_avg", "align_avg_aligned"}, 3),
        ("shapes_table2c", "small_c4", "shapes", {"pool_max", "warp_max", "warp_avg", "align_max", "align_avg", "align_avg_aligned", "prpool_avg"}, 3),
        ("shapes_table2d", "small_c5", "shapes", {"pool_max", "align_avg", "align_avg_aligned"}, 3),
        ("demo", "small_c4", "shapes", {"pool_max", "align_avg"}, 1),
        ("shapes_confirm", "small_c4", "shapes", {"pool_max", "warp_max", "warp_avg", "align_max", "align_avg"}, 8),
    ],
)
def test_experiment_sweeps_the_rows(experiment: str, model: str, data: str, rows: set[str], seeds: int) -> None:
    cfg = _compose(f"experiment={experiment}", hydra=True)
    assert (cfg.model.name, cfg.data.name, cfg.sweep_name) == (model, data, experiment)
    params = cfg.hydra.sweeper.params
    assert set(params.roi.split(",")) == rows
    assert len(params.seed.split(",")) == seeds if seeds else "seed" not in params
    for row in rows:  # every row is a real roi preset
        _compose(f"experiment={experiment}", f"roi={row}")


@pytest.mark.parametrize("launcher", ["basic", "joblib", "submitit_slurm", "submitit_local", "slurm_8gpu"])
def test_launchers_compose(launcher: str) -> None:
    cfg = _compose("experiment=shapes_table2d", f"hydra/launcher={launcher}", hydra=True)
    assert launcher.split("_")[0].replace("slurm", "submitit") in cfg.hydra.launcher._target_.lower()


@pytest.mark.slow
def test_demo_sweep_with_joblib_writes_tables(tmp_path: Path) -> None:
    sweep = tmp_path / "demo"
    command = [
        sys.executable, "-m", "roi_ablation.train", "-m", "experiment=demo", f"hydra.sweep.dir={sweep}",
        "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "cpu_threads=1", "device=cpu",
        "train.max_iter=2", "train.batch_size=2", "train.vis_images=0", "data.num_train=8", "data.num_val=4",
    ]
    env = {**os.environ, "ROI_ABLATION_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = sorted(p.parent.name for p in sweep.glob("*/metrics.json"))  # named by the overrides
    assert len(runs) == 2 and "roi=align_avg" in runs[0] and "roi=pool_max" in runs[1]
    for name in runs:
        assert json.loads((sweep / name / "metrics.json").read_text())["status"] == "complete"
    table = (sweep / "tables" / "table2c.csv").read_text()
    assert "RoIPool" in table and "RoIAlign" in table
    assert (sweep / "tables" / "tables.png").stat().st_size > 5000
    assert f"tensorboard --logdir {sweep}" in proc.stdout
