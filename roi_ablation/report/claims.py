"""The paper's four claims about RoI layers as data: effect, 95% interval, paper value, verdict.

Each claim is a set of comparisons between rows of Tables 2c / 2d (a gain of one layer
over another, paired by seed, or for claim 4 the growth of a gain from stride 16 to 32).
The verdict is computed from the interval by the rule in docs/claims.md, fixed before
the sweep: `MARGIN` and the three rules below are that document's, in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from roi_ablation.report.paper import TABLE_2C, TABLE_2D, Layout
from roi_ablation.report.render import write_csv_and_markdown
from roi_ablation.report.stats import Estimate, Pilot, difference, interval, p_high_below, p_inside, p_low_above, paired_differences
from roi_ablation.report.tables import Row, Table

COLUMNS = ("claim", "stride", "metric", "ours", "ci_low", "ci_high", "paper", "verdict")

#: Equivalence margin in AP points ("close", "within noise", "far"): see docs/claims.md.
MARGIN = 1.0

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"

#: greater: the effect is > 0; far_greater: the effect is > MARGIN; equivalent: |effect| < MARGIN.
Rule = Literal["greater", "far_greater", "equivalent"]
#: What planning asks of a row the paper states nothing about (an extra row against the
#: baseline): that its interval decides, above 0, below 0 or inside ± MARGIN.
Question = Literal[Rule, "compared"]


@dataclass(frozen=True)
class Rulebook:
    """The margins a sweep's verdicts are judged by: docs/claims.md's v1, or its pre-registered v2.

    ``equivalence`` overrides ``margin`` for the ``≈`` rows (rule ``equivalent``), per metric.
    """

    name: str
    margin: float = MARGIN
    equivalence: tuple[tuple[str, float], ...] = ()

    def margin_for(self, rule: Question, metric: str) -> float:
        return dict(self.equivalence).get(metric, self.margin) if rule == "equivalent" else self.margin

    def describe(self) -> str:
        extra = "".join(f", ≈ rows in {m}: ±{v:.2f}" for m, v in self.equivalence)
        return f"rule {self.name}: margin {self.margin:g} AP point{extra}"


@dataclass(frozen=True)
class Side:
    """A paper row by layer and aggregation; agg None: whichever fills the row (2d's RoIAlign)."""

    method: str
    agg: str | None

    def find(self, table: Table) -> Row | None:
        return next(
            (
                row
                for row in table.rows
                if row.paper is not None and row.paper.method == self.method and (self.agg is None or row.roi.agg == self.agg)
            ),
            None,
        )

    def paper_value(self, layout: Layout, metric: str) -> float | None:
        row = next(r for r in layout.paper_rows if r.method == self.method and (self.agg is None or self.agg in r.aggs))
        return row.values.get(metric)


POOL = Side("pool", "max")


@dataclass(frozen=True)
class Gain:
    """`row - base` within the tables of one layout, paired by seed."""

    layout: Layout
    row: Side
    base: Side = POOL

    def stride(self) -> str:
        return str(self.layout.stride)

    def paper(self, metric: str) -> float | None:
        return difference(self.row.paper_value(self.layout, metric), self.base.paper_value(self.layout, metric))

    def rows(self, tables: tuple[Table, ...]) -> list[Row] | None:
        """The rows compared (row, base); None when the table lacks one."""
        rows = [side.find(tables[0]) for side in (self.row, self.base)]
        return None if None in rows else rows  # type: ignore[return-value]

    def samples(self, tables: tuple[Table, ...], metric: str) -> list[list[float]]:
        """The per-seed differences, one sample (empty when a row is missing)."""
        rows = self.rows(tables)
        return [paired_differences(rows[0].by_seed(metric), rows[1].by_seed(metric)) if rows else []]


@dataclass(frozen=True)
class GainGrowth:
    """How much a gain grows from the `low` layout's stride to the `high` one's (Welch)."""

    high: Gain
    low: Gain

    def stride(self) -> str:
        return f"{self.high.stride()} vs {self.low.stride()}"

    def paper(self, metric: str) -> float | None:
        return difference(self.high.paper(metric), self.low.paper(metric))

    def rows(self, tables: tuple[Table, ...]) -> list[Row] | None:
        """The four rows compared, the high stride's pair first."""
        high, low = self.high.rows(tables[:1]), self.low.rows(tables[1:])
        return high + low if high and low else None

    def samples(self, tables: tuple[Table, ...], metric: str) -> list[list[float]]:
        """Each stride's per-seed gains: two independent samples (both empty when a row is missing)."""
        if self.rows(tables) is None:
            return [[], []]
        return self.high.samples(tables[:1], metric) + self.low.samples(tables[1:], metric)


@dataclass(frozen=True)
class Claim:
    """One tested statement: a comparison, the rule its interval is judged by, the metrics."""

    text: str
    rule: Rule
    effect: Gain | GainGrowth
    metrics: tuple[str, ...] = ("AP", "AP75")


ALIGN_AVG_16, ALIGN_AVG_32 = Gain(TABLE_2C, Side("align", "avg")), Gain(TABLE_2D, Side("align", None))

CLAIMS: tuple[Claim, ...] = (
    Claim("1 RoIAlign (avg) > RoIPool", "greater", ALIGN_AVG_16),
    Claim("1 RoIAlign > RoIPool", "greater", ALIGN_AVG_32),
    Claim("2 RoIWarp (max) ≈ RoIPool", "equivalent", Gain(TABLE_2C, Side("warp", "max"))),
    Claim("2 RoIWarp (avg) ≈ RoIPool", "equivalent", Gain(TABLE_2C, Side("warp", "avg"))),
    Claim("2 RoIAlign (max) ≫ RoIWarp (max)", "far_greater", Gain(TABLE_2C, Side("align", "max"), Side("warp", "max"))),
    Claim("2 RoIAlign (avg) ≫ RoIWarp (avg)", "far_greater", Gain(TABLE_2C, Side("align", "avg"), Side("warp", "avg"))),
    Claim("3 RoIWarp avg ≈ max", "equivalent", Gain(TABLE_2C, Side("warp", "avg"), Side("warp", "max"))),
    Claim("3 RoIAlign avg ≈ max", "equivalent", Gain(TABLE_2C, Side("align", "avg"), Side("align", "max"))),
    Claim("4 RoIAlign's gain over RoIPool grows with the stride", "greater", GainGrowth(ALIGN_AVG_32, ALIGN_AVG_16), ("AP", "AP75", "APbb")),
)


#: The v1 sweep's stride-16 gain of RoIAlign (avg) over RoIPool (claims.csv, 2026-12-02), the
#: pilot that v2's margin is scaled by; fixed numbers, never recomputed from a later sweep.
PILOT_GAIN_16 = {"AP": 11.0, "AP75": 16.2}

#: v1 (docs/claims.md): one margin. v2 (pre-registered 2026-12-06): for the ≈ rows the
#: paper's margin as the same fraction of RoIAlign's stride-16 gain on the twin as in the paper.
RULEBOOKS = {
    "v1": Rulebook("v1"),
    "v2": Rulebook("v2", equivalence=tuple((metric, MARGIN * gain / paper_gain) for metric, gain in PILOT_GAIN_16.items()
                                           if (paper_gain := ALIGN_AVG_16.paper(metric)))),
}


@dataclass(frozen=True)
class ClaimResult:
    """One row of claims.csv, with the interval's seed counts kept for the Markdown."""

    claim: str
    stride: str
    metric: str
    ours: Estimate
    paper: float | None
    verdict: str

    def record(self) -> dict[str, object]:
        return dict(
            zip(
                COLUMNS,
                (self.claim, self.stride, self.metric, self.ours.mean, self.ours.low, self.ours.high, self.paper, self.verdict),
                strict=True,
            )
        )


def verdict(rule: Rule, estimate: Estimate, margin: float = MARGIN) -> str:
    """docs/claims.md's rule: the 95% interval against zero and the margin."""
    low, high = estimate.low, estimate.high
    if low is None or high is None:
        return INCONCLUSIVE
    if rule == "equivalent":
        if -margin < low and high < margin:
            return REPRODUCED
        if low > margin or high < -margin:
            return NOT_REPRODUCED
        return INCONCLUSIVE
    if low > (0.0 if rule == "greater" else margin):
        return REPRODUCED
    if high < margin:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def decision_power(rule: Question, pilot: Pilot, n: int, margin: float = MARGIN) -> float:
    """P(`verdict` decides, reproduced or not, at `n` seeds) if the effect and its noise are the pilot's.

    Each rule's outcomes are events of the interval (low end above a bound, high end below
    one, or both inside two), combined by inclusion-exclusion where they overlap.
    """
    if rule == "compared":  # above 0 and below 0 are disjoint; each overlaps "inside (-m, m)" on one side
        return (p_low_above(0.0, pilot, n) + p_high_below(0.0, pilot, n) + p_inside(-margin, margin, pilot, n)
                - p_inside(0.0, margin, pilot, n) - p_inside(-margin, 0.0, pilot, n))
    if rule == "equivalent":  # three disjoint outcomes: inside (-m, m), above m, below -m
        return p_inside(-margin, margin, pilot, n) + p_low_above(margin, pilot, n) + p_high_below(-margin, pilot, n)
    bar = 0.0 if rule == "greater" else margin  # reproduced: low > bar; not reproduced: high < margin
    return p_low_above(bar, pilot, n) + p_high_below(margin, pilot, n) - p_inside(bar, margin, pilot, n)


def evaluate_claims(tables: list[Table], rules: Rulebook = RULEBOOKS["v1"]) -> list[ClaimResult]:
    """Every claim and metric, for every table (or 2d/2c pair of tables) it applies to."""
    results: list[ClaimResult] = []
    for claim in CLAIMS:
        for group, suffix in table_groups(claim.effect, tables):
            for metric in claim.metrics:
                ours = interval(claim.effect.samples(group, metric))
                results.append(
                    ClaimResult(
                        claim.text + suffix, claim.effect.stride(), metric, ours, claim.effect.paper(metric),
                        verdict(claim.rule, ours, rules.margin_for(claim.rule, metric))
                    )
                )
    return results


def claims_rows(tables: list[Table]) -> list[dict[str, object]]:
    """claims.csv's rows: `claim,stride,metric,ours,ci_low,ci_high,paper,verdict`."""
    return [result.record() for result in evaluate_claims(tables)]


def write_claims(tables: list[Table], out: Path, rules: Rulebook = RULEBOOKS["v1"]) -> list[Path]:
    """Write `out/claims.csv` and `out/claims.md`; return their paths."""
    results = evaluate_claims(tables, rules)
    return write_csv_and_markdown(out, "claims", COLUMNS, (r.record() for r in results), render_claims(results, rules))


def render_claims(results: list[ClaimResult], rules: Rulebook = RULEBOOKS["v1"]) -> str:
    """The claims as a Markdown table, with the rule that produced each verdict."""
    lines = [
        "# The paper's claims, tested",
        "",
        "ours: mean of the per-seed differences (AP points), with its 95% t interval; claim 4: "
        "the stride-32 gain minus the stride-16 gain, Welch's interval over the two strides' "
        f"per-seed gains. Verdicts by docs/claims.md's {rules.describe()}: "
        "> needs the interval above 0, ≫ above the margin, ≈ inside ± the margin.",
        "",
        "| claim | stride | metric | ours | 95% CI | paper | seeds | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        interval = "–" if r.ours.low is None else f"[{r.ours.low:+.1f}, {r.ours.high:+.1f}]"
        cells = [r.claim, r.stride, r.metric, _signed(r.ours.mean), interval, _signed(r.paper),
                 "/".join(map(str, r.ours.seeds)), f"**{r.verdict}**"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def table_groups(effect: Gain | GainGrowth, tables: list[Table]) -> list[tuple[tuple[Table, ...], str]]:
    """The tables an effect is measured on; a suffix names them when a stride has several."""
    if isinstance(effect, Gain):
        matching = [t for t in tables if t.layout == effect.layout]
        return [((t,), f" ({t.stem})" if len(matching) > 1 else "") for t in matching]
    highs = [t for t in tables if t.layout == effect.high.layout]
    lows = [t for t in tables if t.layout == effect.low.layout]
    pairs = [(h, lo) for h in highs for lo in lows if (h.key.data, h.key.iterations) == (lo.key.data, lo.key.iterations)]
    return [((h, lo), f" ({h.stem} vs {lo.stem})" if len(pairs) > 1 else "") for h, lo in pairs]


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}"
