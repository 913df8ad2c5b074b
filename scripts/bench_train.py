"""Training and evaluation throughput (images/s) and peak memory of one configuration.

Takes the same overrides as `roi-ablation-train` (default: the synthetic set, CPU);
prints one JSON line, so runs are easy to collect:

    python scripts/bench_train.py model=small_c4 roi=pool_max
    python scripts/bench_train.py --iters 20 --eval-images 32 model=small_c5 device=cuda

`--against OVERRIDE...` also measures a reference (the same overrides plus these),
alternating reference and candidate `--rounds` times, each in a fresh process (so neither
inherits the other's heap, caches or process settings such as `keep_freed_memory`), and
prints the candidate's runs per hour over the reference's. A run's seconds are projected
from the measured rates as `max_iter` steps plus one evaluation of the validation set
(`eval_period` adds one per period); checkpoints and logging are not counted. For example,
bf16 autocast against the fp32 twin of the committed sweep, and glibc's default allocator
thresholds against the ones `roi-ablation-train` sets:

    python scripts/bench_train.py --against train.amp=false -- experiment=shapes_table2c roi=align_avg train.amp=true cpu_threads=1
    python scripts/bench_train.py --against keep_freed_memory=false -- experiment=shapes_table2d roi=align_avg cpu_threads=1
"""

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

from roi_ablation.config import RootConfig, compose_config, resolve
from roi_ablation.engine.bench import benchmark
from roi_ablation.engine.distributed import resolve_device
from roi_ablation.train import apply_process_settings, build_components


def measure(overrides: list[str], args: argparse.Namespace) -> tuple[RootConfig, dict[str, Any]]:
    cfg = resolve(compose_config(["device=cpu", *overrides]))
    apply_process_settings(cfg)
    result = benchmark(cfg.train, build_components(cfg), resolve_device(cfg.device), cfg.seed,
                       args.iters, args.warmup, args.eval_images)
    return cfg, result


def run_seconds(cfg: RootConfig, result: dict[str, Any]) -> float:
    """One run of `cfg` at the measured rates: its training steps and its evaluations."""
    train = cfg.train
    evaluations = 1 + (train.max_iter - 1) // train.eval_period if train.eval_period else 1
    return (train.max_iter * train.batch_size / result["train_images_per_s"]
            + evaluations * cfg.data.num_val / result["eval_images_per_s"])


def measure_fresh(overrides: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """`measure` in a new process of this script: its JSON line."""
    command = [sys.executable, __file__, "--iters", str(args.iters), "--warmup", str(args.warmup),
               "--eval-images", str(args.eval_images), "--", *overrides]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"bench_train: {' '.join(overrides)} failed:\n{done.stderr.strip()}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=10, help="timed training iterations")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations first")
    parser.add_argument("--eval-images", type=int, default=16, help="validation images to time inference on")
    parser.add_argument("--against", nargs="+", metavar="OVERRIDE", help="the reference: the same overrides plus these")
    parser.add_argument("--rounds", type=int, default=3, help="with --against: alternations of reference and candidate")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. roi=pool_max model=small_c5")
    args = parser.parse_args()
    if not args.against:
        cfg, result = measure(args.overrides, args)
        labels = {"roi": f"{cfg.roi.method}_{cfg.roi.agg}", "model": cfg.model.name, "data": cfg.data.name}
        print(json.dumps({**labels, **result, "run_s": round(run_seconds(cfg, result), 1)}))
        return
    seconds: dict[str, list[float]] = {"reference": [], "candidate": []}
    for _ in range(args.rounds):
        for name, overrides in (("reference", [*args.overrides, *args.against]), ("candidate", args.overrides)):
            result = measure_fresh(overrides, args)
            seconds[name].append(result["run_s"])
            print(json.dumps({"config": name, **{k: result[k] for k in ("amp", "model", "train_images_per_s",
                                                                         "eval_images_per_s", "peak_rss_mb", "run_s")}}))
    reference, candidate = (statistics.median(seconds[k]) for k in ("reference", "candidate"))
    print(json.dumps({"summary": True, "reference": " ".join(args.against), "reference_run_s": round(reference, 1),
                      "candidate_run_s": round(candidate, 1), "runs_per_hour_ratio": round(reference / candidate, 3)}))


if __name__ == "__main__":
    main()
