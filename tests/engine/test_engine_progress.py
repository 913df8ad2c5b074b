"""Progress of training and evaluation: bars on a terminal, periodic log lines, file-only detail."""

import io
import logging

import pytest

from roi_ablation.engine.progress import EvalProgress, Progress, format_eta, log_to_files


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


def test_eta_follows_the_recent_speed() -> None:
    progress = Progress(0, 300, log_period=0, enabled=True, stream=io.StringIO())
    for it in range(1, 101):
        progress.update(it, {"loss": 1.0}, lr=0.01, iter_s=1.0, data_s=0.0)
    for it in range(101, 201):  # the machine got 10x faster
        progress.update(it, {"loss": 1.0}, lr=0.01, iter_s=0.1, data_s=0.0)
    assert progress.eta_s(200) == pytest.approx(100 * 0.1)  # a whole-run average would say 55 s


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_evaluation_says_what_it_does_and_logs_periodically(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    with caplog.at_level(logging.INFO):
        progress = EvalProgress(200, 200, enabled=True, stream=io.StringIO(), log_every_s=10, clock=clock)
        for _ in range(50):
            clock.now += 1.0
            progress.advance(4)
        progress.close()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "evaluating 200 images"
    assert lines[1] == "evaluated 40/200 images, eta 0:00:40"
    assert len(lines) == 1 + 5 + 1 and lines[-1] == "predicted 200 images in 50s; scoring with pycocotools"


def test_evaluation_bar_on_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    stream = _Terminal()
    with caplog.at_level(logging.INFO):
        progress = EvalProgress(8, 8, enabled=True, stream=stream, log_every_s=0)
        progress.advance(8)
        progress.close()
    assert "8/8 images evaluated" in stream.getvalue() and stream.getvalue().endswith("\n")
    assert not any("evaluated 8/8" in r.getMessage() for r in caplog.records)  # the bar replaces the periodic lines


def test_file_only_lines_skip_the_console(tmp_path) -> None:
    log = logging.getLogger("roi_ablation.test_file_only")
    console, file = io.StringIO(), tmp_path / "job.log"
    handlers = [logging.StreamHandler(console), logging.FileHandler(file)]
    parent = logging.getLogger("roi_ablation")
    old_level = parent.level
    parent.setLevel(logging.INFO)
    for handler in handlers:
        parent.addHandler(handler)
    try:
        log_to_files(log, "summary:\n%s", "AP 0.5")
        log.info("AP line")
    finally:
        for handler in handlers:
            parent.removeHandler(handler)
            handler.close()
        parent.setLevel(old_level)
    assert console.getvalue() == "AP line\n"
    assert file.read_text() == "summary:\nAP 0.5\nAP line\n"
