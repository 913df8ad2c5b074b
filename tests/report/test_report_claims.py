"""Claims as data: synthetic sweeps (metrics.json files, read as the report reads them) with
known per-seed numbers, and the verdict rule of docs/claims.md."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from roi_ablation.report.claims import COLUMNS, MARGIN, RULEBOOKS, claims_rows, evaluate_claims, verdict, write_claims
from roi_ablation.report.collect import collect
from roi_ablation.report.stats import Estimate
from roi_ablation.report.tables import Table, build_tables

LAYERS = {  # the roi= presets as metrics.json records them
    "pool_max": {"method": "pool", "agg": "max", "sampling_ratio": 2, "aligned": False, "layout": "center"},
    "warp_max": {"method": "warp", "agg": "max", "sampling_ratio": 2, "aligned": False, "layout": "corner"},
    "warp_avg": {"method": "warp", "agg": "avg", "sampling_ratio": 2, "aligned": False, "layout": "corner"},
    "align_max": {"method": "align", "agg": "max", "sampling_ratio": 2, "aligned": False, "layout": "center"},
    "align_avg": {"method": "align", "agg": "avg", "sampling_ratio": 2, "aligned": False, "layout": "center"},
}
MODELS = {16: "small_c4", 32: "small_c5"}
SEED_LUCK = [0.0, -6.0, 5.0, 2.0, -3.0]  # what a seed adds to every row: large, and cancelled by pairing
JITTER = [0.2, -0.1, 0.0, -0.2, 0.1]  # what is left of a row's own noise per seed


def write_sweep(root: Path, stride: int, means: dict[str, float], seeds: int = 5) -> None:
    """One metrics.json per row and seed: AP = AP75 = box AP = mean + seed luck + jitter."""
    for name, mean in means.items():
        for seed in range(seeds):
            value = mean + SEED_LUCK[seed] + JITTER[(seed + len(name)) % len(JITTER)]
            ap = {"AP": value, "AP50": value, "AP75": value, "APs": 0, "APm": 0, "APl": 0}
            run = root / f"s{stride}" / f"roi={name},seed={seed}"
            run.mkdir(parents=True)
            record = {
                "roi": LAYERS[name], "model": MODELS[stride], "stride": stride, "data": "shapes", "seed": seed,
                "iterations": 1000, "segm": ap, "bbox": ap, "train_s": 1.0, "eval_s": 1.0, "git": "abc", "status": "complete",
            }
            (run / "metrics.json").write_text(json.dumps(record))


def tables(root: Path) -> list[Table]:
    built, unplaced = build_tables(collect([root]).runs)
    assert not unplaced
    return built


def by_claim(rows: list[dict[str, object]]) -> dict[tuple[str, str, str], dict[str, object]]:
    return {(str(r["claim"]), str(r["stride"]), str(r["metric"])): r for r in rows}


PAPER_LIKE_16 = {"pool_max": 20.0, "warp_max": 20.1, "warp_avg": 20.0, "align_max": 24.0, "align_avg": 24.1}


def test_every_claim_and_metric_is_a_row_with_the_papers_value(tmp_path: Path) -> None:
    write_sweep(tmp_path, 16, PAPER_LIKE_16)
    write_sweep(tmp_path, 32, {"pool_max": 15.0, "align_avg": 24.0})
    rows = claims_rows(tables(tmp_path))
    assert all(tuple(r) == COLUMNS for r in rows)
    assert len(rows) == 2 + 2 + 8 + 4 + 3  # claims 1 (two strides), 2 (four comparisons), 3 (two), 4 (three metrics)
    claims = by_claim(rows)
    assert claims[("1 RoIAlign (avg) > RoIPool", "16", "AP")]["paper"] == pytest.approx(3.4)
    assert claims[("1 RoIAlign (avg) > RoIPool", "16", "AP75")]["paper"] == pytest.approx(5.1)
    assert claims[("1 RoIAlign > RoIPool", "32", "AP75")]["paper"] == pytest.approx(10.5)
    growth = "4 RoIAlign's gain over RoIPool grows with the stride"
    assert claims[(growth, "32 vs 16", "AP")]["paper"] == pytest.approx(7.3 - 3.4)
    assert claims[(growth, "32 vs 16", "APbb")]["paper"] is None  # Table 2c has no box AP


def test_pairing_sees_through_the_seed_luck(tmp_path: Path) -> None:
    write_sweep(tmp_path, 16, PAPER_LIKE_16)
    write_sweep(tmp_path, 32, {"pool_max": 15.0, "align_avg": 24.0})
    claims = by_claim(claims_rows(tables(tmp_path)))
    gain = claims[("1 RoIAlign (avg) > RoIPool", "16", "AP")]
    assert gain["ours"] == pytest.approx(4.1, abs=0.3)
    assert 0 < gain["ci_low"] < gain["ci_high"] < 5  # seed luck spans 11 AP; unpaired, the interval would too
    assert gain["verdict"] == "reproduced"
    assert claims[("2 RoIWarp (avg) ≈ RoIPool", "16", "AP")]["verdict"] == "reproduced"
    assert claims[("2 RoIAlign (max) ≫ RoIWarp (max)", "16", "AP75")]["verdict"] == "reproduced"
    assert claims[("3 RoIAlign avg ≈ max", "16", "AP")]["verdict"] == "reproduced"
    growth = claims[("4 RoIAlign's gain over RoIPool grows with the stride", "32 vs 16", "APbb")]
    assert growth["ours"] == pytest.approx(9.0 - 4.1, abs=0.3) and growth["verdict"] == "reproduced"


def test_a_twin_where_the_paper_fails_gets_not_reproduced(tmp_path: Path) -> None:
    write_sweep(tmp_path, 16, {"pool_max": 20.0, "warp_max": 23.0, "warp_avg": 23.0, "align_max": 23.2, "align_avg": 20.0})
    write_sweep(tmp_path, 32, {"pool_max": 20.0, "align_avg": 20.0})
    claims = by_claim(claims_rows(tables(tmp_path)))
    for key in [
        ("1 RoIAlign (avg) > RoIPool", "16", "AP"),  # no gain
        ("2 RoIWarp (max) ≈ RoIPool", "16", "AP"),  # warp 3 AP above pool
        ("2 RoIAlign (max) ≫ RoIWarp (max)", "16", "AP"),  # align only 0.2 above warp
        ("3 RoIAlign avg ≈ max", "16", "AP"),  # avg 3.2 below max
        ("4 RoIAlign's gain over RoIPool grows with the stride", "32 vs 16", "AP"),
    ]:
        assert claims[key]["verdict"] == "not reproduced", key


def test_missing_rows_and_single_seeds_are_kept_as_inconclusive(tmp_path: Path) -> None:
    write_sweep(tmp_path, 16, {"pool_max": 20.0, "align_avg": 24.0}, seeds=1)
    rows = claims_rows(tables(tmp_path))
    claims = by_claim(rows)
    assert all(r["verdict"] == "inconclusive" for r in rows)
    one_seed = claims[("1 RoIAlign (avg) > RoIPool", "16", "AP")]
    assert one_seed["ours"] == pytest.approx(4.0 + 0.1 - (-0.2)) and one_seed["ci_low"] is None  # + jitters
    assert claims[("2 RoIWarp (max) ≈ RoIPool", "16", "AP")]["ours"] is None  # no warp run: still a row
    assert not any(r["stride"] != "16" for r in rows)  # no stride-32 table: neither 2d claims nor claim 4


@pytest.mark.parametrize(
    ("rule", "low", "high", "expected"),
    [
        ("greater", 0.1, 3.0, "reproduced"),
        ("greater", -0.5, 0.9, "not reproduced"),  # at most a noise-sized gain
        ("greater", -0.5, 1.5, "inconclusive"),
        ("greater", -3.0, -2.0, "not reproduced"),
        ("far_greater", 0.5, 3.0, "inconclusive"),
        ("far_greater", 1.1, 3.0, "reproduced"),
        ("far_greater", 0.2, 0.8, "not reproduced"),
        ("equivalent", -0.9, 0.9, "reproduced"),
        ("equivalent", -0.5, 1.2, "inconclusive"),
        ("equivalent", 1.1, 2.0, "not reproduced"),
        ("equivalent", -2.0, -1.1, "not reproduced"),
        ("equivalent", None, None, "inconclusive"),
    ],
)
def test_verdict_rule(rule: str, low: float | None, high: float | None, expected: str) -> None:
    assert MARGIN == 1.0  # docs/claims.md fixes it; changing it is a documented decision, not a tweak
    assert verdict(rule, Estimate(0.0, low, high, (3,))) == expected  # type: ignore[arg-type]


def test_write_claims_writes_csv_and_markdown(tmp_path: Path) -> None:
    write_sweep(tmp_path / "runs", 16, PAPER_LIKE_16, seeds=3)
    out = tmp_path / "out"
    out.mkdir()
    paths = write_claims(tables(tmp_path / "runs"), out)
    assert [p.name for p in paths] == ["claims.csv", "claims.md"]
    with (out / "claims.csv").open(newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    assert tuple(records[0]) == COLUMNS and len(records) == 2 + 8 + 4  # stride 16 only: no claim 4
    first = records[0]
    assert (first["claim"], first["stride"], first["metric"], first["paper"]) == ("1 RoIAlign (avg) > RoIPool", "16", "AP", "3.4")
    markdown = (out / "claims.md").read_text(encoding="utf-8")
    assert "| 1 RoIAlign (avg) > RoIPool | 16 | AP | +4." in markdown and "| 3 | **reproduced** |" in markdown


def test_v2_rulebook_widens_only_the_equivalence_margin() -> None:
    """docs/claims.md's v2: 1.0 AP x the pilot's stride-16 RoIAlign gain over the paper's (11.0 / 3.4, 16.2 / 5.1)."""
    v1, v2 = RULEBOOKS["v1"], RULEBOOKS["v2"]
    assert v2.margin_for("equivalent", "AP") == pytest.approx(11.0 / 3.4)
    assert v2.margin_for("equivalent", "AP75") == pytest.approx(16.2 / 5.1)
    assert v2.margin_for("far_greater", "AP") == v2.margin_for("equivalent", "APbb") == v1.margin_for("equivalent", "AP") == MARGIN


def test_v2_decides_an_equivalence_that_v1_cannot(tmp_path: Path) -> None:
    """RoIWarp 2 AP above RoIPool with little noise: outside v1's ±1 (not reproduced), inside v2's ±3.2."""
    write_sweep(tmp_path, 16, {**PAPER_LIKE_16, "warp_max": 22.0})
    built = tables(tmp_path)
    verdicts = {rules: {(r.claim, r.metric): r.verdict for r in evaluate_claims(built, RULEBOOKS[rules])} for rules in RULEBOOKS}
    key = ("2 RoIWarp (max) ≈ RoIPool", "AP")
    assert (verdicts["v1"][key], verdicts["v2"][key]) == ("not reproduced", "reproduced")
    assert verdicts["v1"][("1 RoIAlign (avg) > RoIPool", "AP")] == verdicts["v2"][("1 RoIAlign (avg) > RoIPool", "AP")]
