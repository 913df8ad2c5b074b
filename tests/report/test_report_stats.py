"""Paired statistics: the t quantile against closed forms and tables, intervals by hand."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from roi_ablation.report.collect import ReportError
from roi_ablation.report.stats import (
    gain_difference,
    mean_interval,
    paired_differences,
    paired_gain,
    t_cdf,
    t_quantile,
    welch_interval,
)


@dataclass
class StandInRun:
    seed: int
    metrics: dict[str, float]
    status: str = "complete"
    path: Path = Path("run")


@dataclass
class StandInRow:
    """What the pairing reads of a table row (tests/report/test_report_claims.py uses real tables)."""

    runs: list[StandInRun]
    label: str = "RoIAlign"
    roi: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(agg="avg"))

    def by_status(self, status: str) -> list[StandInRun]:
        return [run for run in self.runs if run.status == status]


def row(values: dict[int, float], failed: tuple[int, ...] = ()) -> StandInRow:
    runs = [StandInRun(s, {"AP": v}) for s, v in values.items()]
    return StandInRow(runs + [StandInRun(s, {}, "failed") for s in failed])


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995])
def test_t_quantile_matches_the_closed_forms_of_one_and_two_degrees_of_freedom(p: float) -> None:
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)  # Cauchy
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9)


@pytest.mark.parametrize(("df", "value"), [(4, 2.776445), (10, 2.228139), (30, 2.042272), (1e7, 1.959964)])
def test_t_quantile_matches_the_published_table(df: float, value: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(value, abs=1e-6)


def test_t_quantile_is_the_inverse_of_the_cdf_also_between_integer_df() -> None:
    assert t_quantile(0.975, 4) < t_quantile(0.975, 3.5) < t_quantile(0.975, 3)
    for p in (0.025, 0.3, 0.8):
        assert t_cdf(t_quantile(p, 3.5), 3.5) == pytest.approx(p, abs=1e-12)
    assert t_quantile(0.025, 5) == -t_quantile(0.975, 5)
    with pytest.raises(ValueError, match="p must be in"):
        t_quantile(1.0, 3)


def test_mean_interval_by_hand() -> None:
    # [1, 2, 3]: mean 2, sd 1, se 1/sqrt(3), t(0.975, 2) = 4.302653 -> half-width 2.484138
    est = mean_interval([1.0, 2.0, 3.0])
    assert (est.mean, est.seeds) == (2.0, (3,))
    assert est.low == pytest.approx(2 - 2.484138, abs=1e-6) and est.high == pytest.approx(2 + 2.484138, abs=1e-6)
    one = mean_interval([4.0])
    assert (one.mean, one.low, one.high) == (4.0, None, None)
    assert mean_interval([]).mean is None


def test_welch_interval_by_hand() -> None:
    # a = [1, 2, 3]: var 1, /3; b = [1, 3, 5, 7]: var 20/3, /4 = 5/3; se = sqrt(2)
    # df = 2^2 / ((1/3)^2 / 2 + (5/3)^2 / 3) = 216/53
    est = welch_interval([1.0, 2.0, 3.0], [1.0, 3.0, 5.0, 7.0])
    half = t_quantile(0.975, 216 / 53) * math.sqrt(2)
    assert est.mean == -2.0 and est.seeds == (3, 4)
    assert (est.low, est.high) == (pytest.approx(-2 - half), pytest.approx(-2 + half))
    assert t_quantile(0.975, 5) * math.sqrt(2) < half < t_quantile(0.975, 4) * math.sqrt(2)


def test_welch_equal_samples_use_the_pooled_degrees_of_freedom() -> None:
    est = welch_interval([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])  # equal n and variance: df = 2(n - 1) = 4
    half = t_quantile(0.975, 4) * math.sqrt(2 / 3)
    assert (est.low, est.high) == (pytest.approx(1 - half), pytest.approx(1 + half))
    assert welch_interval([1.0], [0.0, 1.0]).low is None
    constant = welch_interval([2.0, 2.0], [1.0, 1.0])  # no spread at all: a point, not a division by 0
    assert (constant.low, constant.high) == (1.0, 1.0)


def test_pairing_uses_only_seeds_complete_in_both_rows() -> None:
    align = row({0: 30.0, 1: 24.0, 2: 41.0, 5: 99.0}, failed=(3,))
    pool = row({0: 27.0, 1: 22.0, 2: 37.0, 3: 50.0})
    assert paired_differences(align, pool, "AP") == [3.0, 2.0, 4.0]
    est = paired_gain(align, pool, "AP")  # the seed-to-seed spread (22-41) cancels: sd 1
    assert est.mean == 3.0 and est.seeds == (3,)
    assert est.high - est.low == pytest.approx(2 * 2.484138, abs=1e-6)
    assert paired_differences(align, pool, "AP75") == []


def test_two_complete_runs_of_one_seed_cannot_be_paired() -> None:
    twice = row({0: 30.0})
    twice.runs.append(StandInRun(0, {"AP": 31.0}, path=Path("elsewhere")))
    with pytest.raises(ReportError, match="two complete runs with seed 0"):
        paired_differences(twice, row({0: 27.0}), "AP")


def test_gain_difference_pairs_within_each_table_and_compares_across() -> None:
    # stride 32 gains: [6, 8, 7]; stride 16 gains: [3, 2, 4] -> Welch of the two gain lists
    high = gain_difference(
        row({0: 30.0, 1: 33.0, 2: 35.0}), row({0: 24.0, 1: 25.0, 2: 28.0}),
        row({0: 30.0, 1: 24.0, 2: 41.0}), row({0: 27.0, 1: 22.0, 2: 37.0}),
        "AP",
    )
    assert high == welch_interval([6.0, 8.0, 7.0], [3.0, 2.0, 4.0])
    assert high.mean == 4.0 and high.seeds == (3, 3)
