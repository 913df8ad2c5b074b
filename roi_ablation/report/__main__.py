"""`roi-ablation-tables DIR... [--out DIR] [--baseline KEY] [--gpu-check FILE] [--rules v1|v2]`: sweep outputs -> the paper's tables."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from roi_ablation.report.claims import RULEBOOKS
from roi_ablation.report.collect import ReportError
from roi_ablation.report.paper import DEFAULT_BASELINE
from roi_ablation.report.power import GPU_CHECK
from roi_ablation.report.summary import print_summary
from roi_ablation.report.write import write_report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roi-ablation-tables",
        description="Build Mask R-CNN Table 2c (stride 16) and 2d (stride 32) from Hydra run or multirun "
        "directories: CSV, Markdown, PNG figures, the paper's claims, a power plan, provenance and TensorBoard text.",
    )
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="run or multirun directory")
    parser.add_argument("--out", type=Path, default=Path("outputs/tables"), help="default: %(default)s")
    parser.add_argument("--baseline", metavar="KEY", help="the row gains are measured from: a variant key from the "
                        "tables' `variant` column, or METHOD/AGG for a layer's paper preset "
                        f"(e.g. align/avg); default: {DEFAULT_BASELINE} (RoIPool)")
    parser.add_argument("--gpu-check", type=Path, default=GPU_CHECK, metavar="FILE",
                        help="gpu_check.json whose step times give the power plan's GPU hours, if it exists; "
                        "default: %(default)s")
    parser.add_argument("--rules", choices=sorted(RULEBOOKS), default="v1",
                        help="the margins of the claims' verdicts and the power plan (docs/claims.md): v1, the "
                        "original rule; v2, the pre-registered confirmatory rule; default: %(default)s")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns 0 on success, 2 on a usage or input error (no traceback)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help or a usage error: argparse has printed why
        return exc.code if isinstance(exc.code, int) else 2
    try:
        report = write_report(args.dirs, args.out, shlex.join(["roi-ablation-tables", *argv]), args.baseline, args.gpu_check,
                              RULEBOOKS[args.rules])
    except ReportError as exc:
        print(f"roi-ablation-tables: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"roi-ablation-tables: error: cannot write {exc.filename or args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print_summary(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
