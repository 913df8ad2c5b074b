"""`roi-ablation-tables DIR... [--out DIR]`: sweep outputs -> the paper's tables."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from roi_ablation.report.collect import ReportError, collect
from roi_ablation.report.dashboard import write_tensorboard
from roi_ablation.report.plot import plot_tables
from roi_ablation.report.provenance import render_provenance
from roi_ablation.report.render import describe, render_markdown, write_csv
from roi_ablation.report.tables import build_tables


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roi-ablation-tables",
        description="Build Mask R-CNN Table 2c (stride 16) and 2d (stride 32) from Hydra run "
        "or multirun directories: CSV, Markdown, a PNG plot, provenance and TensorBoard text.",
    )
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="run or multirun directory")
    parser.add_argument("--out", type=Path, default=Path("outputs/tables"), help="default: %(default)s")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns 0 on success, 2 on a usage or input error (no traceback)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help or a usage error: argparse has printed why
        return exc.code if isinstance(exc.code, int) else 2
    try:
        collection = collect(args.dirs)
    except ReportError as exc:
        print(f"roi-ablation-tables: error: {exc}", file=sys.stderr)
        return 2
    tables, unplaced = build_tables(collection.runs)
    if not tables:
        print("roi-ablation-tables: error: no run says which data set and stride it used", file=sys.stderr)
        return 2

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    markdown: dict[str, str] = {}
    for table in tables:
        markdown[table.stem] = render_markdown(table)
        written.append(write_csv(table, out / f"{table.stem}.csv"))
        written.append(out / f"{table.stem}.md")
        written[-1].write_text(markdown[table.stem], encoding="utf-8")
    written.append(plot_tables(tables, out / "tables.png"))
    provenance = out / "provenance.md"
    command = shlex.join(["roi-ablation-tables", *argv])
    provenance.write_text(render_provenance(tables, unplaced, collection.sweeps, command), encoding="utf-8")
    written += [provenance, write_tensorboard(markdown, out / "tensorboard")]

    problems = [run for run in collection.runs if run.status != "complete"]
    print(f"{len(collection.runs)} runs, {len(problems)} failed or missing, {len(tables)} tables")
    for run in problems:
        print(f"  {describe(run)}")
    for run in unplaced:
        print(f"  in no table (data/stride/model unknown): {describe(run)}")
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
