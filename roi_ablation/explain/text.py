"""The text report: the setting, the mapped RoI, the first bin's samples, lost and gained.

Numbers are printed as the seed prints them, in picture coordinates (see ``setting``).
"""

from __future__ import annotations

from roi_ablation.explain.coverage import Coverage, first_bin_reads
from roi_ablation.explain.setting import PICTURE_OFFSET, Setting


def _num(value: float) -> str:
    return f"{value:g}"


def _point(x: float, y: float) -> str:
    return f"({x:.2f}, {y:.2f})"


def _setting_lines(setting: Setting) -> list[str]:
    width, height = setting.image_size
    x1, y1, x2, y2 = setting.box
    fh, fw = setting.feature_size
    oh, ow = setting.output_size
    g = setting.geometry
    return [
        f"Image {width}x{height} px (W x H), stride {setting.stride} -> feature map {fw}x{fh} cells (W x H)",
        f"Box (x1, y1, x2, y2) = ({', '.join(map(_num, setting.box))}) px: {_num(x2 - x1)} x {_num(y2 - y1)} px (w x h)",
        f"Output {oh}x{ow} bins (h x w), sampling ratio {g['sampling_ratio']}, layout {g['layout']}, aligned={g['aligned']}",
        f"Coordinates are the seed's picture coordinates: cell i spans [i, i+1) with its centre at i + {PICTURE_OFFSET}",
        f"(feature index space + {PICTURE_OFFSET}); a box coordinate u lies at u / stride.",
    ]


def _geometry_lines(setting: Setting) -> list[str]:
    mapped = setting.mapped()
    x0, y0 = float(mapped.x0[0]) + PICTURE_OFFSET, float(mapped.y0[0]) + PICTURE_OFFSET
    grid = f"{int(mapped.grid_w[0])} x {int(mapped.grid_h[0])} (w x h"
    grid += "; adaptive: ceil of the bin size)" if setting.geometry["sampling_ratio"] <= 0 else ")"
    lines = [
        f"Mapped RoI (no rounding): top-left {_point(x0, y0)}, size {float(mapped.width[0]):.2f} x "
        f"{float(mapped.height[0]):.2f} (w x h)",
        f"Bin size {float(mapped.bin_w[0]):.2f} x {float(mapped.bin_h[0]):.2f} (w x h), samples per bin {grid}",
    ]
    if not setting.geometry["aligned"]:
        bx, by = setting.box_on_grid[:2]
        lines.append(f"aligned=False maps u to u / stride in index space, i.e. u / stride + {PICTURE_OFFSET} here: "
                     f"the layers sample the box shifted half a cell right and down (the box itself starts at "
                     f"{_point(bx, by)}).")
    return lines


def _first_bin_lines(cov: Coverage) -> list[str]:
    """Every sample of bin 0 (top-left) and the cell centres it reads, from the plan itself."""
    samples = first_bin_reads(cov.plan)
    lines = [f"{cov.method}: first bin (top-left), samples: {len(samples)}; sample <- cell centres it reads, weights"]
    for point, reads in samples:
        lines.append(f"  {_point(*point)} <- {', '.join(f'{_point(*centre)} {weight:.4f}' for centre, weight in reads)}")
    return lines


COVERAGE_NOTES = [
    "lost: overlapped cells that no sample reads (share of the overlapped cells);",
    "gained: cells outside the box that are read (relative to the overlapped cells);",
    "misplaced weight: share of the box's area that the mean of all bins does not weight where the box is",
    "(0 = the exact area average of a map that is constant per cell).",
]


def _coverage_lines(coverages: list[Coverage]) -> list[str]:
    overlapped = coverages[0].overlapped
    ys, xs = overlapped.nonzero(as_tuple=True)
    lines = [
        f"Cells the box overlaps: {int(overlapped.sum())} (x {int(xs.min())}..{int(xs.max())}, "
        f"y {int(ys.min())}..{int(ys.max())})",
        f"{'method':<10}{'cells read':>11}  {'lost':<12}{'gained':<12}{'misplaced weight':>16}",
    ]
    for cov in coverages:
        lost = f"{int(cov.lost.sum())} ({cov.lost_share():.1%})"
        gained = f"{int(cov.gained.sum())} ({cov.gained_share():.1%})"
        lines.append(f"{cov.method:<10}{int(cov.read.sum()):>11}  {lost:<12}{gained:<12}{cov.misplaced:>16.1%}")
    return lines


def render_report(setting: Setting, coverages: list[Coverage]) -> str:
    """The whole report; ``coverages`` holds one entry per method, in the order to print."""
    lines = [*_setting_lines(setting), "", *_geometry_lines(setting)]
    for cov in coverages:
        lines += ["", *_first_bin_lines(cov)]
    lines += ["", *_coverage_lines(coverages), *COVERAGE_NOTES]
    return "\n".join(lines)


def render_coverage(setting: Setting, coverages: list[Coverage]) -> str:
    """Lost and gained cells of another box under the same settings (the comparison's next row)."""
    x1, y1, x2, y2 = setting.box
    return "\n".join([f"Box ({', '.join(map(_num, setting.box))}) px: {_num(x2 - x1)} x {_num(y2 - y1)} px (w x h)",
                      *_coverage_lines(coverages)])
