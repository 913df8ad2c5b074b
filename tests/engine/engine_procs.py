"""Running a training command in a child process, and killing it mid-run."""

import json
import signal
import subprocess
import time
from pathlib import Path

import torch


def kill_after_first_checkpoint(cmd: list[str], run_dir: Path, env: dict[str, str] | None = None) -> None:
    """Start `cmd`, SIGKILL it as soon as its first checkpoint exists; assert it had not finished."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 300
    while not (run_dir / "checkpoints/last.pth").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "metrics.json").exists(), "the run finished before it could be killed"


def assert_same_result(a: Path, b: Path) -> None:
    """Two finished runs reached the same metrics and bit-identical final weights."""
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    assert ma["status"] == mb["status"] == "complete"
    assert (ma["segm"], ma["bbox"], ma["iterations"]) == (mb["segm"], mb["bbox"], mb["iterations"])
    wa, wb = (torch.load(d / "checkpoints/model_final.pth")["model"] for d in (a, b))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
