"""`python -m roi_ablation.train` end to end on the synthetic set with the small CPU model.

Needs the data and model packages: skipped (module-level importorskip guard) until
`roi_ablation.models.build_model` exists.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import engine_procs as procs

models = pytest.importorskip("roi_ablation.models")
if not hasattr(models, "build_model"):
    pytest.skip("roi_ablation.models.build_model has not landed yet", allow_module_level=True)
pytest.importorskip("roi_ablation.data")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

RUN = [
    "model=small_c4", "device=cpu", "deterministic=true", "train.max_iter=4", "train.batch_size=2",
    "train.checkpoint_period=2", "train.log_period=1", "train.vis_images=1",
]
TINY = [*RUN, "data.num_train=8", "data.num_val=4"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The synthetic set is generated once per test process, in a temporary cache."""
    return {**os.environ, "ROI_ABLATION_CACHE": str(tmp_path_factory.mktemp("cache"))}


def train(run_dir: Path, *overrides: str, env: dict[str, str], launcher: list[str] | None = None) -> subprocess.CompletedProcess:
    command = [*(launcher or [sys.executable, "-m"]), "roi_ablation.train", f"hydra.run.dir={run_dir}", *overrides]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    proc = train(run_dir, *TINY, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return run_dir


@pytest.mark.slow
def test_outputs(finished: Path) -> None:
    metrics = json.loads((finished / "metrics.json").read_text())
    assert metrics["status"] == "complete" and metrics["iterations"] == 4
    assert (metrics["model"], metrics["stride"], metrics["data"]) == ("small_c4", 16, "shapes")
    assert metrics["roi"]["method"] == "align" and set(metrics["segm"]) == {"AP", "AP50", "AP75", "APs", "APm", "APl"}
    events = EventAccumulator(str(finished))
    events.Reload()
    assert {"loss/total", "lr", "eval/segm/AP", "eval/bbox/AP"} <= set(events.Tags()["scalars"])
    assert "val/0" in events.Tags()["images"]
    assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams")
    assert (finished / "checkpoints/last.pth").exists() and (finished / "checkpoints/model_final.pth").exists()
    assert "Starting a new run" in (finished / "train.log").read_text()


@pytest.mark.slow
def test_rerun_is_a_no_op_and_other_config_is_refused(finished: Path, env: dict[str, str]) -> None:
    again = train(finished, *TINY, env=env)
    assert again.returncode == 0 and "nothing to do" in again.stdout + again.stderr
    other = train(finished, *TINY, "roi=pool_max", env=env)
    out = other.stdout + other.stderr
    assert other.returncode == 1 and "roi.method: 'align' -> 'pool'" in out and "hydra.run.dir" in out
    assert "Traceback" not in out
    assert json.loads((finished / "metrics.json").read_text())["status"] == "complete"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["train.steps=[2]"], "train.steps"),
        (["custom_imports=[no_such_module_xyz]"], "no_such_module_xyz"),
        (["data=coco", "data.root=/nonexistent/coco"], "/nonexistent/coco"),
    ],
)
def test_user_errors_exit_1_without_traceback(tmp_path: Path, env: dict[str, str], overrides: list[str], expected: str) -> None:
    proc = train(tmp_path / "run", *(RUN if "data=coco" in overrides else TINY), *overrides, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and expected in out and "Traceback" not in out
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert metrics["status"] == "failed" and expected in metrics["error"]


@pytest.mark.slow
def test_unknown_option_lists_the_valid_ones(tmp_path: Path, env: dict[str, str]) -> None:
    proc = train(tmp_path / "run", "roi=nope", env=env)
    assert proc.returncode == 1 and "Available options in 'roi'" in proc.stderr and "align_max" in proc.stderr


@pytest.mark.slow
def test_sigkill_then_rerun_equals_uninterrupted(tmp_path: Path, env: dict[str, str], finished: Path) -> None:
    command = [sys.executable, "-m", "roi_ablation.train", f"hydra.run.dir={tmp_path}", *TINY]
    procs.kill_after_first_checkpoint(command, tmp_path, env)
    resumed = train(tmp_path, *TINY, env=env)
    assert resumed.returncode == 0 and "Resuming from" in resumed.stdout + resumed.stderr
    procs.assert_same_result(tmp_path, finished)  # `finished` ran the same command uninterrupted


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path: Path, env: dict[str, str]) -> None:
    torchrun = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node=2", "-m"]
    proc = train(tmp_path / "run", *TINY, "train.max_iter=2", env=env, launcher=torchrun)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "run/metrics.json").read_text())["status"] == "complete"


@pytest.mark.slow
def test_submitit_tasks_are_one_process_group(tmp_path: Path, env: dict[str, str]) -> None:
    """hydra/launcher=slurm_8gpu's shape on one machine: two tasks of one job, one DDP run."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    command = [sys.executable, "-m", "roi_ablation.train", "-m", f"hydra.sweep.dir={tmp_path}", *TINY,
               "train.max_iter=2", "hydra/launcher=submitit_local", "hydra.launcher.tasks_per_node=2",
               "hydra.launcher.timeout_min=10"]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = {p.parent for p in tmp_path.glob("*/metrics.json")}
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "complete"
    log = (run_dir / "train.log").read_text()
    assert log.count("device cpu x2,") == 1, log  # both tasks in one group; rank 0 alone writes the log
