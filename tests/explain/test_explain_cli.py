"""``roi-ablation-explain``: report, PNG files, TensorBoard, and argparse errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from roi_ablation.explain.__main__ import main
from roi_ablation.roi import REGISTRY

FIGURES = ("roi_pool.png", "roi_warp.png", "roi_align.png", "comparison.png")


def colours(path: Path) -> set[int]:
    """The distinct colours of a PNG, each packed as 0xRRGGBB."""
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.int64)
    return set(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]).tolist())


def test_default_run_prints_report_and_writes_non_trivial_pngs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    stdout = capsys.readouterr().out
    assert "Mapped RoI (no rounding): top-left (9.25, 6.00), size 6.25 x 4.53" in stdout
    for name in FIGURES:
        path = tmp_path / name
        assert f"wrote {path}" in stdout
        assert path.stat().st_size > 20_000
        assert min(Image.open(path).size) > 400
        assert len(colours(path)) > 50  # not one colour: cells, lines, text


def test_default_comparison_shows_lost_and_gained_cells(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path)]) == 0  # the seed's box, then one whose rounding moves an edge inward
    drawn = colours(tmp_path / "comparison.png")
    assert 0x3B7DD8 in drawn and 0x4CAF50 in drawn
    assert "Box (310, 200, 470, 330) px" in capsys.readouterr().out


def test_lost_and_gained_colours_are_drawn(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path), "--box", "310", "200", "470", "330", "--methods", "pool"]) == 0
    drawn = colours(tmp_path / "comparison.png")
    assert 0x3B7DD8 in drawn  # lost (blue)
    assert 0x4CAF50 in drawn  # gained (green)


def test_tensorboard_gets_every_figure(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board = tmp_path / "tb"
    argv = ["--out", str(tmp_path / "png"), "--methods", "align", "--output-size", "7", "--tensorboard", str(board)]
    assert main(argv) == 0
    events = EventAccumulator(str(board), size_guidance={"images": 0, "tensors": 0}).Reload()
    assert set(events.Tags()["images"]) == {"explain/roi_align", "explain/comparison"}
    assert "explain/report/text_summary" in events.Tags()["tensors"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--box", "10", "10", "5", "20"], "x2 > x1"),
        (["--box", "600", "10", "700", "20"], "does not overlap"),
        (["--methods", "align", "bogus"], ", ".join(repr(name) for name in sorted(REGISTRY))),
        (["--layout", "edge"], "'center', 'interior', 'corner'"),
        (["--stride", "0"], "positive"),
        (["--output-size", "7", "7", "7"], "H W or one N"),
    ],
)
def test_bad_input_is_a_usage_error(argv: list[str], message: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
