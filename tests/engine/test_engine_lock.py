"""One owner per run directory: a second process is refused at once; the kernel frees the lock of a dead one."""

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import engine_procs as procs
import engine_standins as standins
from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.lock import RunDirBusy, RunDirLock
from roi_ablation.engine.runner import Outcome

HERE = Path(__file__).parent


def test_a_held_directory_is_refused_naming_it_and_the_holder(tmp_path: Path) -> None:
    holder = procs.hold_run_dir(tmp_path)
    try:
        start = time.monotonic()
        with pytest.raises(RunDirBusy) as err:
            RunDirLock(tmp_path).__enter__()
        assert time.monotonic() - start < 1.0
        assert str(err.value).startswith(f"{tmp_path} is in use by another process (pid {holder.pid})")
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = procs.hold_run_dir(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with RunDirLock(tmp_path) as lock:
        assert lock.path.read_text().strip() == str(os.getpid())
    with RunDirLock(tmp_path):  # released on exit: taken again at once
        pass


def test_the_runner_refuses_a_held_directory_before_reading_it(
    tmp_path: Path, cpu: DistContext, caplog: pytest.LogCaptureFixture
) -> None:
    holder = procs.hold_run_dir(tmp_path)
    try:
        with caplog.at_level(logging.ERROR):
            assert standins.run_standin(standins.config(), tmp_path, cpu) is Outcome.REFUSED
    finally:
        holder.kill()
        holder.wait()
    assert f"pid {holder.pid}" in caplog.records[-1].getMessage()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]  # nothing read or written


@pytest.mark.slow
def test_two_runs_started_together_one_runs_one_is_refused(tmp_path: Path) -> None:
    commands = [[sys.executable, str(HERE / "engine_standin_run.py"), str(tmp_path), f"seed={seed}", "train.max_iter=60"]  # long enough to overlap
                for seed in (0, 1)]
    started = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for c in commands]
    results = [(p.wait(timeout=300), p.communicate()[0]) for p in started]
    assert sorted(code for code, _ in results) == [0, 1], results
    refused = next(out for code, out in results if code == 1)
    assert f"{tmp_path} is in use by another process (pid" in refused and "Traceback" not in refused
