"""What the explainer's figures draw: bins as each layer reads them, shared axes, honest legends."""

from __future__ import annotations

from dataclasses import replace

from roi_ablation.explain import SEED_EXAMPLE, coverage
from roi_ablation.explain.figures import _cell_rectangle, build_figures, reads_whole_cells
from roi_ablation.explain.setting import INWARD_BOX


def _rows(*boxes):
    settings = [replace(SEED_EXAMPLE, box=box) for box in boxes]
    return [(s, [coverage(s, m) for m in s.methods]) for s in settings]


def test_roipool_bins_are_its_rounded_cells() -> None:
    # Box rounded to cells 9..15 x 6..10 (C round, end cell included: 8 x 6 cells); 3x3 bins
    # rounded outward: bin 0 spans x floor(0)..ceil(8/3) -> 9..11, y 0..2 -> 6..7.
    pool, align = SEED_EXAMPLE.plan("pool"), SEED_EXAMPLE.plan("align")
    assert reads_whole_cells(pool) and not reads_whole_cells(align)
    assert _cell_rectangle(pool, 0) == (9, 6, 12, 8)
    assert _cell_rectangle(pool, 8) == (14, 10, 16, 12)  # x 14..16 clipped to the 16-cell map


def test_default_comparison_has_a_row_per_box_on_shared_axes() -> None:
    figures = build_figures(_rows(SEED_EXAMPLE.box, INWARD_BOX))
    comparison = figures["comparison"]
    panels = [ax for ax in comparison.axes if ax.get_title()]
    assert len(panels) == 6
    assert len({ax.get_xlim() for ax in panels} | {figures["roi_pool"].axes[0].get_xlim()}) == 1
    assert panels[3].get_title().startswith("pool: lost 5") and "gained 5" in panels[3].get_title()
    assert all(ax.get_xlabel() for ax in panels[3:]) and all(ax.get_ylabel() for ax in panels[::3])


def test_legend_names_only_what_is_drawn() -> None:
    figures = build_figures(_rows(SEED_EXAMPLE.box))
    align = [t.get_text() for t in figures["roi_align"].legends[0].get_texts()]
    pool = [t.get_text() for t in figures["roi_pool"].legends[0].get_texts()]
    assert not any("lost" in t or "gained" in t or "whole-cell" in t for t in align)  # none on the seed's box
    assert any("samples" in t for t in align) and not any("samples" in t for t in pool)
    assert any("gained" in t for t in pool) and any("cells each bin reads" in t for t in pool)
    assert any("share of the mean" in ax.get_ylabel() for ax in figures["roi_align"].axes)  # the colour bar
