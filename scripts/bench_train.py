"""Training and evaluation throughput (images/s) and peak memory of one configuration.

Takes the same overrides as `roi-ablation-train` (default: the synthetic set, CPU);
prints one JSON line, so runs are easy to collect:

    python scripts/bench_train.py model=small_c4 roi=pool_max
    python scripts/bench_train.py --iters 20 --eval-images 32 model=small_c5 device=cuda
"""

import argparse
import json

from roi_ablation.engine.bench import benchmark
from roi_ablation.config import compose_config, resolve
from roi_ablation.engine.distributed import resolve_device
from roi_ablation.train import build_components


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=10, help="timed training iterations")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations first")
    parser.add_argument("--eval-images", type=int, default=16, help="validation images to time inference on")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. roi=pool_max model=small_c5")
    args = parser.parse_args()
    cfg = resolve(compose_config(["device=cpu", *args.overrides]))
    result = benchmark(cfg.train, build_components(cfg), resolve_device(cfg.device), cfg.seed,
                       args.iters, args.warmup, args.eval_images)
    overrides = {"roi": f"{cfg.roi.method}_{cfg.roi.agg}", "model": cfg.model.name, "data": cfg.data.name}
    print(json.dumps({**overrides, **result}))


if __name__ == "__main__":
    main()
