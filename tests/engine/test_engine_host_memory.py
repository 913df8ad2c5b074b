"""keep_freed_memory: glibc keeps a step's freed activations, so the next step faults no pages in."""

import ctypes.util
import json
import platform
import subprocess
import sys

import pytest

STEPS = """
import json, resource, sys, torch
from torch import nn
from roi_ablation.engine.host_memory import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
torch.set_num_threads(1)
torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(3, 16, 7, 2, 3), nn.GroupNorm(2, 16), nn.ReLU(), nn.MaxPool2d(3, 2, 1), nn.Conv2d(16, 16, 3, 1, 1))
images = torch.randn(2, 3, 384, 384)
faults = []
for _ in range(6):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    net(images).sum().backward()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "faults": faults}))
"""


def page_faults_per_step(mode: str) -> tuple[bool | None, list[int]]:
    done = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["applied"], result["faults"][3:]  # steady state: the first steps fill the heap


@pytest.mark.skipif(platform.system() != "Linux" or not ctypes.util.find_library("c") or platform.libc_ver()[0] != "glibc",
                    reason="glibc only")
def test_kept_memory_is_reused_without_page_faults() -> None:
    applied, kept = page_faults_per_step("keep")
    _, default = page_faults_per_step("default")
    assert applied is True
    assert max(kept) < 100, kept
    assert min(default) > 1000, default  # the workload does fault under glibc's defaults: the check can fail
