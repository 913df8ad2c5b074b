"""scripts/project_cost.py: measured vs projected figures, and its one-line errors."""

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


def _check_json(path: Path, rows: list[dict], device_type: str = "cuda", tiny: bool = False) -> Path:
    path.write_text(json.dumps({"date": "2026-01-01", "tiny": tiny, "items": {"training": {"rows": rows}},
                                "device": {"type": device_type, "name": "Some GPU", "torch": "2.x"}}))
    return path


def _row(model: str, seconds: float, images: int = 2, status: str = "measured", pooler: str = "ours (align/avg)"):
    return {"model": model, "pooler": pooler, "status": status, "s_per_iter": seconds, "images_per_iter": images,
            "reason": None if status == "measured" else "time budget"}


def test_hours_follow_from_the_measured_step_time():
    sweep = project_cost.Sweep("table2c", "r50_c4", runs=21, iterations=90000, batch_size=16)
    lines, gpu_hours = project_cost.project(sweep, project_cost.StepTime(0.4, 2, "gpu_check"), gpus=8)
    assert gpu_hours == pytest.approx(21 * 90000 * 0.4 * 8 / 3600)
    assert lines[0].startswith("  measured: 0.400 s/iter at 2 images per GPU")
    assert all(line.startswith("  projected:") for line in lines[1:])


def test_a_different_per_gpu_batch_is_scaled_and_called_projected():
    sweep = project_cost.Sweep("table2c", "r50_c4", runs=1, iterations=3600, batch_size=16)
    lines, gpu_hours = project_cost.project(sweep, project_cost.StepTime(0.4, 2, "gpu_check"), gpus=4)
    assert gpu_hours == pytest.approx(3600 * 0.8 * 4 / 3600)  # 4 images per GPU: twice the measured step
    assert lines[0].startswith("  projected: 0.400 s/iter measured at 2 images per GPU, scaled linearly to 4")


def test_step_times_read_ours_only_and_name_what_is_missing(tmp_path):
    path = _check_json(tmp_path / "gpu_check.json", [
        _row("r50_c4", 0.5), _row("r50_c5", 0.0, status="skipped"),
        _row("r50_fpn", 0.3), _row("r50_fpn", 0.2, pooler="torchvision MultiScaleRoIAlign")])
    times, notes = project_cost.step_times_from_check(path)
    assert set(times) == {"r50_c4", "r50_fpn"} and times["r50_fpn"].seconds == 0.3
    assert any("r50_c5: not measured (skipped: time budget)" in n for n in notes)
    assert not any("WARNING" in n for n in notes)
    _, cpu_notes = project_cost.step_times_from_check(_check_json(tmp_path / "cpu.json", [], "cpu", tiny=True))
    assert any(n.startswith("WARNING") for n in cpu_notes)


@pytest.mark.parametrize("argv,words", [
    (["--from", "/no/such/gpu_check.json"], ["--from", "not a gpu_check.json", "gpu_check.py --out"]),
    (["--s-per-iter", "r50_c4"], ["MODEL=SECONDS", "'r50_c4'"]),
    (["--gpus-per-run", "0"], ["--gpus-per-run must be >= 1"]),
])
def test_mistakes_are_one_line(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        project_cost.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert all(word in err for word in words) and "Traceback" not in err
