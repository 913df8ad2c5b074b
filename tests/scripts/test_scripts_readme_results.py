"""scripts/readme_results.py: the README's result tables are the committed report's."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("readme_results", ROOT / "scripts" / "readme_results.py")
readme_results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readme_results)


def test_committed_readme_matches_committed_tables():
    assert readme_results.main(["--check"]) == 0, "run: python scripts/readme_results.py"


def test_blocks_follow_the_report(tmp_path):
    tables = tmp_path / "tables"
    shutil.copytree(ROOT / "outputs" / "tables", tables)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:claims -->\nold\n<!-- /results:claims -->\n"
                      "<!-- results:rows -->\n<!-- /results:rows -->\nend\n", encoding="utf-8")
    assert readme_results.main(["--readme", str(readme), "--tables", str(tables), "--check"]) == 1
    assert readme_results.main(["--readme", str(readme), "--tables", str(tables)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert "old" not in text and text.startswith("intro\n") and text.endswith("end\n")
    claim_rows = [line for line in (tables / "claims.md").read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    assert all(line in text for line in claim_rows)
    assert "| 16 | RoIPool | `pool/max` |" in text and "(base)" in text
    # a changed report makes the README stale
    csv_path = tables / "table2c.csv"
    csv_path.write_text(csv_path.read_text(encoding="utf-8").replace("RoIPool,", "RoIPool*,", 1), encoding="utf-8")
    assert readme_results.main(["--readme", str(readme), "--tables", str(tables), "--check"]) == 1


def test_missing_marker_names_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:claims -->\n<!-- /results:claims -->\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="results:rows"):
        readme_results.main(["--readme", str(readme), "--tables", str(ROOT / "outputs" / "tables")])
