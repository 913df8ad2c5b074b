"""The report on a fabricated sweep whose numbers are known (see conftest.make_sweep)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from roi_ablation.report import ReportError, build_tables, collect
from roi_ablation.report.__main__ import main

from report_sweep import roi, write_run


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def out(sweep: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tables")
    assert main([str(sweep), "--out", str(out)]) == 0
    return out


def test_table2c_rows_in_paper_order_then_extras(out: Path) -> None:
    rows = read_csv(out / "table2c.csv")
    assert [(r["method"], r["agg"]) for r in rows] == [
        ("RoIPool", "max"),
        ("RoIWarp", "max"),
        ("RoIWarp", "avg"),
        ("RoIAlign", "max"),
        ("RoIAlign", "avg"),
        ("RoIPool (avg)", "avg"),
        ("RoIAlign (aligned)", "avg"),
        ("RoIAlign (adaptive n)", "max"),
    ]
    assert [(r["align"], r["bilinear"]) for r in rows[:5]] == [("", ""), ("", "✓"), ("", "✓"), ("✓", "✓"), ("✓", "✓")]
    assert rows[6]["variant"] == "align/avg/n=2/aligned/center"
    assert all(r["paper_AP"] == "" for r in rows[5:])


def test_table2c_columns(out: Path) -> None:
    with (out / "table2c.csv").open(encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    assert header[:7] == ["method", "align", "bilinear", "agg", "AP", "AP50", "AP75"]
    assert header[7:11] == ["n_seeds", "AP_std", "AP50_std", "AP75_std"]
    assert header[-7:] == ["APbb", "APbb50", "APbb75", "status", "n_failed", "n_missing", "variant"]


def test_means_stds_and_seed_counts(out: Path) -> None:
    pool, warp_max, warp_avg, align_max, align_avg, *_ = read_csv(out / "table2c.csv")
    assert (float(pool["AP"]), float(pool["AP_std"]), pool["n_seeds"]) == (22.0, 2.0, "3")
    assert float(pool["APbb"]) == 25.0
    assert float(warp_max["AP_std"]) == pytest.approx(0.707, abs=1e-3)
    assert warp_avg["AP_std"] == ""  # one seed: no sample std
    assert (float(align_max["AP"]), align_max["n_seeds"]) == (29.0, "2")  # the failed seed is not averaged


def test_paper_values_deltas_and_gains(out: Path) -> None:
    pool, _, _, align_max, *_ = read_csv(out / "table2c.csv")
    assert float(align_max["paper_AP"]) == 30.2
    assert float(align_max["delta_AP"]) == pytest.approx(29.0 - 30.2)
    # paired by seed: align_max has seeds 0 and 1 (28, 30) against RoIPool's 20 and 22
    assert float(align_max["gain_AP"]) == pytest.approx(8.0)
    assert (float(align_max["gain_AP_low"]), float(align_max["gain_AP_high"])) == (8.0, 8.0)  # no spread: zero width
    assert float(align_max["paper_gain_AP"]) == pytest.approx(30.2 - 26.9)
    assert float(pool["gain_AP"]) == 0.0

    rows = read_csv(out / "table2d.csv")
    assert [(r["method"], r["agg"]) for r in rows] == [("RoIPool", "max"), ("RoIAlign", "avg"), ("RoIAlign", "max")]
    align = rows[1]
    assert [float(align[f"paper_gain_{m}"]) for m in ("AP", "AP50", "AP75", "APbb", "APbb50", "APbb75")] == (
        pytest.approx([7.3, 5.3, 10.5, 5.8, 2.6, 9.5])
    )
    assert float(align["gain_APbb"]) == pytest.approx(6.0)
    assert float(align["delta_APbb75"]) == pytest.approx(31.0 - 36.4)
    assert float(rows[2]["paper_AP"]) == 30.9  # 2d matches the paper row on method only


def test_failed_and_missing_runs_are_marked_not_dropped(out: Path) -> None:
    rows = {r["variant"]: r for r in read_csv(out / "table2c.csv")}
    assert rows["align/max/n=2/unaligned/center"]["status"] == "2/3 complete, 1 failed"
    assert rows["align/avg/n=2/unaligned/center"]["status"] == "2/3 complete, 1 missing"
    assert rows["align/avg/n=2/unaligned/center"]["n_missing"] == "1"
    all_failed = rows["align/max/n=adaptive/unaligned/center"]
    assert (all_failed["AP"], all_failed["n_seeds"], all_failed["status"]) == ("", "0", "0/1 complete, 1 failed")


def test_missing_run_placed_from_its_hydra_config(sweep: Path) -> None:
    missing = [run for run in collect([sweep]).runs if run.status == "missing"]
    assert len(missing) == 1
    record = missing[0].record
    assert (record.roi.method, record.roi.agg, record.stride, record.seed) == ("align", "avg", None, 2)
    tables, _ = build_tables(collect([sweep]).runs)  # its model and data name the one stride they were run at
    assert missing[0].path in [run.path for run in tables[0].runs] and tables[0].key.stride == 16


def test_markdown_plot_and_provenance(out: Path) -> None:
    md = (out / "table2c.md").read_text(encoding="utf-8")
    assert "| RoIAlign | ✓ | ✓ | max | 29.0 ± 1.4 |" in md
    assert "30.2 / 51.0 / 31.8" in md and "+8.0 / +8.0 / +12.0" in md
    assert "failed: RuntimeError: loss is NaN" in md and "missing: no metrics.json" in md
    assert "+7.3 / +5.3 / +10.5 / +5.8 / +2.6 / +9.5" in (out / "table2d.md").read_text(encoding="utf-8")
    png = (out / "tables.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    provenance = (out / "provenance.md").read_text(encoding="utf-8")
    assert "roi-ablation-train roi=align_max seed=2 model=small_c4 data=shapes" in provenance
    assert "roi-ablation-train -m roi=pool_max,align_max seed=0,1,2" in provenance
    assert "`abc1234` (14 runs)" in provenance  # 2c: 15 runs, one missing without a git sha
    assert "- devices: cpu" in provenance  # from the records (the engine writes where each run trained)
    assert "torch" in provenance and "CPUs" in provenance


def test_paper_row_without_runs_is_shown_as_not_run(tmp_path: Path) -> None:
    write_run(tmp_path, "align_max", roi("align", "max"), 0, mask_ap=(30.0, 50.0, 31.0))
    (table,), unplaced = build_tables(collect([tmp_path]).runs)
    assert not unplaced
    assert [(row.label, row.roi.agg, row.status) for row in table.rows] == [
        ("RoIPool", "max", "not run"),
        ("RoIWarp", "max", "not run"),
        ("RoIWarp", "avg", "not run"),
        ("RoIAlign", "max", "1/1 complete"),
        ("RoIAlign", "avg", "not run"),
    ]
    assert table.records()[3]["gain_AP"] is None  # no RoIPool baseline to gain over


def test_several_data_sets_get_suffixed_files(tmp_path: Path) -> None:
    for data in ("shapes", "coco"):
        write_run(tmp_path / "in", "pool_max", roi("pool", "max"), 0, data=data, mask_ap=(20.0, 40.0, 18.0))
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("table*.csv")) == ["table2c_coco.csv", "table2c_shapes.csv"]


def test_bad_directories_exit_2_naming_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    assert main([str(empty), "--out", str(tmp_path / "out")]) == 2
    assert f"{empty}: no runs found" in capsys.readouterr().err
    absent = tmp_path / "absent"
    assert main([str(absent)]) == 2
    assert f"{absent}: no such directory" in capsys.readouterr().err
    with pytest.raises(ReportError, match="no runs found"):
        collect([empty])
    assert main([]) == 2  # usage error
    assert not (tmp_path / "out").exists()


def test_cli_prints_problems_and_paths(sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(sweep), str(sweep), "--out", str(tmp_path)]) == 0  # the same dir twice counts once
    printed = capsys.readouterr().out
    assert "20 runs, 3 failed or missing, 2 tables" in printed
    assert "align_max,seed=2,stride=16,data=shapes (seed 2): RuntimeError: loss is NaN" in printed
    for name in ("table2c.csv", "table2c.md", "table2d.csv", "table2d.md", "tables.png", "provenance.md"):
        assert f"wrote {tmp_path / name}" in printed


def test_unknown_layer_is_an_extra_row_and_unknown_stride_is_reported(tmp_path: Path) -> None:
    write_run(tmp_path, "pool_max", roi("pool", "max"), 0, mask_ap=(20.0, 40.0, 18.0))
    custom = {"method": "my_roi", "agg": "avg", "sampling_ratio": 4, "aligned": False, "layout": "center"}
    write_run(tmp_path, "my_roi", custom, 0, mask_ap=(25.0, 45.0, 20.0))
    write_run(tmp_path, "pool_max", roi("pool", "max"), 0, stride=32, mask_ap=(20.0, 40.0, 18.0))
    orphan = write_run(tmp_path, "orphan", roi("align", "max"), 0, metrics=False)
    (orphan / ".hydra" / "config.yaml").write_text("seed: 0\n")  # no data, model or stride: 2c or 2d?
    (table, _), unplaced = build_tables(collect([tmp_path]).runs)
    extra = table.records()[-1]
    assert (extra["method"], extra["variant"], extra["paper_AP"], extra["gain_AP"]) == (
        "my_roi", "my_roi/avg/n=4/unaligned/center", None, 5.0
    )
    assert [run.path for run in unplaced] == [orphan]


def test_settings_a_layer_does_not_read_do_not_split_its_row(tmp_path: Path) -> None:
    """RoIPool reads no offset, sampling ratio or layout: such runs are the paper's RoIPool row."""
    write_run(tmp_path, "pool_max", roi("pool", "max"), 0, mask_ap=(20.0, 40.0, 18.0))
    write_run(tmp_path, "pool_max_aligned", roi("pool", "max", aligned=True, sampling_ratio=0, layout="corner"), 1,
              mask_ap=(22.0, 40.0, 18.0))
    (table,), _ = build_tables(collect([tmp_path]).runs)
    pool = table.rows[0]
    assert (pool.label, pool.status, pool.mean["AP"]) == ("RoIPool", "2/2 complete", 21.0)
    assert [row.label for row in table.rows] == ["RoIPool", "RoIWarp", "RoIWarp", "RoIAlign", "RoIAlign"]


def test_a_user_layer_gets_its_registry_title_and_flags(tmp_path: Path) -> None:
    from roi_ablation.roi import REGISTRY, register

    register("test_report_wide", title="WideAlign", align=True, bilinear=False, reads=("aligned",))(REGISTRY["align"].build)
    try:
        write_run(tmp_path, "wide", {"method": "test_report_wide", "agg": "avg", "sampling_ratio": 2, "aligned": False,
                                     "layout": "center"}, 0, mask_ap=(25.0, 45.0, 24.0))
        (table,), _ = build_tables(collect([tmp_path]).runs)
        extra = table.records()[-1]
        assert (extra["method"], extra["align"], extra["bilinear"], extra["agg"]) == ("WideAlign", "✓", "", "avg")
    finally:
        REGISTRY.pop("test_report_wide")


@pytest.mark.parametrize("change", [{"segm": "abc"}, {"segm": None, "bbox": None}, {"status": "done"},
                                    {"roi": "align"}, {"segm": {"AP": float("nan")}}, {"seed": "one"}])
def test_a_malformed_record_is_a_failed_run_with_the_reason(
    tmp_path: Path, change: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(tmp_path, "align_avg", roi("align", "avg"), 0, mask_ap=(30.0, 50.0, 31.0))
    record = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**record, **change}))
    (loaded,) = collect([tmp_path]).runs
    assert loaded.status == "failed" and loaded.error.startswith("malformed metrics.json: ")
    # its only run lost its stride with its record: exit 2, naming the run and why, no traceback
    assert main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("roi-ablation-tables: error: no run says which data set and stride it used:\n")
    assert f"  {run}: stride unknown (failed: malformed metrics.json: " in err and "Traceback" not in err


def test_a_run_stopped_early_is_placed_in_the_table_of_its_schedule(tmp_path: Path) -> None:
    write_run(tmp_path, "pool_max", roi("pool", "max"), 0, mask_ap=(20.0, 40.0, 18.0))
    stopped = write_run(tmp_path, "align_avg", roi("align", "avg"), 0, status="interrupted")
    record = json.loads((stopped / "metrics.json").read_text())
    (stopped / "metrics.json").write_text(json.dumps({**record, "iterations": 123}))
    tables, _ = build_tables(collect([tmp_path]).runs)
    assert len(tables) == 1
    align = next(row for row in tables[0].rows if row.roi.method == "align" and row.roi.agg == "avg")
    assert [run.status for run in align.runs] == ["interrupted"]
