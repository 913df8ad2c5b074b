"""scripts/gpu_check.py: its pure parts, the presets' shapes it reads, and a whole --tiny run on the CPU
(the code path a lent GPU runs), then scripts/project_cost.py on what it wrote."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("equality", "roi_layers", "training", "amp", "torchrun")
CONTRACT = {"model", "roi", "variant", "s_per_iter", "images_per_iter", "peak_mem_mb"}
ROI_CONFIGS = sorted(p.stem for p in (ROOT / "configs" / "roi").glob("*.yaml"))

sys.path.insert(0, str(ROOT / "scripts"))  # gpu_check imports its sibling scripts
_spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(_spec)
sys.modules["gpu_check"] = gpu_check
_spec.loader.exec_module(gpu_check)


# ----------------------------------------------------------------------------- pure parts


def test_training_contract_keeps_measured_rows_with_exactly_its_keys():
    section = {"rows": [
        {"model": "r50_c4", "roi_config": "pool_max", "status": "measured", "roi": "pool", "variant": "pool/max",
         "s_per_iter": 0.5, "images_per_iter": 2, "peak_mem_mb": 900.0, "iterations": 8, "amp": "torch.float16"},
        {"model": "r50_c4", "roi_config": "stock", "status": "measured", "roi": "stock", "variant": None,
         "s_per_iter": 0.3, "images_per_iter": 2, "peak_mem_mb": None},
        {"model": "r50_c5", "roi_config": "pool_max", "status": "skipped", "reason": "time budget"},
    ]}
    rows = gpu_check.training_contract(section)
    assert [set(r) for r in rows] == [CONTRACT, CONTRACT]
    assert rows[0] == {"model": "r50_c4", "roi": "pool", "variant": "pool/max", "s_per_iter": 0.5,
                       "images_per_iter": 2, "peak_mem_mb": 900.0}
    assert rows[1]["roi"] == "stock" and rows[1]["variant"] is None


def test_rows_past_the_deadline_are_skipped_and_errors_are_rows():
    def run(row):
        if row["n"] == 1:
            raise RuntimeError("boom")
        return {"value": row["n"]}

    rows = list(gpu_check.rows_until(time.perf_counter() + 60, [{"n": 0}, {"n": 1}], run))
    assert rows[0] == {"n": 0, "status": "measured", "value": 0}
    assert rows[1]["status"] == "failed" and rows[1]["reason"] == "RuntimeError: boom"
    late = list(gpu_check.rows_until(time.perf_counter() - 1, [{"n": 0}], run))
    assert late[0]["status"] == "skipped" and "time budget" in late[0]["reason"]
    assert gpu_check.section_status(rows) == "failed"
    assert gpu_check.section_status(late) == "skipped"
    assert gpu_check.section_status([rows[0], late[0]]) == "partial"


def test_compare_flags_a_difference_beyond_tolerance():
    y, g = torch.randn(4, 3, 2, 2), {"0": torch.randn(2, 3, 8, 8)}
    same = gpu_check.compare((y, g), (y.clone(), {"0": g["0"].clone()}))
    assert same["within_tolerance"] and same["max_abs_err_forward"] == 0 and same["max_abs_err_backward"] == 0
    bumped = g["0"].clone()
    bumped[0, 0, 0, 0] += 1e-2
    off = gpu_check.compare((y, g), (y, {"0": bumped}))
    assert not off["within_tolerance"] and off["max_abs_err_backward"] == pytest.approx(1e-2, rel=1e-3)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_cpu_peak_memory_sees_a_64_mib_block():
    with gpu_check.PeakMemory(torch.device("cpu")) as peak:
        block = torch.ones(64 * 2**20 // 4)
        del block
    assert peak.mib is not None and 60 <= peak.mib < 200
    with gpu_check.PeakMemory(torch.device("cpu")) as idle:
        pass
    assert idle.mib is not None and idle.mib < 16


def test_op_count_sees_a_loop_of_ops():
    x = torch.randn(8, requires_grad=True)

    def ten():
        y = x
        for _ in range(10):
            y = y * 2
        y.sum().backward()

    counts = gpu_check.count_ops(ten, torch.device("cpu"))
    assert counts["cuda_kernels"] is None and 20 <= counts["aten_ops"] < 80  # 10 mul forward, 10 backward, sum


def test_the_presets_shapes_are_read_off_the_built_models():
    cpu = {s.key: s for p in gpu_check.PRESETS for s in gpu_check.preset_shapes(p, gpu_check.MODES["cpu"])}
    c4, c4_mask = cpu["r50_c4/box"], cpu["r50_c4/mask"]
    assert (c4.channels, c4.output, c4.levels) == (1024, 14, (("0", 16),))
    assert c4.rois == 16 * 2 and c4_mask.rois == 8 and c4_mask.output == 14  # 16 sampled RoIs per image, 25% positive
    c5 = cpu["r50_c5/box"]
    assert (c5.channels, c5.output, c5.levels) == (2048, 7, (("0", 32),)) and cpu["r50_c5/mask"].output == 14
    fpn = cpu["r50_fpn/box"]
    assert fpn.channels == 256 and fpn.output == 7 and [s for _, s in fpn.levels] == [4, 8, 16, 32]
    assert c4.batch_hw == (320, 448)  # 240x320 images resized to 320 px, padded to a multiple of 32
    # More elements per call than one CPU chunk holds, so the rehearsal exercises chunking.
    assert c4.rois * c4.channels * c4.output**2 > 4 * 2**20
    paper = gpu_check.preset_shapes("r50_c4", gpu_check.MODES["cuda"])[0]
    assert paper.rois == 128 and paper.batch_hw == (800, 1088)  # 64 per image x 2 images, as the C4 shapes


def test_training_rows_cover_both_tables_and_the_stock_poolers():
    rows = [(r["model"], r["roi_config"]) for r in gpu_check.training_rows()]
    assert [roi for model, roi in rows if model == "r50_c4"] == [*ROI_CONFIGS, "stock"]
    assert [roi for model, roi in rows if model == "r50_c5"] == ["pool_max", "align_avg", "align_avg_aligned", "stock"]
    assert [roi for model, roi in rows if model == "r50_fpn"] == ["align_avg", "stock"]


def test_every_roi_config_and_registered_layer_is_timed():
    configs = gpu_check.roi_configs()
    assert set(ROI_CONFIGS) <= set(configs)
    covered = {(s.method, s.agg) for s in configs.values()}
    from bench_roi import variants

    assert set(variants()) <= covered


# ----------------------------------------------------------------------------- a whole --tiny run


def _script(name: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def tiny_check(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("gpu_check")
    return out, _script("gpu_check.py", "--out", str(out), "--device", "cpu", "--tiny", timeout=600)


def _failures(report: dict) -> list[tuple[str, str | None]]:
    """Every object in the report with status ``failed``, as (path, reason): what a red CI log needs."""
    found = []

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            if node.get("status") == "failed":
                found.append((path, node.get("reason")))
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(report.get("sections", {}), "sections")
    return found


@pytest.mark.slow
def test_tiny_cpu_check_runs_every_section(tiny_check):
    out, done = tiny_check
    report = json.loads((out / "gpu_check.json").read_text())
    assert done.returncode == 0, (done.stderr[-3000:], _failures(report))
    assert report["schema"] == 2 and report["mode"] == "tiny" and report["tiny"] is True
    assert {"python", "torch", "torchvision", "hydra-core", "omegaconf", "pycocotools"} <= set(report["versions"])
    assert report["device"]["type"] == "cpu" and set(report["sections"]) == set(SECTIONS)
    for key in SECTIONS:
        section = report["sections"][key]
        assert section["status"] == "measured", (key, section.get("reason"), section.get("traceback"))

    equality = report["sections"]["equality"]["rows"]
    refs = {r["reference"] for r in equality}
    assert {"tv_roi_pool", "tv_roi_align", "tv_roi_align_aligned", "torchvision MultiScaleRoIAlign"} <= refs
    assert all(r["within_tolerance"] for r in equality)
    assert {r["ours"]["aligned"] for r in equality if r["reference"].startswith("tv_roi_align")} == {False, True}

    layers = report["sections"]["roi_layers"]["rows"]
    shapes = {r["shape"] for r in layers}
    assert shapes == {f"{p}/{h}" for p in ("r50_c4", "r50_c5", "r50_fpn") for h in ("box", "mask")}
    for shape in shapes:
        assert set(ROI_CONFIGS) <= {r["roi"] for r in layers if r["shape"] == shape and r["impl"] == "ours"}
    assert all(r["ms"] > 0 and r["aten_ops"] > 0 for r in layers)

    training = report["training"]
    assert all(set(r) == CONTRACT for r in training)
    assert {(r["model"], r["roi"]) for r in training if r["roi"] == "stock"} == {
        ("r50_c4", "stock"), ("r50_c5", "stock"), ("r50_fpn", "stock")}
    c4 = {r["variant"] for r in training if r["model"] == "r50_c4" and r["roi"] != "stock"}
    assert len(c4) == len(ROI_CONFIGS) and "align/avg/n=2/aligned/center" in c4
    assert all(r["s_per_iter"] > 0 and r["images_per_iter"] == 2 for r in training)

    amp = report["sections"]["amp"]["runs"]
    assert amp["engine"]["autocast"] == "torch.bfloat16" and amp["engine"]["grad_scaler"] is False
    scaled = amp["fp16_grad_scaler"]
    assert scaled["autocast"] == "torch.float16" and scaled["grad_scaler"] is True
    assert all(isinstance(s, float) and s > 0 for s in scaled["loss_scale"])
    assert scaled["steps"] > scaled["steps_skipped_by_scaler"] >= 0  # the scaler let at least one step through

    torchrun = report["sections"]["torchrun"]
    assert torchrun["backend"] == "gloo" and torchrun["world_size_logged"] == 2 and torchrun["nproc_per_node"] == 2
    assert torchrun["metrics"]["status"] == "complete" and torchrun["metrics"]["segm"] is not None
    assert "roi_ablation.train" in torchrun["command"]

    page = (out / "gpu_check.md").read_text()
    assert page.strip() in done.stdout and "## training (the contract)" in page
    assert not list(out.glob("*.pth"))  # scratch weights stay out of the report directory


@pytest.mark.slow
def test_a_budget_too_small_skips_and_says_why(tmp_path):
    done = _script("gpu_check.py", "--out", str(tmp_path), "--device", "cpu", "--tiny", "--budget-s", "0.001",
                   "--sections", "training,torchrun", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    sections = report["sections"]
    assert sections["torchrun"]["status"] == "skipped" and "time budget" in sections["torchrun"]["reason"]
    assert all(r["status"] == "skipped" and "time budget" in r["reason"] for r in sections["training"]["rows"])
    assert sections["equality"]["status"] == "skipped" and "not asked for" in sections["equality"]["reason"]
    assert report["training"] == []


@pytest.mark.slow
def test_project_cost_from_the_tiny_check_costs_each_row(tiny_check):
    out, _ = tiny_check
    done = _script("project_cost.py", "--from", str(out / "gpu_check.json"), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout
    assert "WARNING" in text and "--tiny" in text  # toy figures are called what they are
    assert "table2c: 7 rows x 3 seeds of r50_c4" in text and "table2d: 3 rows x 3 seeds of r50_c5" in text
    assert text.count("measured ") >= 10 and "not measured" not in text


def test_cuda_without_cuda_and_tiny_on_cuda_are_one_line(tmp_path):
    if not torch.cuda.is_available():
        done = _script("gpu_check.py", "--out", str(tmp_path), timeout=120)
        assert done.returncode == 2 and "CUDA is not available" in done.stderr and "Traceback" not in done.stderr
    done = _script("gpu_check.py", "--out", str(tmp_path), "--sections", "nope", "--device", "cpu", timeout=120)
    assert done.returncode == 2 and "unknown ['nope']" in done.stderr
