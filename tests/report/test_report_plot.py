"""The figures of the tables: what each bar and error bar stands for, and readable PNGs."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.container import BarContainer, ErrorbarContainer
from PIL import Image

from roi_ablation.report import build_tables, collect
from roi_ablation.report.paper import MASK_METRICS
from roi_ablation.report.plot import gains_figure, plot_gains, plot_tables, tables_figure
from roi_ablation.report.tables import Table

from report_sweep import roi, write_run


@pytest.fixture(scope="module")
def tables(sweep: Path) -> list[Table]:
    return build_tables(collect([sweep]).runs)[0]


def _errorbars(ax) -> int:
    return sum(isinstance(c, ErrorbarContainer) for c in ax.containers)


def test_one_seed_draws_no_error_bar_and_says_n(tmp_path: Path) -> None:
    write_run(tmp_path, "pool_max", roi("pool", "max"), 0, mask_ap=(20.0, 40.0, 18.0))
    write_run(tmp_path, "align_avg", roi("align", "avg"), 0, mask_ap=(25.0, 45.0, 24.0))
    tables, _ = build_tables(collect([tmp_path]).runs)
    (ax,) = tables_figure(tables).axes[:1]
    assert _errorbars(ax) == 0
    shown = [tick.get_text() for tick in ax.get_xticklabels() if "not run" not in tick.get_text()]
    assert len(shown) == 2 and all(text.endswith("n=1") for text in shown)


def test_absolute_figure_std_bars_and_no_paper_values_off_coco(tables: list[Table]) -> None:
    ax = tables_figure(tables).axes[0]
    stride16 = tables[0]
    with_std = sum(metric in row.std for row in stride16.rows for metric in MASK_METRICS)
    assert _errorbars(ax) == with_std > 0
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == len(MASK_METRICS)  # ours only: the paper's COCO values would dwarf a shapes run


def test_gains_figure_has_ours_beside_the_papers_and_draws_intervals_when_known(tables: list[Table]) -> None:
    ax = gains_figure(tables).axes[0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 2 * len(MASK_METRICS)  # ours and the paper's, per metric
    assert not any("RoIPool\nmax" in tick.get_text() for tick in ax.get_xticklabels())  # the baseline is the zero line
    shown = [r for r in tables[0].rows if r is not tables[0].base]
    assert _errorbars(ax) == sum(m in r.gain_ci for r in shown for m in MASK_METRICS) > 0  # paired intervals
    row = next(r for r in shown if r.gain_ci)
    saved = row.gain_ci
    row.gain_ci = {m: (g - 1.0, g + 2.0) for m, g in row.gain.items()}
    try:
        with_ci = gains_figure(tables).axes[0]
        segments = [seg for c in with_ci.containers if isinstance(c, ErrorbarContainer)
                    for seg in c.lines[2][0].get_segments()]
        assert any(sorted(y for _, y in seg) == pytest.approx([row.gain["AP"] - 1.0, row.gain["AP"] + 2.0])
                   for seg in segments)
    finally:
        row.gain_ci = saved


def test_pngs_are_large_enough_to_read(tables: list[Table], tmp_path: Path) -> None:
    for path in (plot_tables(tables, tmp_path / "tables.png"), plot_gains(tables, tmp_path / "gains.png")):
        image = Image.open(path)
        assert min(image.info["dpi"]) >= 149.9 and image.size[1] >= 700
