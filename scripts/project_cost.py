"""GPU-hours and wall time of the paper-scale sweeps (`table2c`, `table2d`) from measured step times.

The number of runs, iterations and images per step come from the experiment configs; the
seconds per iteration must be measured on the GPU you will use (this script invents none):

    python scripts/gpu_check.py --out outputs/gpu_check          # measures s/iter at 2 images per GPU
    python scripts/project_cost.py --from outputs/gpu_check/gpu_check.json
    python scripts/project_cost.py --s-per-iter r50_c4=0.55 r50_c5=0.40 --gpus-per-run 8

What is measured: one GPU's seconds per training iteration at a given number of images
per GPU. What is projected: that a run on ``--gpus-per-run`` GPUs, each with its share of
the experiment's batch, steps at that rate (data-parallel scaling without communication
cost; evaluation and checkpoints not counted), and the hours that follow.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from roi_ablation.config import compose_config

EXPERIMENTS = ("table2c", "table2d")


@dataclass(frozen=True)
class Sweep:
    experiment: str
    model: str
    runs: int
    iterations: int
    batch_size: int  # images per step over all GPUs


@dataclass(frozen=True)
class StepTime:
    """Measured seconds per iteration of one preset at ``images_per_gpu`` images on one GPU."""

    seconds: float
    images_per_gpu: int | None  # None: not stated (given on the command line)
    source: str


def sweep_size(experiment: str) -> Sweep:
    """The experiment's sweep: model preset, number of runs, iterations and batch of each run."""
    cfg = compose_config([f"experiment={experiment}"], return_hydra_config=True)
    runs = 1
    for values in cfg.hydra.sweeper.params.values():
        runs *= len(str(values).split(","))
    return Sweep(experiment, str(cfg.model.name), runs, int(cfg.train.max_iter), int(cfg.train.batch_size))


def step_times_from_check(path: Path) -> tuple[dict[str, StepTime], list[str]]:
    """Our pooler's s/iter per preset from a gpu_check.json, and lines saying what it is."""
    try:
        report = json.loads(path.read_text())
        device, training = report["device"], report["items"]["training"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"--from {path}: not a gpu_check.json ({type(error).__name__}: {error}); "
                         "write one with scripts/gpu_check.py --out DIR") from None
    source = f"measured by gpu_check on {device['name']} ({report['date']}, torch {device['torch']})"
    notes = [f"s/iter: {source}"]
    if report.get("tiny") or device["type"] != "cuda":
        notes.append(f"WARNING: {path} is a {'--tiny ' if report.get('tiny') else ''}run on {device['type']}: a code-path "
                     "check at toy sizes, not the paper-scale step; the hours below mean nothing")
    times = {}
    for row in training.get("rows", []):
        if not row["pooler"].startswith("ours"):
            continue
        if row["status"] == "measured":
            times[row["model"]] = StepTime(float(row["s_per_iter"]), int(row["images_per_iter"]), source)
        else:
            notes.append(f"{row['model']}: not measured ({row['status']}: {row.get('reason')})")
    return times, notes


def parse_step_times(items: list[str]) -> dict[str, StepTime]:
    """``MODEL=SECONDS`` items of ``--s-per-iter``."""
    times = {}
    for item in items:
        model, _, seconds = item.partition("=")
        try:
            times[model] = StepTime(float(seconds), None, "given on the command line")
        except ValueError:
            raise ValueError(f"--s-per-iter expects MODEL=SECONDS, got {item!r}") from None
    return times


def project(sweep: Sweep, step: StepTime, gpus: int) -> tuple[list[str], float]:
    """What one sweep costs, each figure marked measured or projected; and its GPU-hours."""
    per_gpu = sweep.batch_size / gpus
    seconds, lines = step.seconds, []
    if step.images_per_gpu is not None and step.images_per_gpu != per_gpu:
        seconds *= per_gpu / step.images_per_gpu
        lines.append(f"  projected: {step.seconds:.3f} s/iter measured at {step.images_per_gpu} images per GPU, "
                     f"scaled linearly to {per_gpu:g} ({sweep.batch_size} over {gpus} GPUs): {seconds:.3f} s/iter")
    else:
        lines.append(f"  measured: {seconds:.3f} s/iter at {per_gpu:g} images per GPU ({step.source})")
    run_hours = sweep.iterations * seconds / 3600
    gpu_hours = sweep.runs * run_hours * gpus
    lines += [
        f"  projected: {run_hours:,.1f} h wall time per run on {gpus} GPUs (no communication cost, no evaluation)",
        f"  projected: {sweep.runs} runs one after another: {sweep.runs * run_hours:,.0f} h "
        f"({sweep.runs * run_hours / 24:,.1f} days) wall time, {gpu_hours:,.0f} GPU-hours",
    ]
    return lines, gpu_hours


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="check", type=Path, metavar="GPU_CHECK_JSON",
                        help="gpu_check.json written by scripts/gpu_check.py")
    parser.add_argument("--s-per-iter", nargs="*", default=[], metavar="MODEL=SECONDS",
                        help="measured seconds per training iteration of each preset (whole batch of one GPU)")
    parser.add_argument("--gpus-per-run", type=int, default=8)
    args = parser.parse_args(argv)
    if args.gpus_per_run < 1:
        parser.error(f"--gpus-per-run must be >= 1; got {args.gpus_per_run}")
    try:
        times, notes = step_times_from_check(args.check) if args.check else ({}, [])
        times.update(parse_step_times(args.s_per_iter))  # the command line wins
    except ValueError as error:
        parser.error(str(error))
    for note in notes:
        print(note)
    total = 0.0
    for experiment in EXPERIMENTS:
        sweep = sweep_size(experiment)
        print(f"{experiment}: {sweep.runs} runs x {sweep.iterations} iterations of {sweep.model}, "
              f"{sweep.batch_size} images per step")
        if sweep.model not in times:
            print(f"  no measured s/iter for {sweep.model} (run scripts/gpu_check.py on the target GPU)")
            continue
        if sweep.batch_size % args.gpus_per_run:
            parser.error(f"{experiment}: batch {sweep.batch_size} does not split over {args.gpus_per_run} GPUs")
        lines, gpu_hours = project(sweep, times[sweep.model], args.gpus_per_run)
        print("\n".join(lines))
        total += gpu_hours
    if total:
        print(f"total (projected): {total:,.0f} GPU-hours")
    return 0


if __name__ == "__main__":
    sys.exit(main())
