"""scripts/gpu_check.py at toy sizes on the CPU (the same code path a lent GPU runs), and
scripts/project_cost.py on what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
ITEMS = ("equality", "roi_timing", "training", "torchrun")
pytestmark = pytest.mark.slow


def _script(name: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def tiny_check(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("gpu_check")
    return out, _script("gpu_check.py", "--out", str(out), "--device", "cpu", "--tiny", timeout=240)


def test_tiny_cpu_check_measures_every_item(tiny_check):
    out, done = tiny_check
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["tiny"] is True and report["date"]
    assert {"name", "torch", "torchvision", "cuda", "type"} <= set(report["device"]) and report["device"]["type"] == "cpu"
    assert set(report["items"]) == set(ITEMS)
    for key in ITEMS:
        item = report["items"][key]
        assert item["status"] == "measured", (key, item.get("reason"), item.get("traceback"))
        assert "reason" in item
    equality = report["items"]["equality"]
    assert equality["rows"] and all(row["equal"] for row in equality["rows"])
    assert "only that the code runs" in equality["reason"]  # the CPU compared with itself says so
    layers = {row["layer"] for row in equality["rows"]}
    assert {"pool/max", "warp/avg", "align/max", "align/avg"} <= layers
    training = report["items"]["training"]["rows"]
    assert [(r["model"], r["pooler"].split()[0]) for r in training] == [
        ("r50_c4", "ours"), ("r50_c5", "ours"), ("r50_fpn", "ours"), ("r50_fpn", "torchvision")]
    assert all(r["s_per_iter"] > 0 and r["amp"] == "torch.bfloat16" for r in training)
    assert report["items"]["torchrun"]["backend"] == "gloo"
    page = (out / "gpu_check.md").read_text()
    assert page.strip() in done.stdout and "## (c) training s/iter: measured" in page
    assert not list(out.glob("*.pth"))  # scratch weights stay out of the report directory


def test_a_budget_too_small_skips_and_says_why(tmp_path):
    done = _script("gpu_check.py", "--out", str(tmp_path), "--device", "cpu", "--tiny", "--budget-s", "0.001",
                   timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    items = json.loads((tmp_path / "gpu_check.json").read_text())["items"]
    assert items["torchrun"]["status"] == "skipped" and "time budget" in items["torchrun"]["reason"]
    assert all(row["status"] == "skipped" and "time budget" in row["reason"] for row in items["training"]["rows"])


def test_project_cost_from_the_tiny_check_marks_measured_and_projected(tiny_check):
    out, _ = tiny_check
    done = _script("project_cost.py", "--from", str(out / "gpu_check.json"), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout
    assert "WARNING" in text and "--tiny" in text  # toy figures are called what they are
    assert "table2c: 21 runs x 90000 iterations of r50_c4" in text and "table2d: 9 runs" in text
    assert "measured:" in text and "projected:" in text and "GPU-hours" in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_one_line(tmp_path):
    done = _script("gpu_check.py", "--out", str(tmp_path), timeout=120)
    assert done.returncode == 2 and "CUDA is not available" in done.stderr and "Traceback" not in done.stderr
