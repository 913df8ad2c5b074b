"""Child processes for the engine tests: a training command stopped mid-run, a process holding a run directory."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch


def signal_after_first_checkpoint(
    cmd: list[str], run_dir: Path, signum: int = signal.SIGKILL, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Start `cmd`, send it `signum` as soon as its first checkpoint exists, wait for it; assert it had not finished."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 300
    while not (run_dir / "checkpoints/last.pth").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.02)
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=300)
    metrics = run_dir / "metrics.json"
    assert not metrics.exists() or json.loads(metrics.read_text())["status"] != "complete", "the run finished first"
    return subprocess.CompletedProcess(cmd, proc.returncode, out)


def kill_after_first_checkpoint(cmd: list[str], run_dir: Path, env: dict[str, str] | None = None) -> None:
    """Start `cmd` and SIGKILL it as soon as its first checkpoint exists."""
    signal_after_first_checkpoint(cmd, run_dir, signal.SIGKILL, env)


def hold_run_dir(run_dir: Path) -> subprocess.Popen:
    """A process that holds `run_dir`'s lock until it is killed (returns once it holds it)."""
    code = (
        "import sys, time; from pathlib import Path; from roi_ablation.engine.lock import RunDirLock\n"
        "with RunDirLock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def assert_same_result(a: Path, b: Path) -> None:
    """Two finished runs reached the same metrics and bit-identical final weights."""
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    assert ma["status"] == mb["status"] == "complete"
    assert (ma["segm"], ma["bbox"], ma["iterations"]) == (mb["segm"], mb["bbox"], mb["iterations"])
    wa, wb = (torch.load(d / "checkpoints/model_final.pth")["model"] for d in (a, b))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
