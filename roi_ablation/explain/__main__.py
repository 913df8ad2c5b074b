"""`roi-ablation-explain [--out DIR]`: the seed's RoIAlign walk-through for any setting."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from roi_ablation.explain.coverage import coverage
from roi_ablation.explain.figures import build_figures, save_figures
from roi_ablation.explain.setting import INWARD_BOX, SEED_EXAMPLE, Setting
from roi_ablation.explain.text import render_coverage, render_report
from roi_ablation.roi import LAYOUTS, REGISTRY


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    seed = SEED_EXAMPLE
    parser = argparse.ArgumentParser(
        prog="roi-ablation-explain",
        description="Explain how RoI layers read one box: the mapped RoI, its bins and sample points, the "
        "cells each method reads, and the cells it loses (covered by the box, never read) or gains (read, "
        "outside the box). Prints a text report and writes PNG figures. Defaults: the seed's worked example. "
        "Without --box, the comparison adds a second box whose rounding moves an edge inward "
        f"({' '.join(f'{v:g}' for v in INWARD_BOX)}), so lost and gained cells both show. "
        "Sampling ratio, layout and --aligned apply to every bilinear method (warp, align) alike; pool "
        "ignores them (it rounds the box to cells).",
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/explain"), help="PNG directory (default: %(default)s)")
    parser.add_argument("--image-size", type=_positive_int, nargs=2, metavar=("W", "H"), default=list(seed.image_size),
                        help="image width and height in pixels (default: %(default)s)")
    parser.add_argument("--stride", type=_positive_int, default=seed.stride, help="feature stride (default: %(default)s)")
    parser.add_argument("--box", type=float, nargs=4, metavar=("X1", "Y1", "X2", "Y2"),
                        help=f"the RoI in image pixels (default: the seed's {' '.join(f'{v:g}' for v in seed.box)})")
    parser.add_argument("--output-size", type=_positive_int, nargs="+", metavar="N",
                        default=list(seed.output_size), help="bins: H W, or one N for N x N (default: %(default)s)")
    parser.add_argument("--sampling-ratio", type=int, default=seed.geometry["sampling_ratio"],
                        help="samples per bin side; <= 0: adaptive ceil(bin size) (default: %(default)s)")
    parser.add_argument("--aligned", action=argparse.BooleanOptionalAction, default=seed.geometry["aligned"],
                        help="map a box coordinate u to u/stride - 0.5 in index space (cell centres at i + 0.5); "
                        "--no-aligned: legacy u/stride, which samples half a cell right and down")
    parser.add_argument("--layout", choices=LAYOUTS, default=seed.geometry["layout"],
                        help="sample positions in a bin (default: %(default)s)")
    parser.add_argument("--methods", nargs="+", choices=sorted(REGISTRY), default=list(seed.methods),
                        metavar="METHOD", help=f"RoI layers, any of {', '.join(sorted(REGISTRY))} (default: %(default)s)")
    parser.add_argument("--tensorboard", type=Path, metavar="DIR", help="also write the figures and report here")
    return parser


def _box_problem(box: list[float], image_size: list[int]) -> str | None:
    """Why ``box`` cannot be explained on the image, or None."""
    x1, y1, x2, y2 = box
    width, height = image_size
    if x2 <= x1 or y2 <= y1:
        return f"--box needs x2 > x1 and y2 > y1; got {box}"
    if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        return f"--box {box} does not overlap the {width}x{height} image"
    return None


def _settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[Setting]:
    """The validated settings, one per box: the given box, or the seed's and INWARD_BOX.

    An invalid one exits through ``parser.error`` (status 2).
    """
    boxes = [args.box] if args.box else [list(SEED_EXAMPLE.box), list(INWARD_BOX)]
    if problem := _box_problem(boxes[0], args.image_size):
        parser.error(problem)
    size = args.output_size
    if len(size) > 2:
        parser.error(f"--output-size takes H W or one N; got {size}")
    oh, ow = size if len(size) == 2 else size * 2
    setting = Setting.of(tuple(args.image_size), args.stride, tuple(boxes[0]), (oh, ow), args.methods,
                         sampling_ratio=args.sampling_ratio, aligned=args.aligned, layout=args.layout)
    return [setting] + [replace(setting, box=tuple(box)) for box in boxes[1:] if not _box_problem(box, args.image_size)]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns 0 on success, 2 on a usage or input error (argparse says why)."""
    parser = _parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
        settings = _settings(parser, args)
    except SystemExit as exc:  # --help or a usage error: argparse has printed why
        return exc.code if isinstance(exc.code, int) else 2
    rows = [(setting, [coverage(setting, method) for method in setting.methods]) for setting in settings]
    report = "\n\n".join([render_report(*rows[0]), *(render_coverage(*row) for row in rows[1:])])
    print(report)
    figures = build_figures(rows)
    written = save_figures(figures, args.out)
    if args.tensorboard is not None:
        from roi_ablation.explain.board import write_tensorboard  # TensorBoard only when asked

        written.append(write_tensorboard(figures, report, args.tensorboard))
    print()
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
