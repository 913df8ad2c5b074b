"""SIGTERM / SIGINT: checkpoint at the current iteration, status "interrupted", exit non-zero, no traceback."""

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

import engine_procs as procs
import engine_standins as standins
from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.runner import Outcome
from roi_ablation.engine.signals import STOP_FILE, Interrupted, StopRequest

HERE = Path(__file__).parent
INTERRUPTED_EXIT = 3  # engine_standin_run.py's code for Outcome.INTERRUPTED


def test_a_signal_is_a_request_honoured_at_the_check(cpu: DistContext, caplog: pytest.LogCaptureFixture) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with caplog.at_level(logging.WARNING), StopRequest() as stop:
        stop.check(cpu, 3)  # nothing asked yet
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(Interrupted) as err:
            stop.check(cpu, 4)
    assert (err.value.iteration, err.value.signum) == (4, signal.SIGTERM)
    assert "SIGTERM received: stopping after the current step" in caplog.text
    assert signal.getsignal(signal.SIGTERM) is before  # restored


def test_the_handler_installed_before_is_handed_the_signal() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: seen.append(signum))
    try:
        with StopRequest() as stop:
            os.kill(os.getpid(), signal.SIGUSR2)
            assert seen == []  # ours ran, not the launcher's
            stop.hand_on()
        assert seen == [signal.SIGUSR2]
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_a_second_signal_stops_at_once() -> None:
    # raise_signal delivers to this (the main) thread and runs the handler before it returns;
    # os.kill from a process with other threads (xdist's) may be received by one of them and
    # handled later, which made this test flaky. Python's own handler is what must come back.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with StopRequest() as stop:
            signal.raise_signal(signal.SIGINT)
            assert stop.signum == signal.SIGINT
            with pytest.raises(KeyboardInterrupt):  # Python's own SIGINT handler, restored and re-raised
                signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_stop_file_is_a_request_too(cpu: DistContext, tmp_path: Path) -> None:
    path = tmp_path / ".stop"
    with StopRequest(path) as stop:
        stop.check(cpu, 3)  # no file yet
        path.touch()
        with pytest.raises(Interrupted) as err:
            stop.check(cpu, 4)
    assert (err.value.iteration, err.value.signum) == (4, STOP_FILE)
    assert str(err.value) == "interrupted at iteration 4 by the sweep's stop file"


def _command(run_dir: Path, *overrides: str) -> list[str]:
    return [sys.executable, str(HERE / "engine_standin_run.py"), str(run_dir), *overrides]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_checkpoints_records_and_resumes_to_the_same_result(
    tmp_path: Path, cpu: DistContext, signum: int
) -> None:
    overrides = ["train.max_iter=40", "train.checkpoint_period=3", "train.log_period=10"]
    stopped = procs.signal_after_first_checkpoint(_command(tmp_path / "stopped", *overrides), tmp_path / "stopped", signum)
    assert stopped.returncode == INTERRUPTED_EXIT, stopped.stdout
    assert "Traceback" not in stopped.stdout
    metrics = json.loads((tmp_path / "stopped/metrics.json").read_text())
    assert metrics["status"] == "interrupted" and 3 <= metrics["iterations"] < 40
    n = metrics["iterations"]
    assert f"interrupted at iteration {n}; rerun the same command to resume" in stopped.stdout
    assert torch.load(tmp_path / "stopped/checkpoints/last.pth", weights_only=False)["iteration"] == n

    resumed = subprocess.run(_command(tmp_path / "stopped", *overrides), capture_output=True, text=True)
    assert resumed.returncode == 0 and f"at iteration {n}/40" in resumed.stdout, resumed.stdout + resumed.stderr
    cfg = OmegaConf.merge(standins.config(), OmegaConf.from_dotlist(overrides))
    assert standins.run_standin(cfg, tmp_path / "straight", cpu) is Outcome.COMPLETE  # type: ignore[arg-type]
    procs.assert_same_result(tmp_path / "stopped", tmp_path / "straight")
