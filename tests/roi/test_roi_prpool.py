"""Precise RoI Pooling: the exact bin mean of the bilinear surface (Jiang et al. 2018).

Checked three independent ways: exactly on surfaces whose bin mean is known in closed
form, as the limit of RoIAlign's average for a growing sampling ratio, and by gradcheck.
"""

from __future__ import annotations

import pytest
import torch
from roi_cases import features, make_rois

from roi_ablation.roi import REGISTRY, extract

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support:UserWarning")

# Boxes inside a 12x15 map at stride 16 (their bilinear surface has no border effect).
INSIDE = torch.tensor([[0, 10.0, 20.0, 100.0, 150.0], [1, 40.0, 30.0, 200.0, 90.0], [0, 60.5, 70.25, 61.0, 71.5]],
                      dtype=torch.float64)


def linear_features(height: int = 12, width: int = 15) -> torch.Tensor:
    """``f(x, y) = 2 + 0.5 x - 0.25 y`` at the cell centres: bilinear interpolation reproduces it exactly."""
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                            indexing="ij")
    return (2 + 0.5 * xs - 0.25 * ys).expand(2, 1, height, width).clone()


@pytest.mark.parametrize("aligned", [False, True])
def test_bin_mean_of_a_linear_surface_is_its_value_at_the_bin_centre(aligned):
    out = extract(linear_features(), INSIDE, "prpool", "avg", (3, 4), 1 / 16, aligned=aligned)
    offset = 0.5 if aligned else 0.0
    for k, (_, x1, y1, x2, y2) in enumerate(INSIDE.tolist()):
        x0, y0 = x1 / 16 - offset, y1 / 16 - offset
        w, h = x2 / 16 - offset - x0, y2 / 16 - offset - y0
        if not aligned:
            w, h = max(w, 1.0), max(h, 1.0)
        cx = x0 + (torch.arange(4, dtype=torch.float64) + 0.5) * w / 4
        cy = y0 + (torch.arange(3, dtype=torch.float64) + 0.5) * h / 3
        expected = 2 + 0.5 * cx[None, :] - 0.25 * cy[:, None]
        torch.testing.assert_close(out[k, 0], expected, rtol=0, atol=1e-12)


def test_bin_mean_of_one_cell_hat_is_its_integral():
    """A single unit cell: the surface is a pyramid of volume 1 over [i-1, i+1]^2."""
    x = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    x[0, 0, 4, 4] = 1.0
    whole = torch.tensor([[0, 2.0, 2.0, 7.0, 7.0]], dtype=torch.float64)  # [2, 7]^2 holds the whole pyramid
    out = extract(x, whole, "prpool", "avg", (1, 1), 1.0, aligned=False)
    torch.testing.assert_close(out.flatten(), torch.tensor([1 / 25], dtype=torch.float64), rtol=0, atol=1e-15)
    quarter = torch.tensor([[0, 4.0, 4.0, 5.0, 5.0]], dtype=torch.float64)  # one quadrant of the pyramid: volume 1/4 over area 1
    out = extract(x, quarter, "prpool", "avg", (1, 1), 1.0, aligned=False)
    torch.testing.assert_close(out.flatten(), torch.tensor([0.25], dtype=torch.float64), rtol=0, atol=1e-15)


def test_limit_of_align_average_inside_the_map():
    x = features(shape=(2, 3, 12, 15), seed=3, dtype=torch.float64)
    exact = extract(x, INSIDE, "prpool", "avg", (7, 7), 1 / 16, aligned=True)
    errors = [(exact - extract(x, INSIDE, "align", "avg", (7, 7), 1 / 16, sampling_ratio=n, aligned=True)).abs().max()
              for n in (4, 16, 64)]
    assert errors[2] < 1e-3  # second order: the midpoint rule's error falls ~16x per 4x samples
    assert errors[0] > 4 * errors[1] > 16 * errors[2]


@pytest.mark.parametrize("aligned", [False, True])
def test_limit_of_align_average_with_border_and_degenerate_boxes(aligned):
    """Outside the map the surface jumps to 0, so the sums converge at first order there."""
    x = features(shape=(2, 3, 5, 6), seed=4, dtype=torch.float64)
    rois = make_rois(5, 6, 1 / 16, seed=4).double()
    exact = extract(x, rois, "prpool", "avg", (3, 3), 1 / 16, aligned=aligned)
    errors = [(exact - extract(x, rois, "align", "avg", (3, 3), 1 / 16, sampling_ratio=n, aligned=aligned)).abs().max()
              for n in (4, 16, 64)]
    assert errors[2] < 2e-2 and errors[0] > errors[1] > errors[2]


def test_gradcheck_float64():
    x = features(shape=(2, 2, 6, 7), seed=5, dtype=torch.float64).requires_grad_()
    rois = make_rois(6, 7, 0.5, seed=5).double()
    assert torch.autograd.gradcheck(lambda f: extract(f, rois, "prpool", "avg", (2, 3), 0.5, aligned=True), (x,),
                                    eps=1e-6, atol=1e-8, rtol=1e-6)


def test_ignores_sampling_ratio_and_layout():
    x = features(shape=(2, 3, 5, 6), seed=6)
    rois = make_rois(5, 6, 1 / 16, seed=6)
    base = extract(x, rois, "prpool", "avg", (2, 2), 1 / 16, sampling_ratio=2, layout="center")
    other = extract(x, rois, "prpool", "avg", (2, 2), 1 / 16, sampling_ratio=0, layout="corner")
    torch.testing.assert_close(base, other, rtol=0, atol=0)


def test_only_avg_with_a_message_naming_it():
    with pytest.raises(ValueError, match="'prpool' does not support agg 'max'; valid: avg"):
        extract(features(), make_rois(5, 6, 1 / 16), "prpool", "max")


def test_registry_entry_describes_it():
    spec = REGISTRY["prpool"]
    assert (spec.title, spec.align, spec.bilinear, spec.aggs, spec.reads) == ("PrRoIPool", True, True, ("avg",),
                                                                             frozenset({"aligned"}))
