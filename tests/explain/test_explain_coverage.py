"""Lost / gained cells, and proof that the pictured plan is what ``extract`` computes."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from roi_ablation.explain import SEED_EXAMPLE, Setting, coverage
from roi_ablation.roi import extract


def test_seed_example_lost_and_gained() -> None:
    pool, warp, align = (coverage(SEED_EXAMPLE, m) for m in ("pool", "warp", "align"))
    assert int(align.overlapped.sum()) == 35  # x 9..15, y 6..10
    # RoIAlign reads every cell the box overlaps (every bilinear weight is nonzero) and nothing else.
    assert (int(align.lost.sum()), int(align.gained.sum())) == (0, 0)
    # Faithful RoIPool (C round, end cell included: 10.53 -> 11, then +1) loses no cell on
    # this box but gains row 11: 7 cells, 20% of the box's 35. The seed's blog pictures a
    # truncating RoIPool (to 9..15 x 6..10 cells), which is where its blue comes from.
    assert (int(pool.lost.sum()), int(pool.gained.sum())) == (0, 7)
    assert pool.gained[11, 9:16].all() and pool.gained_share() == pytest.approx(0.2)
    # RoIWarp's rounded box (9..16 x 6..11) covers the same 35 cells as the box, so at the
    # level of cells it ties with RoIAlign; where its weight lies sits between the two.
    assert (int(warp.lost.sum()), int(warp.gained.sum())) == (0, 0)
    assert pool.misplaced > warp.misplaced > align.misplaced > 0


def test_rounding_inward_loses_a_column() -> None:
    # Mapped box x 9.69..14.69, y 6.25..10.31: both quantizing layers round x to 10..15 and
    # lose column 9 (the seed's blue). RoIPool's included end cell then gains column 15;
    # RoIWarp's rounded box ends at 15, but its top samples (y 6.44) reach up to row 5's
    # centre by bilinear interpolation: a gain of its own (the seed's "small amount").
    setting = replace(SEED_EXAMPLE, box=(310.0, 200.0, 470.0, 330.0))
    pool, warp, align = (coverage(setting, m) for m in ("pool", "warp", "align"))
    for quantized in (pool, warp):
        assert quantized.lost[6:11, 9].all() and int(quantized.lost.sum()) == 5
    assert pool.gained[6:11, 15].all() and int(pool.gained.sum()) == 5
    assert warp.gained[5, 10:15].all() and int(warp.gained.sum()) == 5
    assert (int(align.lost.sum()), int(align.gained.sum())) == (0, 0)
    assert pool.misplaced > warp.misplaced > align.misplaced


def test_area_and_weight_shares_sum_to_one() -> None:
    cov = coverage(SEED_EXAMPLE, "align")
    assert float(cov.area.sum()) == pytest.approx(1.0)
    assert float(cov.share.sum()) == pytest.approx(1.0)


def one_hot_features(setting: Setting) -> torch.Tensor:
    """``[1, H*W, H, W]``: channel c is 1 at cell c, so extract returns each cell's weight."""
    height, width = setting.feature_size
    return torch.eye(height * width).view(1, height * width, height, width)


def extract_setting(setting: Setting, method: str, agg: str) -> torch.Tensor:
    """``[bins, cells]``: what ``extract`` reads of each cell in each bin."""
    out = extract(one_hot_features(setting), setting.rois(), method, agg, setting.output_size, 1 / setting.stride,
                  **setting.geometry)
    return out[0].flatten(1).T


def dense(plan_cells: torch.Tensor, values: torch.Tensor, num_cells: int) -> torch.Tensor:
    """``[rows, cells]`` from per-row ``(cells, values)`` entries, summing repeated cells."""
    rows = plan_cells.shape[0]
    out = torch.zeros(rows, num_cells)
    return out.scatter_add_(1, plan_cells.reshape(rows, -1), values.reshape(rows, -1).to(out.dtype))


@pytest.mark.parametrize("method", ["pool", "warp", "align"])
@pytest.mark.parametrize("setting", [SEED_EXAMPLE, SEED_EXAMPLE.with_geometry(aligned=False, layout="center", sampling_ratio=0)],
                         ids=["seed", "legacy-adaptive"])
def test_extract_on_one_hot_features_reproduces_the_plan(setting: Setting, method: str) -> None:
    cov = coverage(setting, method)
    plan = cov.plan
    torch.testing.assert_close(extract_setting(setting, method, "avg"),
                               dense(plan.cells, plan.mean_weights(), plan.num_cells))
    # The pictured shares are the mean of extract's bins.
    torch.testing.assert_close(extract_setting(setting, method, "avg").mean(0).double(), cov.share.flatten(),
                               rtol=1e-5, atol=1e-7)
    # Max: each bin's largest single-sample weight of each cell.
    bins, samples, taps = plan.cells.shape
    per_sample = dense(plan.cells.reshape(bins * samples, taps), plan.weights * plan.valid[..., None], plan.num_cells)
    torch.testing.assert_close(extract_setting(setting, method, "max"), per_sample.view(bins, samples, -1).amax(1))
