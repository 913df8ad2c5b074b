"""The report end to end on the fabricated sweep (report_sweep.make_sweep): the power plan and its
costs, `--baseline`, and what the command prints."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import statistics
from pathlib import Path

import pytest

from roi_ablation.report import collect
from roi_ablation.report.__main__ import main
from roi_ablation.report.claims import decision_power
from roi_ablation.report.paper import PAPER_IMAGES_PER_ITER, PAPER_ITERATIONS
from roi_ablation.report.stats import Pilot

POOL, ALIGN_AVG = "pool/max", "align/avg/n=2/unaligned/center"
STEPS = {  # (model, variant) -> (s/iter, images per iter), as gpu_check.json states them
    ("r50_c4", POOL): (0.5, 2), ("r50_c4", ALIGN_AVG): (0.6, 2), ("r50_c5", POOL): (0.4, 4), ("r50_c5", ALIGN_AVG): (0.45, 4),
}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_gpu_check(path: Path) -> Path:
    entries = [{"model": model, "roi": variant.split("/")[0], "variant": variant, "s_per_iter": s,
                "images_per_iter": images, "peak_mem_mb": 1000.0} for (model, variant), (s, images) in STEPS.items()]
    entries.append({"model": "r50_c4", "roi": "stock", "variant": None, "s_per_iter": 0.3, "images_per_iter": 2,
                    "peak_mem_mb": 900.0})
    path.write_text(json.dumps({"training": entries}))
    return path


def seconds_per_run(sweep: Path, method: str, agg: str, stride: int) -> float:
    """Mean train + eval seconds of a row's complete runs, read back from their metrics.json files."""
    records = [run.record for run in collect([sweep]).runs if run.status == "complete"]
    return statistics.fmean(r.train_s + r.eval_s for r in records
                            if (r.roi.method, r.roi.agg, r.stride) == (method, agg, stride))


@pytest.fixture(scope="module")
def report(sweep: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("power")
    gpu = write_gpu_check(out / "gpu_check.json")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # capsys is per test; this output is shared by the module
        assert main([str(sweep), "--out", str(out), "--gpu-check", str(gpu)]) == 0
    return out, printed.getvalue()


def test_power_plan_of_a_claim_row_from_its_paired_differences(report: tuple[Path, str], sweep: Path) -> None:
    out, _ = report
    rows = {(r["comparison"], r["metric"]): r for r in read_csv(out / "power.csv")}
    gain = rows[("1 RoIAlign (avg) > RoIPool", "AP")]
    # RoIAlign avg seeds 0, 1: 30, 30 against RoIPool's 20, 22 -> differences 10, 8
    assert (gain["pilot_seeds"], float(gain["effect"]), float(gain["sd"])) == ("2", 9.0, pytest.approx(math.sqrt(2), abs=1e-3))
    seeds = int(gain["seeds"])
    pilot = Pilot(9.0, (math.sqrt(2),))
    assert decision_power("greater", pilot, seeds) >= 0.8 and (seeds == 2 or decision_power("greater", pilot, seeds - 1) < 0.8)
    per_seed = seconds_per_run(sweep, "align", "avg", 16) + seconds_per_run(sweep, "pool", "max", 16)
    assert float(gain["cpu_hours"]) == pytest.approx(seeds * per_seed / 3600, abs=1e-3)
    gpu = sum(seeds * PAPER_ITERATIONS * PAPER_IMAGES_PER_ITER / images * s / 3600
              for (model, _), (s, images) in STEPS.items() if model == "r50_c4")
    assert float(gain["gpu_hours"]) == pytest.approx(gpu, rel=1e-3)


def test_every_claim_row_and_extra_row_is_planned(report: tuple[Path, str]) -> None:
    out, _ = report
    plans = read_csv(out / "power.csv")
    claims = read_csv(out / "claims.csv")
    assert [(p["comparison"], p["metric"]) for p in plans[: len(claims)]] == [(c["claim"], c["metric"]) for c in claims]
    extras = {p["comparison"] for p in plans[len(claims):]}
    assert extras == {f"{v} - {POOL}" for v in ("pool/avg", "align/avg/n=2/aligned/center", "align/max/n=adaptive/unaligned/center")}
    one_seed = next(p for p in plans if p["comparison"] == f"pool/avg - {POOL}")
    assert (one_seed["seeds"], one_seed["cpu_hours"], one_seed["note"]) == ("", "", "needs 2+ seeds paired in every row compared")
    warp = next(p for p in plans if p["comparison"] == "2 RoIWarp (max) ≈ RoIPool" and p["metric"] == "AP")
    assert warp["gpu_hours"] == "" and "no gpu_check entry for r50_c4 warp/max/n=2/unaligned/corner" in warp["note"]
    markdown = (out / "power.md").read_text(encoding="utf-8")
    assert "| 1 RoIAlign (avg) > RoIPool | 16 | AP | greater | 2 | +9.00 ± 1.41 |" in markdown


def test_without_a_gpu_check_the_gpu_column_is_empty_with_a_note(sweep: Path, tmp_path: Path) -> None:
    for name, content in (("absent.json", None), ("old.json", '{"items": {"training": {"rows": []}}}')):
        path = tmp_path / name
        if content is not None:
            path.write_text(content)
        assert main([str(sweep), "--out", str(tmp_path / name[:-5]), "--gpu-check", str(path)]) == 0
        plans = read_csv(tmp_path / name[:-5] / "power.csv")
        assert all(p["gpu_hours"] == "" for p in plans) and any(p["cpu_hours"] for p in plans)
        markdown = (tmp_path / name[:-5] / "power.md").read_text(encoding="utf-8")
        assert ("GPU hours not projected" in markdown) and (f"no {path}" in markdown) == (content is None)


def test_the_summary_ends_with_mask_ap_and_gains_per_row(report: tuple[Path, str]) -> None:
    out, printed = report
    assert f"wrote {out / 'power.csv'}" in printed and "Seeds for a decision with 80% power (power.md):" in printed
    results = printed[printed.index("table2c (shapes, small_c4, 300 iterations)"):].splitlines()
    assert results[0].endswith("mask AP (seeds), gain vs RoIPool (max) [95% CI]")
    assert results[1].split() == ["RoIPool", "max", "22.0", "(3)", "baseline"]
    assert results[4].split() == ["RoIAlign", "max", "29.0", "(2)", "+8.0", "[+8.0,", "+8.0]"]  # 2 seeds: an interval
    assert results[3].split() == ["RoIWarp", "avg", "23.5", "(1)", "+3.5"]  # 1 seed: none
    assert "RoIAlign (adaptive n)  max       – (0)  –" in printed


@pytest.mark.parametrize("key", ["align/avg", ALIGN_AVG])
def test_baseline_option_measures_gains_from_that_row(sweep: Path, tmp_path: Path, key: str) -> None:
    assert main([str(sweep), "--out", str(tmp_path), "--baseline", key]) == 0
    rows = {r["variant"]: r for r in read_csv(tmp_path / "table2c.csv")}
    assert float(rows[ALIGN_AVG]["gain_AP"]) == 0.0
    pool = rows[POOL]  # seeds 0, 1: 20 - 30, 22 - 30
    assert float(pool["gain_AP"]) == -9.0 and float(pool["gain_AP_low"]) < -9.0 < float(pool["gain_AP_high"])
    assert float(pool["paper_gain_AP"]) == pytest.approx(26.9 - 30.3)
    assert float(rows["align/avg/n=2/aligned/center"]["gain_AP"]) == 1.0  # its one seed against align avg's seed 0
    assert "| gain vs RoIAlign |" in (tmp_path / "table2c.md").read_text(encoding="utf-8")
    claims = {(c["claim"], c["metric"]): c for c in read_csv(tmp_path / "claims.csv")}
    assert float(claims[("1 RoIAlign (avg) > RoIPool", "AP")]["ours"]) == 9.0  # the claims keep their own rows


def test_an_unknown_baseline_exits_2_naming_the_key_and_the_keys_there(
    sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(sweep), "--out", str(tmp_path / "out"), "--baseline", "roi/avg"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "'roi/avg'" in err and "Traceback" not in err
    assert f"{POOL}, " in err and ALIGN_AVG in err and "align/max/n=adaptive" not in err  # no complete run: no baseline
    assert not (tmp_path / "out").exists()
