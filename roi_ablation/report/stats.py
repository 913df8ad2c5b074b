"""Paired inference over seeds: mean differences with 95% t intervals (no scipy needed).

With the same seed every row starts from the same weights and sees the same batches
(tests/engine/test_engine_pairing.py), so a row's gain over another is estimated from the
per-seed differences, which cancel the seed's own luck. Two tables (strides) share no
model, so a difference of their gains compares independent samples: Welch's interval.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roi_ablation.report.collect import ReportError

if TYPE_CHECKING:  # tables.py computes its gains with these functions
    from roi_ablation.report.tables import Row

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A mean (difference) and its two-sided 95% t interval.

    `seeds` counts the values behind it: `(n,)` for paired differences, `(n_a, n_b)` for
    Welch. `mean` is None with no values; `low`/`high` are None when a sample has fewer
    than two values, where no interval exists.
    """

    mean: float | None
    low: float | None
    high: float | None
    seeds: tuple[int, ...]


def t_cdf(t: float, df: float) -> float:
    """Student's t distribution function, from the regularized incomplete beta function."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be > 0; got {df}")
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The inverse of `t_cdf` (exact to float precision, by bisection): any df > 0."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1); got {p}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, 2 * high
    for _ in range(200):
        mid = (low + high) / 2
        if mid in (low, high):
            break
        low, high = (mid, high) if t_cdf(mid, df) < p else (low, mid)
    return (low + high) / 2


def mean_interval(values: Sequence[float]) -> Estimate:
    """The mean of `values` with its one-sample t interval."""
    n = len(values)
    if n == 0:
        return Estimate(None, None, None, (0,))
    mean = statistics.fmean(values)
    if n < 2:
        return Estimate(mean, None, None, (n,))
    half = _critical(n - 1) * statistics.stdev(values) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, (n,))


def welch_interval(a: Sequence[float], b: Sequence[float]) -> Estimate:
    """mean(a) - mean(b) for independent samples, with Welch's interval (unequal variances)."""
    seeds = (len(a), len(b))
    if not a or not b:
        return Estimate(None, None, None, seeds)
    mean = statistics.fmean(a) - statistics.fmean(b)
    if min(seeds) < 2:
        return Estimate(mean, None, None, seeds)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return Estimate(mean, mean, mean, seeds)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))  # Welch-Satterthwaite
    half = _critical(df) * se
    return Estimate(mean, mean - half, mean + half, seeds)


def paired_differences(row: Row, base: Row, metric: str) -> list[float]:
    """`row - base` in `metric` for each seed complete in both rows, in seed order."""
    ours, theirs = _by_seed(row, metric), _by_seed(base, metric)
    return [ours[seed] - theirs[seed] for seed in sorted(ours.keys() & theirs.keys())]


def paired_gain(row: Row, base: Row, metric: str) -> Estimate:
    """The gain of `row` over `base`: the mean of the per-seed differences, with its interval."""
    return mean_interval(paired_differences(row, base, metric))


def gain_difference(row_a: Row, base_a: Row, row_b: Row, base_b: Row, metric: str) -> Estimate:
    """(row_a - base_a) - (row_b - base_b), each gain paired by seed within its own table,
    the two tables' per-seed gains compared as independent samples (Welch)."""
    return welch_interval(paired_differences(row_a, base_a, metric), paired_differences(row_b, base_b, metric))


def _by_seed(row: Row, metric: str) -> dict[int, float]:
    """The complete runs' values by seed; two complete runs of one seed cannot be paired."""
    values: dict[int, float] = {}
    for run in row.by_status("complete"):
        if run.seed is None or metric not in run.metrics:
            continue
        if run.seed in values:
            paths = ", ".join(str(r.path) for r in row.by_status("complete") if r.seed == run.seed)
            raise ReportError(
                f"{row.label} ({row.roi.agg}) has two complete runs with seed {run.seed} ({paths}); "
                "pairing needs one run per seed: pass only one of these directories"
            )
        values[run.seed] = run.metrics[metric]
    return values


def _critical(df: float) -> float:
    return t_quantile(0.5 + CONFIDENCE / 2, df)


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b), by its continued fraction (Numerical Recipes 6.4)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1 - front * _beta_fraction(b, a, 1 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), evaluated by the modified Lentz method."""
    tiny, eps = 1e-300, 1e-16
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < eps:
            break
    return result
