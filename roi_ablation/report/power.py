"""Power planning: how many seeds each comparison needs for a decision, and what they cost.

The sweep is read as a pilot. For every claim row (claims.py) and every extra row against
the baseline, its per-seed differences give an effect and a spread; if those were the
truth, `seeds` is the fewest seeds at which the 95% interval decides (the claim's verdict
is reproduced or not reproduced; an extra row's interval is above 0, below 0 or inside
± the rulebook's margin) with 80% probability. A new sweep must use seeds never used before, so its
cost is that many seeds of every row compared: CPU hours from the runs' measured
train + eval seconds, GPU hours at the paper's schedule from a `gpu_check.json`'s
measured s/iter, when there is one. The pilot's effect is an estimate, so these are
plans, not promises: a rerun with more seeds is what decides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from roi_ablation.report.claims import CLAIMS, RULEBOOKS, Question, Rulebook, decision_power, table_groups
from roi_ablation.report.paper import PAPER_IMAGES_PER_ITER, PAPER_ITERATIONS
from roi_ablation.report.render import display_path, write_csv_and_markdown
from roi_ablation.report.stats import Pilot, paired_differences, seeds_needed
from roi_ablation.report.tables import Row, Table

TARGET = 0.8
MAX_SEEDS = 10_000  # beyond this a plan is "not reachable", whatever the pilot says
GPU_CHECK = Path("outputs/gpu_check/gpu_check.json")
EXTRA_METRICS = ("AP", "AP75")  # the claims' metrics, for the rows beyond the paper
COLUMNS = ("comparison", "stride", "metric", "rule", "pilot_seeds", "effect", "sd", "power", "seeds",
           "cpu_hours", "gpu_hours", "note")


@dataclass(frozen=True)
class StepTime:
    """One gpu_check training measurement: seconds per iteration at `images_per_iter` images."""

    s_per_iter: float
    images_per_iter: int

    def gpu_hours(self, seeds: int) -> float:
        """`seeds` runs of the paper's schedule, the iterations scaled to its 16 images per step."""
        return seeds * PAPER_ITERATIONS * (PAPER_IMAGES_PER_ITER / self.images_per_iter) * self.s_per_iter / 3600


@dataclass(frozen=True)
class GpuCheck:
    """Measured step times by (model preset, variant key); `note` says why there are none."""

    steps: dict[tuple[str, str], StepTime]
    note: str | None = None


def read_gpu_check(path: Path) -> GpuCheck:
    """The `training` entries of a gpu_check.json; an absent or unreadable file is a note, not an error."""
    if not path.is_file():
        return GpuCheck({}, f"no {display_path(path)}: GPU hours not projected (scripts/gpu_check.py writes it)")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["training"]
        steps = {(str(e["model"]), str(e["variant"])): StepTime(float(e["s_per_iter"]), int(e["images_per_iter"]))
                 for e in entries if e.get("variant") is not None}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        return GpuCheck({}, f"{display_path(path)} has no readable 'training' list ({type(err).__name__}: {err}): "
                            "GPU hours not projected")
    return GpuCheck(steps)


@dataclass(frozen=True)
class Plan:
    """One row of power.csv: a comparison's pilot, its power now, and the seeds and hours a decision needs."""

    comparison: str
    stride: str
    metric: str
    rule: Question
    pilot_seeds: int
    pilot: Pilot | None
    power: float | None
    seeds: int | None
    cpu_hours: float | None
    gpu_hours: float | None
    note: str

    def record(self) -> dict[str, object]:
        effect, sd = (self.pilot.mean, self.pilot.sd) if self.pilot else (None, None)
        values = (self.comparison, self.stride, self.metric, self.rule, self.pilot_seeds, effect, sd, self.power,
                  self.seeds, self.cpu_hours, self.gpu_hours, self.note)
        return dict(zip(COLUMNS, values, strict=True))


def plan(tables: list[Table], gpu: GpuCheck, rules: Rulebook = RULEBOOKS["v1"]) -> list[Plan]:
    """A plan for every claim row, then for every extra row of each table against its baseline,
    each decided by ``rules``' margin for its rule and metric."""
    where = {id(row): table for table in tables for row in table.rows}
    plans: list[Plan] = []
    for claim in CLAIMS:
        for group, suffix in table_groups(claim.effect, tables):
            rows = claim.effect.rows(group) or []
            for metric in claim.metrics:
                plans.append(_plan(claim.text + suffix, claim.effect.stride(), metric, claim.rule,
                                   claim.effect.samples(group, metric), rows, where, gpu, rules.margin_for(claim.rule, metric)))
    for table in tables:
        base = table.base
        several = sum(t.layout.stride == table.layout.stride for t in tables) > 1
        for row in table.rows:
            if row.paper is not None or base is None or row is base:
                continue
            name = f"{row.variant} - {base.variant}" + (f" ({table.stem})" if several else "")
            for metric in EXTRA_METRICS:
                samples = [paired_differences(row.by_seed(metric), base.by_seed(metric))]
                plans.append(_plan(name, str(table.layout.stride), metric, "compared", samples, [row, base], where, gpu,
                                   rules.margin_for("compared", metric)))
    return plans


def _plan(name: str, stride: str, metric: str, rule: Question, samples: list[list[float]], rows: list[Row],
          where: dict[int, Table], gpu: GpuCheck, margin: float) -> Plan:
    pilot = Pilot.of(samples)
    have = min(len(s) for s in samples)
    if pilot is None:
        return Plan(name, stride, metric, rule, have, None, None, None, None, None,
                    "needs 2+ seeds paired in every row compared")
    notes = ["no spread in the pilot: planned as noiseless"] if pilot.sd == 0 else []
    seeds = seeds_needed(lambda n: decision_power(rule, pilot, n, margin), TARGET, MAX_SEEDS)
    if seeds is None:
        notes.append(f"not reached by {MAX_SEEDS} seeds: the pilot's effect sits on a decision bound")
    per_seed = [t for row in rows if (t := row.seconds_per_run) is not None]
    cpu = seeds * sum(per_seed) / 3600 if seeds is not None and len(per_seed) == len(rows) else None
    gpu_hours, gpu_note = _gpu_hours(seeds, rows, where, gpu)
    notes += [gpu_note] if gpu_note else []
    return Plan(name, stride, metric, rule, have, pilot, decision_power(rule, pilot, have, margin), seeds, cpu, gpu_hours,
                "; ".join(notes))


def _gpu_hours(seeds: int | None, rows: list[Row], where: dict[int, Table], gpu: GpuCheck) -> tuple[float | None, str]:
    """Hours of `seeds` runs of each row at the paper's scale; or None and what is missing."""
    if gpu.note:
        return None, ""  # said once, above the table
    missing, hours = [], 0.0
    for row in rows:
        model = where[id(row)].layout.model
        step = gpu.steps.get((model or "", row.variant))
        if step is None:
            missing.append(f"{model or 'no paper model'} {row.variant}")
        elif seeds is not None:
            hours += step.gpu_hours(seeds)
    if missing:
        return None, f"no gpu_check entry for {', '.join(missing)}"
    return (hours if seeds is not None else None), ""


def write_power(plans: list[Plan], gpu: GpuCheck, out: Path, rules: Rulebook = RULEBOOKS["v1"]) -> list[Path]:
    """Write `out/power.csv` and `out/power.md`; return their paths."""
    return write_csv_and_markdown(out, "power", COLUMNS, (p.record() for p in plans), render_power(plans, gpu, rules))


def render_power(plans: list[Plan], gpu: GpuCheck, rules: Rulebook = RULEBOOKS["v1"]) -> str:
    """The plans as a Markdown section, with what each number assumes."""
    lines = [
        "# Seeds for a decision (power planning)",
        "",
        f"This sweep as a pilot: if each effect and its per-seed sd were what it measured, `seeds` is the fewest "
        f"seeds at which the 95% interval decides with {TARGET:.0%} probability ({rules.describe()}, "
        "docs/claims.md: a claim reproduced or not reproduced; an extra row's gain above 0, below 0 or inside "
        "± the margin). `power`: that probability at the pilot's own seeds. Cost: `seeds` new seeds of every row "
        "compared; CPU hours from the runs' measured train + eval seconds, GPU hours at the paper's "
        f"{PAPER_ITERATIONS:,} iterations of {PAPER_IMAGES_PER_ITER} images from gpu_check's measured s/iter.",
        "",
    ]
    if gpu.note:
        lines += [gpu.note + ".", ""]
    lines += ["| comparison | stride | metric | rule | pilot seeds | effect ± sd | power | seeds | CPU h | GPU h | note |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in plans:
        effect = f"{p.pilot.mean:+.2f} ± {p.pilot.sd:.2f}" if p.pilot else "–"
        cells = [p.comparison, p.stride, p.metric, p.rule, str(p.pilot_seeds), effect, _number(p.power, ".2f"),
                 "–" if p.seeds is None else str(p.seeds), _number(p.cpu_hours, ",.2f"), _number(p.gpu_hours, ",.0f"), p.note]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _number(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)
