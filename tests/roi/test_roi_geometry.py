"""Geometry: rounding, the border rule, sample layouts, and the seed's worked example.

The seed (seeds/000_...txt) maps a box on a 512x512 image at stride 32 and samples its
first bin of a 3x3 RoIAlign at 1/3 and 2/3 ("interior" layout). Its picture puts cell
``i`` at ``[i, i+1)`` with the centre at ``i + 0.5``; index space (torchvision's, the
package's) is the picture minus 0.5. (The seed also prints the first point once as
"(9.44, 6.50)" and labels the top-right sample "second": typos; the numbers below are
the geometry docs/design.md fixes.) The seed's numbers are checked on the plan itself.
"""

from __future__ import annotations

import pytest
import torch

from roi_ablation.roi import build_plan
from roi_ablation.roi.geometry import (
    bilinear_neighbours,
    bin_sample_positions,
    map_rois,
    round_half_away_from_zero,
    sample_exists,
)
from roi_reference import _pool_bin_cells

SEED_BOX = (296.0, 192.0, 496.0, 336.96)
SEED = dict(spatial_scale=1 / 32, output_size=3, sampling_ratio=2, aligned=True, layout="interior")
PICTURE = 0.5  # picture coordinate = index-space coordinate + 0.5


# ------------------------------------------------------------------ the seed's example


@pytest.fixture(scope="module")
def seed_plan():
    """The plan ``extract`` uses for the seed's box on its 16x16 map, in float64."""
    rois = torch.tensor([[0.0, *SEED_BOX]], dtype=torch.float64)
    return build_plan((1, 1, 16, 16), rois, method="align", dtype=torch.float64, **SEED)


def test_seed_mapped_roi():
    m = map_rois(torch.tensor([[0.0, *SEED_BOX]], dtype=torch.float64), (3, 3), 1 / 32, 2, True)
    # "(9.25, 6) - top left corner; 6.25 - width; 4.53 - height" (picture coordinates)
    assert (m.x0.item() + PICTURE, m.y0.item() + PICTURE) == pytest.approx((9.25, 6.0), abs=1e-9)
    assert (m.width.item(), m.height.item()) == pytest.approx((6.25, 4.53), abs=1e-6)
    # "a box with a height of 1.51 and a width of 2.08"
    assert round(m.bin_w.item(), 2) == 2.08 and round(m.bin_h.item(), 2) == 1.51
    assert (m.grid_h.item(), m.grid_w.item()) == (2, 2)


def test_seed_first_bin_samples(seed_plan):
    assert seed_plan.points.shape == (9, 4, 2) and seed_plan.valid.all()
    pts = seed_plan.points[0] + PICTURE  # samples in row-major order: (x0,y0) (x1,y0) (x0,y1) (x1,y1)
    # "X = X_box + width/3 = 9.94, Y = Y_box + height/3 = 6.50"; the second: "(9.94, 7.01)"
    assert pts[0].tolist() == pytest.approx([9.94, 6.50], abs=5e-3)
    assert pts[2].tolist() == pytest.approx([9.94, 7.01], abs=5e-3)
    # exact values: 9.25 + 6.25/9, 6 + 4.53/9, 6 + 2*4.53/9; the right column at 2/3
    assert pts[0].tolist() == pytest.approx([9.25 + 6.25 / 9, 6 + 4.53 / 9], abs=1e-6)
    assert pts[2].tolist() == pytest.approx([9.25 + 6.25 / 9, 6 + 2 * 4.53 / 9], abs=1e-6)
    assert pts[1].tolist() == pytest.approx([9.25 + 2 * 6.25 / 9, 6 + 4.53 / 9], abs=1e-6)
    assert pts[3].tolist() == pytest.approx([9.25 + 2 * 6.25 / 9, 6 + 2 * 4.53 / 9], abs=1e-6)


def test_seed_bilinear_neighbours(seed_plan):
    """The first point reads the cells centred at (9.5, 6.5) (10.5, 6.5) (9.5, 7.5) (10.5, 7.5)."""
    cells = seed_plan.cells[0]  # [4 samples, 4 taps] flat indices y * 16 + x
    centres = torch.stack([cells % 16, cells // 16], dim=-1).double() + PICTURE
    left = [[9.5, 6.5], [10.5, 6.5], [9.5, 7.5], [10.5, 7.5]]
    right = [[10.5, 6.5], [11.5, 6.5], [10.5, 7.5], [11.5, 7.5]]  # the seed's "(10.50, 6.50) ... (11.50, 7.50)"
    assert centres[0].tolist() == left and centres[2].tolist() == left
    assert centres[1].tolist() == right and centres[3].tolist() == right
    # Bilinear weights of the first point from its distances to those centres.
    x, y = seed_plan.points[0, 0].tolist()
    fx, fy = x - 9, y - 6
    expected = [(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx]
    assert seed_plan.weights[0, 0].tolist() == pytest.approx(expected, abs=1e-12)
    # the seed's third point, (9.94, 7.01): weights 0.27 / 0.22 / 0.28 / 0.23
    assert [round(w, 2) for w in seed_plan.weights[0, 2].tolist()] == [0.27, 0.22, 0.28, 0.23]
    torch.testing.assert_close(seed_plan.weights.sum(-1), torch.ones(9, 4, dtype=torch.float64))


# ------------------------------------------------------------------ building blocks


def test_round_half_away_from_zero():
    x = torch.tensor([-2.5, -1.5, -0.5, -0.4, 0.0, 0.4, 0.5, 1.5, 2.5, 2.49, 3.51])
    expected = [-3.0, -2.0, -1.0, -0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 2.0, 4.0]
    assert round_half_away_from_zero(x).tolist() == expected
    assert torch.round(torch.tensor([0.5, 2.5])).tolist() == [0.0, 2.0]  # why torch.round is not used


def test_round_half_away_from_zero_just_below_half_in_float32():
    """C's round(0.49999997f) == 0: the float32 just below 0.5 must not round up."""
    below = torch.tensor([0.5 - 2.0**-25, -(0.5 - 2.0**-25)], dtype=torch.float32)
    assert round_half_away_from_zero(below).abs().tolist() == [0.0, 0.0]


def test_bilinear_border_rule():
    size = 5
    pos = torch.tensor([-1.0001, -1.0, -0.5, 0.0, 1.25, 3.5, 4.0, 4.6, 5.0, 5.0001], dtype=torch.float64)
    cells, weights = bilinear_neighbours(pos, size)
    expected_cells = [[0, 1], [0, 1], [0, 1], [0, 1], [1, 2], [3, 4], [4, 4], [4, 4], [4, 4], [4, 4]]
    expected_weights = [[0, 0], [1, 0], [1, 0], [1, 0], [0.75, 0.25], [0.5, 0.5], [1, 0], [1, 0], [1, 0], [0, 0]]
    torch.testing.assert_close(weights, torch.tensor(expected_weights, dtype=torch.float64), rtol=0, atol=1e-12)
    inside = weights.sum(-1) > 0
    assert cells[inside].tolist() == [c for c, w in zip(expected_cells, expected_weights) if sum(w) > 0]


@pytest.mark.parametrize("layout,expected", [
    ("center", [0.25, 0.75]), ("interior", [1 / 3, 2 / 3]), ("corner", [0.0, 0.5])])
def test_sample_layouts(layout, expected):
    start = torch.tensor([10.0], dtype=torch.float64)
    want = torch.tensor([[10 + 3 * e for e in expected], [13 + 3 * e for e in expected]], dtype=torch.float64)
    for grid in (torch.tensor([2]), 2):  # a per-RoI grid and a fixed one give the same positions
        pos = bin_sample_positions(start, torch.tensor([3.0], dtype=torch.float64), grid, 2, layout)
        assert pos.shape == (1, 2, 2)
        torch.testing.assert_close(pos[0], want, rtol=0, atol=1e-12)


def test_adaptive_grids_pad_smaller_rois():
    grid = torch.tensor([1, 3])
    pos = bin_sample_positions(torch.zeros(2), torch.ones(2), grid, 1, "center")
    assert pos.shape == (2, 1, 3)
    assert sample_exists(grid, 3).tolist() == [[True, False, False], [True, True, True]]
    assert pos[1, 0].tolist() == pytest.approx([1 / 6, 1 / 2, 5 / 6])


@pytest.mark.parametrize("output_size", [(3, 5), (5, 3), (13, 14), (14, 13), (7, 7)])
def test_pool_plan_is_as_wide_as_its_longest_bin_sides(output_size):
    """Both axes share one padded pass; the shorter axis's padding bins never widen the plan:
    its width is the longest bin height times the longest bin width of the naive reference."""
    g = torch.Generator().manual_seed(0)
    corner = torch.rand(64, 2, generator=g) * 600 - 100
    rois = torch.cat([torch.zeros(64, 1), corner, corner + torch.rand(64, 2, generator=g) * 400 + 1], dim=1)
    # 53 cells high and wide: on a 13-bin axis padded to 14, 13 * (53 / 13) rounds below 53 in
    # float32, so an unclamped padding bin would be a cell longer than every real one.
    rois = torch.cat([rois, torch.tensor([[0.0, 0.0, 0.0, 52 * 16, 52 * 16]])])
    plan = build_plan((1, 8, 64, 64), rois, "pool", output_size, 1 / 16)
    bins = [cells for roi in rois.tolist() for cells in _pool_bin_cells(roi, output_size, 1 / 16, 64, 64).values()]
    longest = [max(len({tap[0][axis] for tap in cells}) for cells in bins) for axis in (0, 1)]
    assert plan.cells.shape[1] == max(longest[0], 1) * max(longest[1], 1) > 1


@pytest.mark.parametrize("aligned", [True, False])
def test_map_rois(aligned):
    rois = torch.tensor([[1.0, 16.0, 8.0, 48.0, 72.0], [0.0, 20.0, 20.0, 22.0, 24.0]])
    m = map_rois(rois, (2, 4), 1 / 16, 0, aligned)
    off = 0.5 if aligned else 0.0
    assert m.batch_index.tolist() == [1, 0]
    assert m.x0.tolist() == pytest.approx([1.0 - off, 1.25 - off])
    assert m.y0.tolist() == pytest.approx([0.5 - off, 1.25 - off])
    # Unaligned boxes are at least one cell (legacy); aligned ones keep their size.
    small = (0.125, 0.25) if aligned else (1.0, 1.0)
    assert m.width.tolist() == pytest.approx([2.0, small[0]])
    assert m.height.tolist() == pytest.approx([4.0, small[1]])
    assert m.bin_w.tolist() == pytest.approx([0.5, small[0] / 4])
    assert m.bin_h.tolist() == pytest.approx([2.0, small[1] / 2])
    # Adaptive grid: ceil(bin extent).
    assert m.grid_h.tolist() == [2, 1] and m.grid_w.tolist() == [1, 1]
    q = map_rois(rois, (2, 4), 1 / 16, 2, aligned, quantize=True)
    assert q.x0.tolist() == pytest.approx([1.0 - off, 1.0 - off])  # 1.25 rounds to 1
    assert q.grid_h.tolist() == [2, 2]
