"""GPU-hours to run the paper-scale sweeps (`table2c`, `table2d`) from measured step times.

The number of runs and iterations comes from the experiment configs; the seconds per
iteration must be measured on the GPU you will use (this script invents none):

    python scripts/bench_train.py --iters 50 model=r50_c4 data=coco data.root=/data/coco train=1x device=cuda
    python scripts/project_cost.py --s-per-iter r50_c4=0.55 r50_c5=0.40 --gpus-per-run 8

`bench_train.py` reports images/s for the batch it ran; pass seconds per iteration of
the experiment's batch (`train.batch_size` over `--gpus-per-run` GPUs).
"""

from __future__ import annotations

import argparse
import sys

from roi_ablation.train import compose_config

EXPERIMENTS = ("table2c", "table2d")


def sweep_size(experiment: str) -> tuple[str, int, int]:
    """(model preset, number of runs, iterations per run) of an experiment's sweep."""
    cfg = compose_config([f"experiment={experiment}"], return_hydra_config=True)
    runs = 1
    for values in cfg.hydra.sweeper.params.values():
        runs *= len(str(values).split(","))
    return str(cfg.model.name), runs, int(cfg.train.max_iter)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--s-per-iter", nargs="*", default=[], metavar="MODEL=SECONDS",
                        help="measured seconds per training iteration of each preset (whole batch)")
    parser.add_argument("--gpus-per-run", type=int, default=8)
    args = parser.parse_args(argv)
    measured = {}
    for item in args.s_per_iter:
        model, _, seconds = item.partition("=")
        try:
            measured[model] = float(seconds)
        except ValueError:
            parser.error(f"--s-per-iter expects MODEL=SECONDS, got {item!r}")
    total = 0.0
    for experiment in EXPERIMENTS:
        model, runs, iterations = sweep_size(experiment)
        if model not in measured:
            print(f"{experiment}: {runs} runs x {iterations} iterations of {model}; no measured s/iter for {model} "
                  f"(no GPU measurement given; run scripts/bench_train.py on the target GPU)")
            continue
        hours = runs * iterations * measured[model] * args.gpus_per_run / 3600
        total += hours
        print(f"{experiment}: {runs} runs x {iterations} iterations x {measured[model]:.3f} s x "
              f"{args.gpus_per_run} GPUs = {hours:,.0f} GPU-hours")
    if total:
        print(f"total: {total:,.0f} GPU-hours")
    return 0


if __name__ == "__main__":
    sys.exit(main())
