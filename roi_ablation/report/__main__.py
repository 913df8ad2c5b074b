"""`roi-ablation-tables DIR... [--out DIR]`: sweep outputs -> the paper's tables."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from roi_ablation.report.collect import ReportError
from roi_ablation.report.render import describe
from roi_ablation.report.write import Report, write_report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roi-ablation-tables",
        description="Build Mask R-CNN Table 2c (stride 16) and 2d (stride 32) from Hydra run or multirun "
        "directories: CSV, Markdown, PNG figures, the paper's claims, provenance and TensorBoard text.",
    )
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="run or multirun directory")
    parser.add_argument("--out", type=Path, default=Path("outputs/tables"), help="default: %(default)s")
    return parser


def print_summary(report: Report) -> None:
    """The counts, every run that did not complete (with why), and the files written."""
    print(f"{len(report.runs)} runs, {len(report.problems)} failed or missing, {len(report.tables)} tables")
    for run in report.problems:
        print(f"  {describe(run)}")
    for run in report.unplaced:
        print(f"  in no table (data/stride/model unknown): {describe(run)}")
    for path in report.written:
        print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns 0 on success, 2 on a usage or input error (no traceback)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help or a usage error: argparse has printed why
        return exc.code if isinstance(exc.code, int) else 2
    try:
        report = write_report(args.dirs, args.out, shlex.join(["roi-ablation-tables", *argv]))
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
