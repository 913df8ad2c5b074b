"""scripts/project_cost.py: each row costed from its own measured s/iter at the paper's schedule."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("project_cost", ROOT / "scripts" / "project_cost.py")
project_cost = importlib.util.module_from_spec(_spec)
sys.modules["project_cost"] = project_cost  # dataclasses look their module up
_spec.loader.exec_module(project_cost)

C4_ROWS = ["pool_max", "warp_max", "warp_avg", "align_max", "align_avg", "align_avg_aligned", "pool_avg"]


def _check_json(path: Path, rows: list[dict], device_type: str = "cuda", tiny: bool = False) -> Path:
    path.write_text(json.dumps({"date": "2026-01-01", "tiny": tiny, "training": rows,
                                "device": {"type": device_type, "name": "Some GPU", "torch": "2.x"}}))
    return path


def _row(model: str, roi: str, variant: str | None, seconds: float, images: int = 2) -> dict:
    return {"model": model, "roi": roi, "variant": variant, "s_per_iter": seconds, "images_per_iter": images,
            "peak_mem_mb": 1000.0}


def test_sweep_rows_come_from_the_experiments():
    rows = project_cost.sweep_rows("table2c")
    assert [r.roi for r in rows] == C4_ROWS
    assert {r.model for r in rows} == {"r50_c4"} and {r.runs for r in rows} == {3}
    assert rows[0].variant == "pool/max" and rows[5].variant == "align/avg/n=2/aligned/center"
    assert [r.roi for r in project_cost.sweep_rows("table2d")] == ["pool_max", "align_avg", "align_avg_aligned"]


def test_each_row_is_costed_from_its_own_step_time():
    schedule = project_cost.Schedule(160_000, 16, "test")
    slow = project_cost.Row("table2c", "r50_c4", "align_max", "align/max/n=2/unaligned/center", runs=3)
    fast = project_cost.Row("table2c", "r50_c4", "align_avg", "align/avg/n=2/unaligned/center", runs=3)
    a = project_cost.row_cost(slow, project_cost.StepTime(0.6, 2, "m"), schedule, gpus=8)
    b = project_cost.row_cost(fast, project_cost.StepTime(0.4, 2, "m"), schedule, gpus=8)
    assert a.gpu_hours == pytest.approx(3 * 160_000 * 0.6 * 8 / 3600)
    assert b.gpu_hours == pytest.approx(3 * 160_000 * 0.4 * 8 / 3600)
    assert a.run_hours == pytest.approx(160_000 * 0.6 / 3600) and not a.scaled


def test_a_different_per_gpu_batch_is_scaled_and_called_projected():
    schedule = project_cost.Schedule(3600, 16, "test")
    row = project_cost.Row("table2c", "r50_c4", "pool_max", "pool/max", runs=1)
    cost = project_cost.row_cost(row, project_cost.StepTime(0.4, 2, "m"), schedule, gpus=4)  # 4 images per GPU
    assert cost.scaled and cost.s_per_iter == pytest.approx(0.8)
    assert cost.gpu_hours == pytest.approx(3600 * 0.8 * 4 / 3600)
    assert "projected 0.800 s/iter (measured 0.400 at 2 images per GPU" in project_cost.describe(cost, None, 4, 16)


def test_paper_schedule_reads_train_paper_or_says_it_fell_back(tmp_path):
    fallback = project_cost.paper_schedule(tmp_path)
    assert (fallback.iterations, fallback.batch_size) == (160_000, 16) and "not present" in fallback.source
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "paper.yaml").write_text("max_iter: 150000\nbatch_size: 32\nbase_lr: 0.02\n")
    read = project_cost.paper_schedule(tmp_path)
    assert (read.iterations, read.batch_size) == (150_000, 32) and "paper.yaml" in read.source


def test_step_times_are_keyed_by_model_and_variant(tmp_path):
    path = _check_json(tmp_path / "gpu_check.json", [
        _row("r50_c4", "pool", "pool/max", 0.5), _row("r50_c4", "stock", None, 0.3),
        _row("r50_c5", "pool", "pool/max", 0.7)])
    times, notes = project_cost.step_times_from_check(path)
    assert times[("r50_c4", "pool/max")].seconds == 0.5 and times[("r50_c5", "pool/max")].seconds == 0.7
    assert times[("r50_c4", "stock")].seconds == 0.3 and times[("r50_c4", "pool/max")].images_per_gpu == 2
    assert not any("WARNING" in n for n in notes)
    _, cpu_notes = project_cost.step_times_from_check(_check_json(tmp_path / "cpu.json", [], "cpu", tiny=True))
    assert any(n.startswith("WARNING") for n in cpu_notes)


def test_main_prints_one_line_per_row_with_its_own_hours(tmp_path, capsys):
    rows = [_row("r50_c4", "pool", "pool/max", 0.50), _row("r50_c4", "align", "align/max/n=2/unaligned/center", 0.90),
            _row("r50_c4", "stock", None, 0.25)]
    out_json = tmp_path / "cost.json"
    assert project_cost.main(["--from", str(_check_json(tmp_path / "g.json", rows)), "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    pool_line = next(line for line in text.splitlines() if line.strip().startswith("pool_max ") and "r50" not in line)
    assert "measured 0.500 s/iter at 2 images per GPU, 2.00x the stock pooler's measured step" in pool_line
    assert "warp_max" in text and "not measured" in text
    assert "5 rows not measured, not counted" in text  # 7 table2c rows, 2 measured
    written = json.loads(out_json.read_text())
    hours = {r["roi"]: r["gpu_hours"] for r in written["rows"]}
    iterations = written["schedule"]["iterations"]
    assert hours["pool_max"] == pytest.approx(3 * iterations * 0.5 * 8 / 3600, rel=1e-4)
    assert hours["align_max"] == pytest.approx(3 * iterations * 0.9 * 8 / 3600, rel=1e-4)
    assert written["total_gpu_hours"] == pytest.approx(hours["pool_max"] + hours["align_max"], rel=1e-4)


def test_command_line_step_times_name_a_row():
    rows = project_cost.sweep_rows("table2c")
    times = project_cost.parse_step_times(["r50_c4:align_max=0.9", "r50_c4:stock=0.2"], rows)
    assert times[("r50_c4", "align/max/n=2/unaligned/center")].seconds == 0.9
    assert times[("r50_c4", "stock")].images_per_gpu is None


@pytest.mark.parametrize("argv,words", [
    (["--from", "/no/such/gpu_check.json"], ["--from", "not a gpu_check.json", "gpu_check.py --out"]),
    (["--s-per-iter", "r50_c4:align_max"], ["MODEL:ROI=SECONDS", "'r50_c4:align_max'"]),
    (["--s-per-iter", "r50_c4=0.5"], ["name the row as MODEL:ROI"]),
    (["--s-per-iter", "r50_c4:nope=0.5"], ["no sweep row r50_c4:nope", "r50_c4:align_avg"]),
    (["--gpus-per-run", "0"], ["--gpus-per-run must be >= 1"]),
    (["--gpus-per-run", "3"], ["does not split over 3 GPUs"]),
])
def test_mistakes_are_one_line(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        project_cost.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert all(word in err for word in words) and "Traceback" not in err
