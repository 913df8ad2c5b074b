"""Turn runs into tables in the paper's layout: one builder, parametrised by a `Layout`.

Runs are grouped by (data, stride, model, iterations): a table compares RoI layers under
one training setup, and averaging a 300-iteration run with a 3000-iteration one would be
meaningless. Within a table a row is one RoI-layer variant; its value is the mean over
its complete seeds, and its failed or missing seeds are counted in `status`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import NamedTuple

from roi_ablation.report.collect import ReportError, Run
from roi_ablation.report.paper import (
    DEFAULT_BASELINE,
    Layout,
    PaperRow,
    label,
    layout_for,
    matches_key,
    paper_row,
    preset_settings,
)
from roi_ablation.report.stats import Estimate, difference, interval, paired_differences
from roi_ablation.roi import REGISTRY
from roi_ablation.roi.settings import RoISettings


class TableKey(NamedTuple):
    """The training setup a table holds fixed."""

    data: str | None
    stride: int | None
    model: str | None
    iterations: int | None


@dataclass
class Row:
    """One RoI-layer variant of a table and the runs behind it."""

    roi: RoISettings
    paper: PaperRow | None
    runs: list[Run] = field(default_factory=list)
    gain: dict[str, float] = field(default_factory=dict)
    gain_ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    paper_gain: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return label(self.roi)

    @property
    def variant(self) -> str:
        return self.roi.variant_key()

    def by_status(self, status: str) -> list[Run]:
        return [run for run in self.runs if run.status == status]

    @property
    def mean(self) -> dict[str, float]:
        return {m: statistics.fmean(v) for m, v in self._values().items()}

    @property
    def std(self) -> dict[str, float]:
        """Sample standard deviation over seeds (undefined, so absent, for one seed)."""
        return {m: statistics.stdev(v) for m, v in self._values().items() if len(v) > 1}

    @property
    def status(self) -> str:
        if not self.runs:
            return "not run"
        parts = [f"{len(self.by_status('complete'))}/{len(self.runs)} complete"]
        parts += [f"{len(self.by_status(s))} {s}" for s in ("failed", "interrupted", "missing") if self.by_status(s)]
        return ", ".join(parts)

    def by_seed(self, metric: str) -> dict[int, float]:
        """The complete runs' values by seed; two complete runs of one seed cannot be paired."""
        values: dict[int, float] = {}
        for run in self.by_status("complete"):
            seed = run.record.seed
            if seed is None or metric not in run.metrics:
                continue
            if seed in values:
                paths = ", ".join(str(r.path) for r in self.by_status("complete") if r.record.seed == seed)
                raise ReportError(
                    f"{self.label} ({self.roi.agg}) has two complete runs with seed {seed} ({paths}); "
                    "pairing needs one run per seed: pass only one of these directories"
                )
            values[seed] = run.metrics[metric]
        return values

    @property
    def seconds_per_run(self) -> float | None:
        """Mean measured train + eval seconds of the complete runs (what one more seed costs)."""
        times = [run.record.train_s + run.record.eval_s for run in self.by_status("complete")]
        return statistics.fmean(times) if times else None

    def _values(self) -> dict[str, list[float]]:
        values: dict[str, list[float]] = {}
        for run in self.by_status("complete"):
            for metric, value in run.metrics.items():
                values.setdefault(metric, []).append(value)
        return values


@dataclass
class Table:
    """One output table: a layout filled with the rows of one training setup."""

    key: TableKey
    layout: Layout
    rows: list[Row]
    stem: str
    baseline: str = DEFAULT_BASELINE  # the variant key gains are measured from (`--baseline`)
    base: Row | None = None  # its row in this table, if it has one

    @property
    def base_name(self) -> str:
        """How headings name the baseline: its row's label, "RoIPool" by default."""
        if self.base is not None:
            return self.base.label
        method, _, agg = self.baseline.partition("/")
        try:
            return label(preset_settings(method, agg))  # a METHOD/AGG key: its preset's title
        except ValueError:
            return self.baseline  # a full variant key this table has no row for

    @property
    def base_title(self) -> str:
        """The baseline with its aggregation, as the prose names it: "RoIPool (max)" by default."""
        return f"{self.base_name} ({self.baseline.split('/')[1]})"

    @property
    def runs(self) -> list[Run]:
        return [run for row in self.rows for run in row.runs]

    @property
    def columns(self) -> list[str]:
        metrics = self.layout.metrics
        return [
            *self.layout.lead_columns,
            *metrics,
            "n_seeds",
            *(f"{m}_std" for m in metrics),
            *(f"{p}_{m}" for p in ("paper", "delta", "gain") for m in metrics),
            *(f"gain_{m}_{end}" for m in metrics for end in ("low", "high")),
            *(f"paper_gain_{m}" for m in metrics),
            *self.layout.info_metrics,
            "status",
            "n_failed",
            "n_missing",
            "variant",
            *self.layout.tail_columns,
        ]

    def records(self) -> list[dict[str, object]]:
        """One dict per row, keyed by `columns`; None where there is no value."""
        return [self._record(row) for row in self.rows]

    def _record(self, row: Row) -> dict[str, object]:
        mean, std = row.mean, row.std
        paper = row.paper.values if row.paper else {}
        spec = REGISTRY.get(row.roi.method)
        align, bilinear = (spec.align, spec.bilinear) if spec else (None, None)
        cells: dict[str, object] = {
            "method": row.label,
            "align": _check(align),
            "bilinear": _check(bilinear),
            "agg": row.roi.agg,
            "n_seeds": len(row.by_status("complete")),
            "status": row.status,
            "n_failed": len(row.by_status("failed")),
            "n_missing": len(row.by_status("missing")) + len(row.by_status("interrupted")),  # both resume on a rerun
            "variant": row.variant,
        }
        for m in (*self.layout.metrics, *self.layout.info_metrics):
            cells[m] = mean.get(m)
            cells[f"{m}_std"] = std.get(m)
            cells[f"paper_{m}"] = paper.get(m)
            cells[f"delta_{m}"] = difference(mean.get(m), paper.get(m))
            cells[f"gain_{m}"] = row.gain.get(m)
            cells[f"gain_{m}_low"], cells[f"gain_{m}_high"] = row.gain_ci.get(m, (None, None))
            cells[f"paper_gain_{m}"] = row.paper_gain.get(m)
        return {column: cells[column] for column in self.columns}


def build_tables(runs: list[Run], baseline: str | None = None) -> tuple[list[Table], list[Run]]:
    """Group runs into tables; also return the runs whose setup could not be determined.

    Gains are over `baseline` (a variant key, or `method/agg` for a layer's paper preset;
    default RoIPool). A baseline given but found in no table with a complete run is a
    `ReportError` listing the keys that are there.
    """
    groups: dict[TableKey, list[Run]] = {}
    unplaced: list[Run] = []
    known = {_key(run) for run in runs if None not in _key(run)}
    for run in runs:
        key = _key(run)
        if None in key:
            matches = [k for k in known if all(a in (None, b) for a, b in zip(key, k))]
            if len(matches) != 1:
                unplaced.append(run)
                continue
            key = matches[0]
        groups.setdefault(key, []).append(run)
    keys = sorted(groups, key=lambda k: (k.stride, k.data, k.model, k.iterations))
    stems = _stems(keys)
    tables = [_build(key, groups[key], stems[key], baseline or DEFAULT_BASELINE) for key in keys]
    if baseline is not None and tables and not any(t.base and t.base.by_status("complete") for t in tables):
        available = sorted({row.variant for t in tables for row in t.rows if row.by_status("complete")})
        raise ReportError(f"baseline {baseline!r} names no row with a complete run; the rows' variant keys: "
                          f"{', '.join(available)} (or METHOD/AGG for a layer's paper preset, e.g. pool/max)")
    return tables, unplaced


def paired_gain(row: Row, base: Row, metric: str) -> Estimate:
    """The gain of `row` over `base`: the mean of the per-seed differences, with its interval."""
    return interval([paired_differences(row.by_seed(metric), base.by_seed(metric))])


def _layout(key: TableKey) -> Layout:
    assert key.stride is not None, "build_tables places a run only under a complete key"
    return layout_for(key.stride)


def _build(key: TableKey, runs: list[Run], stem: str, baseline: str) -> Table:
    layout = _layout(key)
    by_variant: dict[RoISettings, Row] = {}
    for run in runs:
        roi = run.record.roi.normalized()
        by_variant.setdefault(roi, Row(roi, paper_row(layout, roi))).runs.append(run)
    rows: list[Row] = []
    for paper in layout.paper_rows:
        matched = [r for r in by_variant.values() if r.paper is paper]
        matched.sort(key=lambda r: paper.aggs.index(r.roi.agg))
        rows += matched or [Row(preset_settings(paper.method, paper.aggs[0]), paper)]
    extras = [r for r in by_variant.values() if r.paper is None]
    extras.sort(key=lambda r: (_order(r.roi), r.roi.method, r.variant))
    rows += extras
    base = next((r for r in rows if matches_key(r.roi, baseline)), None)
    _fill_gains(rows, layout, base)
    return Table(key=key, layout=layout, rows=rows, stem=stem, baseline=baseline, base=base)


def _fill_gains(rows: list[Row], layout: Layout, base: Row | None) -> None:
    """Gains over `base`: ours paired by seed (mean of the per-seed differences, 95% t
    interval when there are two or more seeds), the paper's over the paper's value of that row."""
    base_paper = base.paper.values if base and base.paper else {}
    for row in rows:
        paper = row.paper.values if row.paper else {}
        for m in layout.metrics:
            if base is not None and (gain := paired_gain(row, base, m)).mean is not None:
                row.gain[m] = gain.mean
                if gain.low is not None and gain.high is not None:
                    row.gain_ci[m] = (gain.low, gain.high)
            if (paper_gain := difference(paper.get(m), base_paper.get(m))) is not None:
                row.paper_gain[m] = paper_gain


def _stems(keys: list[TableKey]) -> dict[TableKey, str]:
    """File stems: data is named when several data sets are given; model and iterations
    only when they must tell apart two tables of the same data and stride."""
    several_data = len({k.data for k in keys}) > 1
    stems: dict[TableKey, str] = {}
    for key in keys:
        siblings = [k for k in keys if (k.data, k.stride) == (key.data, key.stride)]
        parts = [_layout(key).stem]
        if several_data:
            parts.append(str(key.data))
        if len({k.model for k in siblings}) > 1:
            parts.append(str(key.model))
        if len({k.iterations for k in siblings}) > 1:
            parts.append(f"it{key.iterations}")
        stems[key] = "_".join(parts)
    return stems


def _key(run: Run) -> TableKey:
    return TableKey(run.record.data, run.record.stride, run.record.model, run.iterations)


def _order(roi: RoISettings) -> int:
    """Registration order: the paper's layers first, then the ones registered after them."""
    spec = REGISTRY.get(roi.method)
    return spec.order if spec else len(REGISTRY)


def _check(flag: bool | None) -> str | None:
    return None if flag is None else ("✓" if flag else "")
