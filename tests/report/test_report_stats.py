"""Paired statistics and power: intervals by hand and against tables, power against published
values and brute-force simulation (fixed generator, loose tolerances)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from roi_ablation.report import ReportError, build_tables, collect
from roi_ablation.report.claims import decision_power, verdict
from roi_ablation.report.stats import (
    Estimate,
    Pilot,
    critical,
    interval,
    mean_interval,
    p_high_below,
    p_inside,
    p_low_above,
    paired_differences,
    seeds_needed,
    welch_interval,
)

from report_sweep import roi, write_run


@pytest.mark.parametrize(("df", "value"), [(1, 12.706205), (4, 2.776445), (10, 2.228139), (30, 2.042272), (1e7, 1.959964)])
def test_critical_value_is_the_published_two_sided_95_percent_t(df: float, value: float) -> None:
    assert critical(df) == pytest.approx(value, abs=1e-6)


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
    half = critical(216 / 53) * math.sqrt(2)
    assert est.mean == -2.0 and est.seeds == (3, 4)
    assert (est.low, est.high) == (pytest.approx(-2 - half), pytest.approx(-2 + half))
    assert critical(5) * math.sqrt(2) < half < critical(4) * math.sqrt(2)


def test_welch_equal_samples_use_the_pooled_degrees_of_freedom() -> None:
    est = welch_interval([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])  # equal n and variance: df = 2(n - 1) = 4
    half = critical(4) * math.sqrt(2 / 3)
    assert (est.low, est.high) == (pytest.approx(1 - half), pytest.approx(1 + half))
    assert welch_interval([1.0], [0.0, 1.0]).low is None
    constant = welch_interval([2.0, 2.0], [1.0, 1.0])  # no spread at all: a point, not a division by 0
    assert (constant.low, constant.high) == (1.0, 1.0)
    assert interval([[1.0, 2.0, 3.0], [0.0, 1.0, 2.0]]) == est and interval([[1.0, 2.0, 3.0]]) == mean_interval([1.0, 2.0, 3.0])


def test_pairing_uses_only_seeds_both_rows_have() -> None:
    align = {0: 30.0, 1: 24.0, 2: 41.0, 5: 99.0}
    pool = {0: 27.0, 1: 22.0, 2: 37.0, 3: 50.0}
    assert paired_differences(align, pool) == [3.0, 2.0, 4.0]
    est = mean_interval(paired_differences(align, pool))  # the seed-to-seed spread (22-41) cancels: sd 1
    assert est.mean == 3.0 and est.high - est.low == pytest.approx(2 * 2.484138, abs=1e-6)
    assert paired_differences(align, {}) == []


def test_two_complete_runs_of_one_seed_cannot_be_paired(tmp_path: Path) -> None:
    write_run(tmp_path / "a", "pool_max", roi("pool", "max"), 0, mask_ap=(20.0, 40.0, 18.0))
    write_run(tmp_path / "b", "pool_max", roi("pool", "max"), 0, mask_ap=(21.0, 40.0, 18.0))
    with pytest.raises(ReportError, match="two complete runs with seed 0"):
        build_tables(collect([tmp_path]).runs)


def test_one_sided_power_matches_the_published_paired_t_sample_size() -> None:
    """Paired t test, d = 0.5, two-sided 5%: n = 34 for 80% power, actual power 0.8078 (G*Power)."""
    pilot = Pilot(0.5, (1.0,))
    assert p_low_above(0.0, pilot, 34) == pytest.approx(0.8078, abs=1e-3)
    assert seeds_needed(lambda n: p_low_above(0.0, pilot, n), 0.8, 10_000) == 34
    assert p_high_below(0.0, Pilot(-0.5, (1.0,)), 34) == pytest.approx(p_low_above(0.0, pilot, 34))  # mirror image


def simulate(pilot_mean: float, sds: tuple[float, ...], n: int, reps: int = 40_000) -> tuple[np.ndarray, np.ndarray]:
    """The 95% interval's ends over `reps` simulated sweeps of `n` seeds (one sample: paired; two: Welch)."""
    rng = np.random.default_rng(0)
    samples = [rng.normal(0.0, sd, size=(reps, n)) for sd in sds]
    samples[0] += pilot_mean
    if len(sds) == 1:
        mean, se, df = samples[0].mean(1), samples[0].std(1, ddof=1) / math.sqrt(n), np.full(reps, n - 1.0)
    else:
        va, vb = (s.var(1, ddof=1) / n for s in samples)
        mean, se = samples[0].mean(1) - samples[1].mean(1), np.sqrt(va + vb)
        df = (va + vb) ** 2 / ((va**2 + vb**2) / (n - 1))
    half = stats.t.ppf(0.975, df) * se
    return mean - half, mean + half


@pytest.mark.parametrize(("mean", "sds", "n"), [(0.2, (1.0,), 6), (0.0, (0.8,), 12), (0.6, (1.5,), 25), (0.3, (0.6, 0.9), 8)])
def test_interval_probabilities_match_a_simulation(mean: float, sds: tuple[float, ...], n: int) -> None:
    low, high = simulate(mean, sds, n)
    pilot = Pilot(mean, sds)
    tolerance = 0.01 if len(sds) == 1 else 0.02  # Welch: Satterthwaite's approximation on top of the noise
    assert p_inside(-1.0, 1.0, pilot, n) == pytest.approx(np.mean((low > -1) & (high < 1)), abs=tolerance)
    assert p_inside(0.0, 1.0, pilot, n) == pytest.approx(np.mean((low > 0) & (high < 1)), abs=tolerance)
    assert p_low_above(0.0, pilot, n) == pytest.approx(np.mean(low > 0), abs=tolerance)
    assert p_high_below(1.0, pilot, n) == pytest.approx(np.mean(high < 1), abs=tolerance)
    assert p_inside(0.0, math.inf, pilot, n) == pytest.approx(p_low_above(0.0, pilot, n), abs=1e-6)  # integral = t tail


@pytest.mark.parametrize("rule", ["greater", "far_greater", "equivalent"])
@pytest.mark.parametrize("mean", [0.4, 1.3])
def test_decision_power_is_the_rate_at_which_the_verdict_decides(rule: str, mean: float) -> None:
    n = 8
    low, high = simulate(mean, (1.2,), n, reps=20_000)
    decided = [verdict(rule, Estimate(0.0, lo, hi, (n,))) != "inconclusive" for lo, hi in zip(low, high)]  # type: ignore[arg-type]
    assert decision_power(rule, Pilot(mean, (1.2,)), n) == pytest.approx(np.mean(decided), abs=0.015)  # type: ignore[arg-type]


def test_extra_rows_decide_above_zero_below_zero_or_inside_the_margin() -> None:
    n, mean = 10, 0.5
    low, high = simulate(mean, (1.0,), n)
    decided = (low > 0) | (high < 0) | ((low > -1) & (high < 1))
    assert decision_power("compared", Pilot(mean, (1.0,)), n) == pytest.approx(np.mean(decided), abs=0.01)


def test_seeds_needed_is_the_first_n_reaching_the_target() -> None:
    pilot = Pilot(0.1, (1.0,))
    power = lambda n: decision_power("equivalent", pilot, n)  # noqa: E731
    n = seeds_needed(power, 0.8, 10_000)
    assert n is not None and power(n) >= 0.8 > power(n - 1)
    on_the_bound = Pilot(1.0, (1.0,))  # far_greater at exactly the margin: each side stays near 2.5%
    assert seeds_needed(lambda k: decision_power("far_greater", on_the_bound, k), 0.8, 500) is None
    assert seeds_needed(lambda k: decision_power("greater", Pilot(3.0, (0.0,)), k), 0.8, 500) == 2  # no spread
    assert Pilot.of([[1.0]]) is None and Pilot.of([[1.0, 3.0], [0.0, 0.0]]) == Pilot(2.0, (math.sqrt(2), 0.0))
