"""Write the README's result tables from the committed report in `outputs/tables/`.

The README quotes the sweep's numbers; this script is the only way they get there, so the
prose around them is the one hand-written part. Each block sits between two markers:

    <!-- results:claims -->  ...  <!-- /results:claims -->   the rows of claims.md
    <!-- results:rows -->    ...  <!-- /results:rows -->     every row of table2c/2d.csv

    python scripts/readme_results.py            # rewrite the blocks in README.md
    python scripts/readme_results.py --check    # exit 1 if README.md differs from the report
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLES = {"table2c.csv": 16, "table2d.csv": 32}  # file -> stride
BASE = "pool/max"  # the row every gain is measured from (the report's RoIPool)


def claims_block(tables: Path) -> str:
    """claims.md's table (heading, rule line and all rows), as the report wrote it."""
    lines = (tables / "claims.md").read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if line.startswith("|"))


def rows_block(tables: Path) -> str:
    """One line per row of both tables: mask AP/AP75, box AP, paired gains with their intervals."""
    head = ["stride", "method", "variant", "mask AP", "mask AP75", "box AP",
            "gain AP [95% CI]", "gain AP75 [95% CI]", "paper gain AP / AP75", "seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, stride in TABLES.items():
        with (tables / name).open(encoding="utf-8", newline="") as f:
            for record in csv.DictReader(f):
                cells = [
                    str(stride),
                    record["method"],
                    f"`{record['variant']}`",
                    _mean_std(record, "AP"),
                    _mean_std(record, "AP75"),
                    _mean_std(record, "APbb"),
                    _gain(record, "AP"),
                    _gain(record, "AP75"),
                    " / ".join(_signed(record[f"paper_gain_{m}"]) for m in ("AP", "AP75")),
                    record["n_seeds"],
                ]
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(readme: str, tables: Path) -> str:
    """`readme` with every marked block replaced by what the report says now."""
    for name, block in (("claims", claims_block(tables)), ("rows", rows_block(tables))):
        pattern = re.compile(rf"(<!-- results:{name} -->\n)(?:.*?\n)?(<!-- /results:{name} -->)", re.S)
        if not pattern.search(readme):
            raise SystemExit(f"error: the README has no <!-- results:{name} --> block; add its two markers")
        readme = pattern.sub(lambda m: m.group(1) + block + "\n" + m.group(2), readme)
    return readme


def _mean_std(record: dict[str, str], metric: str) -> str:
    mean, std = record[metric], record.get(f"{metric}_std", "")
    if not mean:
        return "–"
    return f"{float(mean):.1f} ± {float(std):.1f}" if std else f"{float(mean):.1f}"


def _gain(record: dict[str, str], metric: str) -> str:
    gain, low, high = record[f"gain_{metric}"], record[f"gain_{metric}_low"], record[f"gain_{metric}_high"]
    if record["variant"] == BASE:
        return "(base)"
    if not gain:
        return "–"
    return f"{float(gain):+.1f} [{float(low):+.1f}, {float(high):+.1f}]" if low and high else f"{float(gain):+.1f}"


def _signed(value: str) -> str:
    return f"{float(value):+.1f}" if value else "–"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--tables", type=Path, default=ROOT / "outputs" / "tables")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if README.md is out of date")
    args = parser.parse_args(argv)
    current = args.readme.read_text(encoding="utf-8")
    wanted = render(current, args.tables)
    if args.check:
        if wanted != current:
            print(f"{args.readme} is out of date with {args.tables}: run python scripts/readme_results.py", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
