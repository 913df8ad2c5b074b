"""Progress: a bar with ETA on a terminal, periodic log lines always."""

import io
import logging

import pytest

from roi_ablation.engine.progress import Progress, format_eta


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_lines_on_the_period(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    progress = Progress(0, 10, log_period=5, enabled=True, stream=stream)
    with caplog.at_level(logging.INFO):
        for it in range(1, 11):
            progress.update(it, {"loss_mask": 0.5, "loss": 1.25}, lr=0.01, iter_s=0.1, data_s=0.01)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and lines[0].startswith("iter 5/10") and "loss 1.2500" in lines[0] and "eta" in lines[0]
    assert stream.getvalue() == ""  # not a terminal: no bar


def test_bar_on_a_terminal() -> None:
    stream = _Terminal()
    progress = Progress(4, 8, log_period=0, enabled=True, stream=stream)
    progress.update(8, {"loss": 2.0}, lr=0.01, iter_s=0.1, data_s=0.0)
    progress.close()
    assert "8/8" in stream.getvalue() and "eta 0:00:00" in stream.getvalue() and stream.getvalue().endswith("\n")


def test_other_ranks_stay_quiet(caplog: pytest.LogCaptureFixture) -> None:
    stream = _Terminal()
    Progress(0, 2, log_period=1, enabled=False, stream=stream).update(1, {"loss": 1.0}, 0.1, 0.1, 0.0)
    assert stream.getvalue() == "" and not caplog.records


def test_eta_format() -> None:
    assert format_eta(3725.7) == "1:02:05"
