"""Shared fixtures of the engine tests: a CPU context and a stand-in run."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # the stand-ins module next to this file

from roi_ablation.engine.distributed import DistContext  # noqa: E402


@pytest.fixture(scope="session")
def cpu() -> DistContext:
    return DistContext(rank=0, world_size=1, device=torch.device("cpu"))
