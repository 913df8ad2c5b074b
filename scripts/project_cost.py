"""GPU-hours of the paper-scale sweeps (`table2c`, `table2d`), per row, from each row's own measured s/iter.

The rows (the ``roi=`` values of each experiment's sweep), the seeds per row and the model
come from the experiment configs; the schedule is the paper's (``configs/train/paper.yaml``:
160k iterations at 16 images per step; 160000 and 16 where that file is absent); the
seconds per iteration of each row must be measured on the GPU you will use (this script
invents none):

    python scripts/gpu_check.py --out outputs/gpu_check      # measures every row's s/iter at 2 images per GPU
    python scripts/project_cost.py --from outputs/gpu_check/gpu_check.json
    python scripts/project_cost.py --s-per-iter r50_c4:pool_max=0.55 r50_c4:align_avg=0.50 --gpus-per-run 8

What is measured: one GPU's seconds per training iteration of one row (model and RoI
layer) at a given number of images per GPU (``gpu_check.json``'s ``training`` list).
What is projected: that a run on ``--gpus-per-run`` GPUs, each with its share of the
16-image batch, steps at that rate (data-parallel scaling without communication cost;
evaluation and checkpoints not counted), and the hours that follow.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from roi_ablation.config import CONFIG_DIR, compose_config
from roi_ablation.roi import RoISettings

EXPERIMENTS = ("table2c", "table2d")
#: The paper's schedule (Mask R-CNN, Sec. 3.1) where configs/train/paper.yaml does not say it.
PAPER_ITERATIONS, PAPER_BATCH = 160_000, 16


@dataclass(frozen=True)
class Schedule:
    iterations: int
    batch_size: int  # images per step over all GPUs
    source: str


@dataclass(frozen=True)
class Row:
    """One row of a sweep: a RoI layer on a model, run once per seed."""

    experiment: str
    model: str
    roi: str  # the roi= config name
    variant: str  # the report's key of the layer's settings
    runs: int


@dataclass(frozen=True)
class StepTime:
    """Measured seconds per iteration of one row at ``images_per_gpu`` images on one GPU."""

    seconds: float
    images_per_gpu: int | None  # None: not stated (given on the command line)
    source: str


def paper_schedule(config_dir: Path = CONFIG_DIR) -> Schedule:
    """Iterations and batch of ``train=paper``; the paper's 160k x 16 where the file does not exist."""
    path = config_dir / "train" / "paper.yaml"
    if not path.exists():
        return Schedule(PAPER_ITERATIONS, PAPER_BATCH, f"the paper's {PAPER_ITERATIONS} x {PAPER_BATCH} "
                        "(configs/train/paper.yaml not present)")
    node = yaml.safe_load(path.read_text()) or {}
    iterations, batch = int(node.get("max_iter", PAPER_ITERATIONS)), int(node.get("batch_size", PAPER_BATCH))
    return Schedule(iterations, batch, f"configs/train/paper.yaml: {iterations} iterations x {batch} images")


def sweep_rows(experiment: str) -> list[Row]:
    """The sweep's rows in its order; runs per row = the product of the other swept values (the seeds)."""
    cfg = compose_config([f"experiment={experiment}"], return_hydra_config=True)
    params = {str(k): str(v).split(",") for k, v in cfg.hydra.sweeper.params.items()}
    runs = math.prod(len(v) for k, v in params.items() if k != "roi")
    rows = []
    for roi in params["roi"]:
        node = compose_config([f"experiment={experiment}", f"roi={roi}"]).roi
        settings = RoISettings(**{k: node[k] for k in node})
        rows.append(Row(experiment, str(cfg.model.name), roi, settings.variant_key(), runs))
    return rows


def step_times_from_check(path: Path) -> tuple[dict[tuple[str, str], StepTime], list[str]]:
    """``(model, variant or "stock") -> StepTime`` from a gpu_check.json's ``training`` list, and notes on it."""
    try:
        report = json.loads(path.read_text())
        device, training = report["device"], report["training"]
        if not isinstance(training, list):
            raise TypeError("'training' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"--from {path}: not a gpu_check.json with a 'training' list ({type(error).__name__}: {error}); "
                         "write one with scripts/gpu_check.py --out DIR") from None
    source = f"measured by gpu_check on {device['name']} ({report.get('date')}, torch {device.get('torch')})"
    notes = [f"s/iter: {source}"]
    if report.get("tiny") or device.get("type") != "cuda":
        notes.append(f"WARNING: {path} is a {'--tiny ' if report.get('tiny') else ''}run on {device.get('type')}: a "
                     "rehearsal of the code path, not the paper-scale step on a GPU; the hours below mean nothing")
    times = {}
    for row in training:
        key = (str(row["model"]), "stock" if row["roi"] == "stock" else str(row["variant"]))
        times[key] = StepTime(float(row["s_per_iter"]), int(row["images_per_iter"]), source)
    return times, notes


def parse_step_times(items: list[str], rows: list[Row]) -> dict[tuple[str, str], StepTime]:
    """``MODEL:ROI=SECONDS`` items of ``--s-per-iter`` (ROI: a roi= config name, or ``stock``)."""
    variants = {(r.model, r.roi): r.variant for r in rows}
    times = {}
    for item in items:
        key, _, seconds = item.partition("=")
        model, _, roi = key.partition(":")
        try:
            value = float(seconds)
        except ValueError:
            raise ValueError(f"--s-per-iter expects MODEL:ROI=SECONDS, got {item!r}") from None
        if not roi:
            raise ValueError(f"--s-per-iter {item!r}: name the row as MODEL:ROI (e.g. r50_c4:align_avg); "
                             "each row has its own step time")
        if roi != "stock" and (model, roi) not in variants:
            raise ValueError(f"--s-per-iter {item!r}: no sweep row {model}:{roi}; rows: "
                             + ", ".join(f"{m}:{r}" for m, r in variants))
        times[(model, "stock" if roi == "stock" else variants[(model, roi)])] = StepTime(value, None,
                                                                                      "given on the command line")
    return times


@dataclass(frozen=True)
class RowCost:
    row: Row
    step: StepTime
    s_per_iter: float  # at the run's images per GPU (scaled if measured at another)
    scaled: bool
    run_hours: float  # wall time of one run on `gpus` GPUs
    gpu_hours: float  # of all the row's runs


def row_cost(row: Row, step: StepTime, schedule: Schedule, gpus: int) -> RowCost:
    """One row's cost: its own s/iter (scaled linearly to the run's images per GPU if measured at another)."""
    per_gpu = schedule.batch_size / gpus
    seconds, scaled = step.seconds, False
    if step.images_per_gpu is not None and step.images_per_gpu != per_gpu:
        seconds, scaled = step.seconds * per_gpu / step.images_per_gpu, True
    run_hours = schedule.iterations * seconds / 3600
    return RowCost(row, step, seconds, scaled, run_hours, row.runs * run_hours * gpus)


def describe(cost: RowCost, stock: StepTime | None, gpus: int, batch: int) -> str:
    r, per_gpu = cost.row, batch / gpus
    kind = (f"projected {cost.s_per_iter:.3f} s/iter (measured {cost.step.seconds:.3f} at {cost.step.images_per_gpu} "
            f"images per GPU, scaled linearly to {per_gpu:g})" if cost.scaled
            else f"measured {cost.s_per_iter:.3f} s/iter at {per_gpu:g} images per GPU")
    versus = ""
    if stock is not None and stock.images_per_gpu == cost.step.images_per_gpu:
        versus = f", {cost.step.seconds / stock.seconds:.2f}x the stock pooler's measured step"
    return (f"  {r.roi:<18} {r.variant:<32} {kind}{versus}; projected {cost.run_hours:,.1f} h per run on {gpus} GPUs, "
            f"{r.runs} runs: {cost.gpu_hours:,.0f} GPU-hours")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="check", type=Path, metavar="GPU_CHECK_JSON",
                        help="gpu_check.json written by scripts/gpu_check.py")
    parser.add_argument("--s-per-iter", nargs="*", default=[], metavar="MODEL:ROI=SECONDS",
                        help="measured seconds per training iteration of a row (whole batch of one GPU); wins over --from")
    parser.add_argument("--gpus-per-run", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the per-row projection here")
    args = parser.parse_args(argv)
    if args.gpus_per_run < 1:
        parser.error(f"--gpus-per-run must be >= 1; got {args.gpus_per_run}")
    schedule = paper_schedule()
    if schedule.batch_size % args.gpus_per_run:
        parser.error(f"the {schedule.batch_size}-image batch does not split over {args.gpus_per_run} GPUs")
    rows = [row for experiment in EXPERIMENTS for row in sweep_rows(experiment)]
    try:
        times, notes = step_times_from_check(args.check) if args.check else ({}, [])
        times.update(parse_step_times(args.s_per_iter, rows))
    except ValueError as error:
        parser.error(str(error))
    for note in notes:
        print(note)
    print(f"schedule: {schedule.source}; {args.gpus_per_run} GPUs per run, "
          f"{schedule.batch_size // args.gpus_per_run} images per GPU")
    costs, missing, total = [], [], 0.0
    for experiment in EXPERIMENTS:
        mine = [r for r in rows if r.experiment == experiment]
        print(f"{experiment}: {len(mine)} rows x {mine[0].runs} seeds of {mine[0].model}, "
              f"{schedule.iterations} iterations each")
        subtotal = 0.0
        for row in mine:
            step = times.get((row.model, row.variant))
            if step is None:
                print(f"  {row.roi:<18} {row.variant:<32} not measured (run scripts/gpu_check.py on the target GPU)")
                missing.append(f"{row.model}:{row.roi}")
                continue
            cost = row_cost(row, step, schedule, args.gpus_per_run)
            print(describe(cost, times.get((row.model, "stock")), args.gpus_per_run, schedule.batch_size))
            costs.append(cost)
            subtotal += cost.gpu_hours
        unmeasured = sum(1 for r in mine if (r.model, r.variant) not in times)
        print(f"  {experiment} (projected): {subtotal:,.0f} GPU-hours"
              + (f" ({unmeasured} rows not measured, not counted)" if unmeasured else ""))
        total += subtotal
    if costs:
        print(f"total (projected): {total:,.0f} GPU-hours over {len(costs)} measured rows"
              + (f"; not measured: {', '.join(missing)}" if missing else ""))
    if args.json:
        args.json.write_text(json.dumps({
            "schedule": vars(schedule), "gpus_per_run": args.gpus_per_run, "notes": notes, "missing": missing,
            "rows": [{"experiment": c.row.experiment, "model": c.row.model, "roi": c.row.roi, "variant": c.row.variant,
                      "runs": c.row.runs, "measured_s_per_iter": c.step.seconds,
                      "measured_images_per_gpu": c.step.images_per_gpu, "s_per_iter": round(c.s_per_iter, 6),
                      "scaled": c.scaled, "run_hours": round(c.run_hours, 3), "gpu_hours": round(c.gpu_hours, 3),
                      "source": c.step.source} for c in costs],
            "total_gpu_hours": round(total, 3)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
