"""RoI tests run tiny problems: one intra-op thread each.

With ``pytest -n 2`` on two cores, two threads per worker oversubscribe the machine and
every small sparse product then waits on OpenMP barriers (milliseconds each, measured).
The setting is restored after each test, so other test directories are unaffected.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
