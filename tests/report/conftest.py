"""Fixtures of the report tests: one fabricated sweep shared by the session."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_sweep import make_sweep


@pytest.fixture(scope="session")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sweep(tmp_path_factory.mktemp("multirun"))
