"""A whole run on the stand-ins: outputs, rerun semantics, refusals and failures."""

import errno
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import engine_procs as procs
import engine_standins as standins
from roi_ablation.engine import checkpoint
from roi_ablation.atomic import WriteError
from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.runner import Outcome, RunSpec

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def complete(tmp_path_factory: pytest.TempPathFactory, cpu: DistContext) -> Path:
    """A finished stand-in run: 6 iterations, checkpoints every 2, evaluations at 3 and 6."""
    run_dir = tmp_path_factory.mktemp("run")
    cfg = standins.config(**{"train.eval_period": 3})
    assert standins.run_standin(cfg, run_dir, cpu) is Outcome.COMPLETE
    return run_dir


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def test_metrics_and_results(complete: Path) -> None:
    m = _metrics(complete)
    assert m["status"] == "complete" and m["iterations"] == 6 and m["device"] == "cpu"
    assert set(m["segm"]) == {"AP", "AP50", "AP75", "APs", "APm", "APl"} and m["train_s"] > 0 and m["eval_s"] > 0
    results = json.loads((complete / "results_segm.json").read_text())
    assert {r["category_id"] for r in results} <= {3, 7}
    assert {r["image_id"] for r in results} <= set(range(1000, 1004))


def test_checkpoints(complete: Path) -> None:
    last = torch.load(complete / "checkpoints/last.pth", weights_only=False)
    assert last["iteration"] == 6 and len(last["rng"]) == 1
    assert {"model", "optimizer", "scheduler", "scaler", "train_s", "config"} <= set(last)
    final = torch.load(complete / "checkpoints/model_final.pth")
    assert all(torch.equal(final["model"][k], v) for k, v in last["model"].items())


def test_tensorboard(complete: Path) -> None:
    events = EventAccumulator(str(complete), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"loss/total", "loss/loss_mask", "loss/loss_classifier", "lr", "time/iter", "time/data"} <= scalars
    assert [e.step for e in events.Scalars("loss/total")] == [1, 2, 3, 4, 5, 6]
    assert [e.step for e in events.Scalars("eval/segm/AP")] == [3, 6]
    assert "eval/bbox/AP50" in scalars
    assert {"val/0", "val/1"} <= set(events.Tags()["images"])
    assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams")  # its content: test_engine_tensorboard


def test_rerun_of_a_complete_run_does_nothing(complete: Path, cpu: DistContext, caplog: pytest.LogCaptureFixture) -> None:
    before = (complete / "metrics.json").read_bytes()
    with caplog.at_level(logging.INFO):
        assert standins.run_standin(standins.config(**{"train.eval_period": 3}), complete, cpu) is Outcome.SKIPPED
    assert "nothing to do" in caplog.text and (complete / "metrics.json").read_bytes() == before


def test_other_config_is_refused_naming_the_keys(complete: Path, cpu: DistContext, caplog: pytest.LogCaptureFixture) -> None:
    before = (complete / "metrics.json").read_bytes()
    cfg = standins.config(**{"roi.method": "pool", "seed": 1})
    assert standins.run_standin(cfg, complete, cpu) is Outcome.REFUSED
    message = caplog.records[-1].getMessage()
    assert "roi.method: 'align' -> 'pool'" in message and "seed: 0 -> 1" in message and "hydra.run.dir" in message
    assert (complete / "metrics.json").read_bytes() == before


def test_missing_metrics_are_recomputed_without_training(complete: Path, cpu: DistContext, tmp_path: Path, caplog) -> None:
    run_dir = tmp_path / "copy"
    shutil.copytree(complete, run_dir)
    (run_dir / "metrics.json").unlink()
    with caplog.at_level(logging.INFO):
        assert standins.run_standin(standins.config(**{"train.eval_period": 3}), run_dir, cpu) is Outcome.COMPLETE
    assert "Resuming from" in caplog.text and "at iteration 6/6" in caplog.text
    assert _metrics(run_dir)["segm"] == _metrics(complete)["segm"]
    assert _metrics(run_dir)["train_s"] == _metrics(complete)["train_s"]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path, cpu: DistContext, caplog) -> None:
    cfg = standins.config(**{"model.nan_at": 4})
    assert standins.run_standin(cfg, tmp_path, cpu) is Outcome.FAILED
    m = _metrics(tmp_path)
    assert m["status"] == "failed" and m["iterations"] == 3
    assert "iteration 4" in m["error"] and "loss_mask=nan" in m["error"] and "loss_classifier=" in m["error"]
    assert "iteration 4" in caplog.records[-1].getMessage()
    assert torch.load(tmp_path / "checkpoints/last.pth", weights_only=False)["iteration"] == 2
    assert not (tmp_path / "checkpoints/model_final.pth").exists()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("device", "tpu", "device='tpu'"),
        ("train.batch_size", 16, "fewer than one step"),
    ],
)
def test_user_errors_fail_cleanly(tmp_path: Path, caplog, key: str, value: object, expected: str) -> None:
    assert standins.run_standin(standins.config(**{key: value}), tmp_path) is Outcome.FAILED
    assert expected in caplog.records[-1].getMessage()
    m = _metrics(tmp_path)
    assert m["status"] == "failed" and expected in m["error"]


def test_the_spec_of_a_bad_schedule_names_the_key() -> None:
    """The entry point builds the spec (and records a refused config itself, as the CLI tests check)."""
    with pytest.raises(ValueError, match=r"^train\.steps must be a list of increasing fractions"):
        RunSpec.of(standins.config(**{"train.steps": [2.0]}))


def _standin_command(run_dir: Path, *overrides: str) -> list[str]:
    return [sys.executable, str(HERE / "engine_standin_run.py"), str(run_dir), *overrides]


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_uninterrupted_result(tmp_path: Path, cpu: DistContext) -> None:
    overrides = ["train.max_iter=9", "train.checkpoint_period=3"]
    procs.kill_after_first_checkpoint(_standin_command(tmp_path / "killed", *overrides), tmp_path / "killed")
    resumed = subprocess.run(_standin_command(tmp_path / "killed", *overrides), capture_output=True, text=True)
    assert resumed.returncode == 0 and "Resuming from" in resumed.stdout, resumed.stdout + resumed.stderr
    cfg = OmegaConf.merge(standins.config(), OmegaConf.from_dotlist(overrides))
    assert standins.run_standin(cfg, tmp_path / "straight", cpu) is Outcome.COMPLETE  # type: ignore[arg-type]
    procs.assert_same_result(tmp_path / "killed", tmp_path / "straight")


@pytest.mark.slow
def test_two_process_gloo_run(tmp_path: Path) -> None:
    torchrun = Path(sys.executable).parent / "torchrun"
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", str(HERE / "engine_standin_run.py"), str(tmp_path),
         "train.max_iter=4", "train.batch_size=4", "data.num_val=5", "train.checkpoint_period=2"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _metrics(tmp_path)["status"] == "complete"
    assert torch.load(tmp_path / "checkpoints/last.pth", weights_only=False)["rng"].__len__() == 2
    image_ids = {r["image_id"] for r in json.loads((tmp_path / "results_bbox.json").read_text())}
    assert image_ids == set(range(1000, 1005))  # both ranks' shards reached rank 0


def _rerun_copy(complete: Path, tmp_path: Path) -> Path:
    """A copy of the finished run without its results, as a run killed during its final evaluation leaves it."""
    run_dir = tmp_path / "copy"
    shutil.copytree(complete, run_dir)
    (run_dir / "metrics.json").unlink()
    (run_dir / "checkpoints/model_final.pth").unlink()
    return run_dir


def test_a_truncated_last_checkpoint_resumes_from_the_previous_to_the_same_result(
    complete: Path, cpu: DistContext, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_dir = _rerun_copy(complete, tmp_path)
    newest = run_dir / "checkpoints/iter_0000006.pth"
    newest.write_bytes(newest.read_bytes()[:4096])
    with caplog.at_level(logging.INFO):
        assert standins.run_standin(standins.config(**{"train.eval_period": 3}), run_dir, cpu) is Outcome.COMPLETE
    assert f"checkpoint {newest} is unusable" in caplog.text
    assert f"Resuming from {run_dir / 'checkpoints/iter_0000004.pth'} at iteration 4/6" in caplog.text
    procs.assert_same_result(run_dir, complete)


def test_no_usable_checkpoint_fails_with_one_line(complete: Path, cpu: DistContext, tmp_path: Path, caplog) -> None:
    run_dir = _rerun_copy(complete, tmp_path)
    for path in (run_dir / "checkpoints").glob("iter_*.pth"):
        path.write_bytes(b"")
    assert standins.run_standin(standins.config(**{"train.eval_period": 3}), run_dir, cpu) is Outcome.FAILED
    message = caplog.records[-1].getMessage()
    assert message.startswith("no usable checkpoint in") and "rm -r" in message and "\n" not in message
    assert _metrics(run_dir)["status"] == "failed" and _metrics(run_dir)["error"] == message


def test_a_full_disk_names_the_checkpoint_and_the_cause(
    tmp_path: Path, cpu: DistContext, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    def full(path: Path, obj: object) -> None:
        raise WriteError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(checkpoint, "atomic_torch_save", full)
    assert standins.run_standin(standins.config(), tmp_path, cpu) is Outcome.FAILED
    expected = f"cannot write {tmp_path / 'checkpoints/iter_0000002.pth'}: No space left on device [ENOSPC]"
    assert caplog.records[-1].getMessage().startswith(expected)
    assert _metrics(tmp_path)["status"] == "failed" and _metrics(tmp_path)["error"].startswith(expected)
