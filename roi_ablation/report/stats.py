"""Paired inference over seeds, and how many seeds a decision needs (scipy.stats).

With the same seed every row starts from the same weights and sees the same batches
(tests/engine/test_engine_pairing.py), so a row's gain over another is estimated from the
per-seed differences, which cancel the seed's own luck. Two tables (strides) share no
model, so a difference of their gains compares independent samples: Welch's interval.

Planning reads a sweep as a pilot: if the effect and the per-seed spread were what the
pilot measured, how likely is the 95% interval at `n` seeds to land where a rule decides
(above a bound, below one, or inside two)? Those are the probabilities below; the claims'
rules combine them (`claims.decision_power`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from scipy import integrate
from scipy import stats as dist

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


def critical(df: float) -> float:
    """The t value a two-sided 95% interval with `df` degrees of freedom reaches out to."""
    return float(dist.t.ppf(0.5 + CONFIDENCE / 2, df))


def difference(a: float | None, b: float | None) -> float | None:
    """`a - b`, or None when either is unknown (a paper value a table does not print)."""
    return None if a is None or b is None else a - b


def mean_interval(values: Sequence[float]) -> Estimate:
    """The mean of `values` with its one-sample t interval."""
    n = len(values)
    if n == 0:
        return Estimate(None, None, None, (0,))
    mean = statistics.fmean(values)
    if n < 2:
        return Estimate(mean, None, None, (n,))
    half = critical(n - 1) * statistics.stdev(values) / math.sqrt(n)
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
    half = critical(_welch_df((va, vb), (len(a), len(b)))) * se
    return Estimate(mean, mean - half, mean + half, seeds)


def interval(samples: Sequence[Sequence[float]]) -> Estimate:
    """One sample: its mean's interval; two: Welch's interval of their difference."""
    return mean_interval(samples[0]) if len(samples) == 1 else welch_interval(*samples)


def paired_differences(ours: Mapping[int, float], theirs: Mapping[int, float]) -> list[float]:
    """`ours - theirs` for each seed both have, in seed order."""
    return [ours[seed] - theirs[seed] for seed in sorted(ours.keys() & theirs.keys())]


@dataclass(frozen=True)
class Pilot:
    """An effect as a sweep measured it, for planning: its mean and the per-seed sd of each sample.

    One sample: paired per-seed differences, so `n` seeds give an interval with `n - 1`
    degrees of freedom. Two: Welch's difference of two independent samples, `n` seeds each
    (Welch-Satterthwaite degrees of freedom, so its probabilities are approximations).
    """

    mean: float
    sds: tuple[float, ...]

    @classmethod
    def of(cls, samples: Sequence[Sequence[float]]) -> Pilot | None:
        """The pilot of `interval(samples)`'s effect; None while a sample has under two values."""
        if not samples or min(len(s) for s in samples) < 2:
            return None
        means = [statistics.fmean(s) for s in samples]
        mean = means[0] if len(samples) == 1 else means[0] - means[1]
        return cls(mean, tuple(statistics.stdev(s) for s in samples))

    @property
    def sd(self) -> float:
        """The spread one seed (per sample) adds to the effect: sd of its per-seed estimate."""
        return math.sqrt(sum(s * s for s in self.sds))

    def se(self, n: int) -> float:
        return self.sd / math.sqrt(n)

    def df(self, n: int) -> float:
        return n - 1.0 if len(self.sds) == 1 else _welch_df(tuple(s * s / n for s in self.sds), (n,) * len(self.sds))


def p_low_above(bound: float, pilot: Pilot, n: int) -> float:
    """P(the interval's low end > bound) at `n` seeds: a one-sided t test's power (noncentral t)."""
    return _tail(pilot.mean - bound, pilot, n, (bound, math.inf))


def p_high_below(bound: float, pilot: Pilot, n: int) -> float:
    """P(the interval's high end < bound) at `n` seeds (noncentral t, by symmetry with `p_low_above`)."""
    return _tail(bound - pilot.mean, pilot, n, (-math.inf, bound))


def p_inside(low: float, high: float, pilot: Pilot, n: int) -> float:
    """P(low < the interval's low end and its high end < high): TOST's power for (low, high)."""
    if pilot.se(n) == 0:
        return float(low < pilot.mean < high)
    return _band(low, high, pilot, n)


def _tail(distance: float, pilot: Pilot, n: int, band: tuple[float, float]) -> float:
    """P(T > t_crit) for T noncentral t with noncentrality `distance / se`; where scipy's far
    tail is not finite (it returns nan there), the same probability by `_band`."""
    se, df = pilot.se(n), pilot.df(n)
    if se == 0:
        return float(distance > 0)
    value = float(dist.nct.sf(critical(df), df, distance / se))
    return value if math.isfinite(value) else _band(*band, pilot, n)


def _band(low: float, high: float, pilot: Pilot, n: int) -> float:
    """P(low + c s < mean estimate < high - c s), exactly (Owen's integral); either bound may be infinite.

    Given the estimated standard error `s` (distributed as `se * chi_df / sqrt(df)`), the
    estimate is normal: integrate that band's probability over `s`, up to where it closes.
    """
    se, df = pilot.se(n), pilot.df(n)
    c = critical(df)
    v_max = math.sqrt(df) * (high - low) / (2 * c * se)
    if v_max <= 0:
        return 0.0

    def band(v: float) -> float:
        half = c * se * v / math.sqrt(df)
        inside = dist.norm.cdf((high - half - pilot.mean) / se) - dist.norm.cdf((low + half - pilot.mean) / se)
        return float(inside * dist.chi.pdf(v, df))

    value, _ = integrate.quad(band, 0.0, v_max, limit=200)
    return min(max(value, 0.0), 1.0)


def seeds_needed(power: Callable[[int], float], target: float, limit: int) -> int | None:
    """The fewest seeds (two or more) whose `power` reaches `target`; None if `limit` does not.

    Doubling, then bisection: power grows with the number of seeds, so a few dozen
    evaluations find n even when it is in the thousands.
    """
    failing, n = 1, 2  # one seed gives no interval, so never a decision
    while power(n) < target:
        if n >= limit:
            return None
        failing, n = n, min(2 * n, limit)
    while n - failing > 1:
        mid = (failing + n) // 2
        failing, n = (failing, mid) if power(mid) >= target else (mid, n)
    return n


def _welch_df(variances: tuple[float, ...], sizes: tuple[int, ...]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of independent variance estimates."""
    spread = sum(v * v / (n - 1) for v, n in zip(variances, sizes, strict=True))
    return sum(variances) ** 2 / spread if spread else float(sum(n - 1 for n in sizes))
