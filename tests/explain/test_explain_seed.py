"""The seed's worked example, read back from the plan the explainer draws and prints."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from roi_ablation.explain import SEED_EXAMPLE, coverage
from roi_ablation.explain.setting import PICTURE_OFFSET
from roi_ablation.explain.text import render_report


@pytest.fixture(scope="module")
def report() -> str:
    return render_report(SEED_EXAMPLE, [coverage(SEED_EXAMPLE, m) for m in SEED_EXAMPLE.methods])


def test_mapped_roi_and_bin_size_are_the_seeds() -> None:
    mapped = SEED_EXAMPLE.mapped()
    start = (float(mapped.x0[0]) + PICTURE_OFFSET, float(mapped.y0[0]) + PICTURE_OFFSET)
    assert start == pytest.approx((9.25, 6.0))
    assert (float(mapped.width[0]), float(mapped.height[0])) == pytest.approx((6.25, 4.53), abs=1e-5)
    assert (float(mapped.bin_w[0]), float(mapped.bin_h[0])) == pytest.approx((6.25 / 3, 1.51), abs=1e-5)
    assert SEED_EXAMPLE.feature_size == (16, 16)


def test_first_bin_samples_and_neighbours_are_the_seeds() -> None:
    plan = SEED_EXAMPLE.plan("align")
    # Row-major samples of bin 0: top-left, top-right, bottom-left, bottom-right. The seed's
    # "first point" is (9.94, 6.50) and its "second (bottom left)" is (9.94, 7.01).
    points = plan.points[0] + PICTURE_OFFSET
    expected = torch.tensor([[9.25 + 6.25 / 9, 6 + 4.53 / 9], [9.25 + 2 * 6.25 / 9, 6 + 4.53 / 9],
                             [9.25 + 6.25 / 9, 6 + 2 * 4.53 / 9], [9.25 + 2 * 6.25 / 9, 6 + 2 * 4.53 / 9]])
    torch.testing.assert_close(points, expected)
    assert [round(v, 2) for v in points[0].tolist()] == [9.94, 6.50]
    assert [round(v, 2) for v in points[2].tolist()] == [9.94, 7.01]
    width = plan.feature_shape[2]
    centres = {(int(c) % width + 0.5, int(c) // width + 0.5) for c in plan.cells[0, [0, 2]].reshape(-1)}
    assert centres == {(9.5, 6.5), (10.5, 6.5), (9.5, 7.5), (10.5, 7.5)}
    # Bilinear weights of the first point: x is 0.44 past centre 9.5, y 0.003 past 6.5.
    fx, fy = points[0, 0] - 9.5, points[0, 1] - 6.5
    torch.testing.assert_close(plan.weights[0, 0], torch.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy]))


def test_report_prints_the_seeds_numbers(report: str) -> None:
    assert "top-left (9.25, 6.00), size 6.25 x 4.53" in report
    assert "Bin size 2.08 x 1.51" in report
    align = report[report.index("align: first bin"):]
    assert "(9.94, 6.50) <- (9.50, 6.50) 0.5537, (10.50, 6.50) 0.4430, (9.50, 7.50) 0.0019, (10.50, 7.50) 0.0015" in align
    assert "(9.94, 7.01) <- (9.50, 6.50)" in align and "(10.50, 7.50)" in align
    assert "picture coordinates" in report
    assert "Cells the box overlaps: 35 (x 9..15, y 6..10)" in report


def test_unaligned_report_says_what_the_shift_is() -> None:
    setting = SEED_EXAMPLE.with_geometry(aligned=False)
    text = render_report(setting, [coverage(setting, "align")])
    assert "top-left (9.75, 6.50)" in text  # sampled half a cell right and down
    assert "shifted half a cell right and down" in text and "(9.25, 6.00)" in text
