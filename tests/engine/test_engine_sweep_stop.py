"""Ctrl-C (or SIGTERM) on a joblib sweep: every running job checkpoints its current iteration and
records "interrupted" (so a rerun resumes it there), queued jobs do not start, the tables are built, exit 1,
no traceback."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from roi_ablation.engine.sweep_stop import stop_file

pytestmark = pytest.mark.slow


def _sweep(sweep: Path) -> list[str]:
    return [
        sys.executable, "-m", "roi_ablation.train", "-m", "experiment=demo", "roi=pool_max,align_avg", "seed=0,1",
        f"hydra.sweep.dir={sweep}", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "cpu_threads=1",
        "device=cpu", "train.max_iter=100000", "train.checkpoint_period=2", "train.eval_period=0",
        "train.batch_size=2", "train.vis_images=0", "data.num_train=8", "data.num_val=4",
    ]


@pytest.mark.parametrize("to_group", [True, False], ids=["ctrl-c-to-the-group", "sigterm-to-the-sweep-only"])
def test_a_stopped_parallel_sweep_saves_every_running_job(tmp_path: Path, to_group: bool) -> None:
    sweep = tmp_path / "sweep"
    env = {**os.environ, "ROI_ABLATION_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_sweep(sweep), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, start_new_session=True)
    deadline = time.monotonic() + 300
    while len(list(sweep.glob("*/checkpoints/last.pth"))) < 2:  # both workers are training
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.05)
    if to_group:
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    else:
        proc.send_signal(signal.SIGTERM)  # e.g. `kill PID`: the workers get no signal
    out, _ = proc.communicate(timeout=300)

    assert proc.returncode == 1, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert "stopping the sweep" in out and "not started: the sweep is stopping" in out
    started = sorted(p.parent.parent for p in sweep.glob("*/checkpoints/last.pth"))
    assert len(started) == 2, started
    for run_dir in started:
        record = json.loads((run_dir / "metrics.json").read_text())
        last = torch.load(run_dir / "checkpoints/last.pth", weights_only=False)["iteration"]
        assert record["status"] == "interrupted" and record["iterations"] == last > 0, (record, last)
    queued = [d for d in sweep.iterdir() if "seed=" in d.name and d not in started]
    assert len(queued) == 2 and not any((d / "metrics.json").exists() for d in queued)
    assert (sweep / "tables" / "table2c.csv").exists() and "did not complete" in out
    assert not stop_file(sweep).exists()

