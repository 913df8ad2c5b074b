#!/usr/bin/env bash
# Both CPU-twin sweeps of issue #13 (38 runs), the rows of claims 1 and 4 first, then the tables.
# Resumable: rerun it and every finished run is skipped, an interrupted one resumes from its checkpoint.
# Two 1-thread jobs at a time fill the 2 cores (n_jobs x cpu_threads <= cores).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
train=(.venv/bin/roi-ablation-train -m hydra/launcher=joblib hydra.launcher.n_jobs=2 cpu_threads=1)
start=$(date +%s)
for seeds in 0,1,2 3,4; do   # claims 1 and 4 first: RoIPool and RoIAlign at both strides, 3 seeds, then 5
  for experiment in shapes_table2d shapes_table2c; do
    "${train[@]}" "experiment=$experiment" roi=pool_max,align_avg "seed=$seeds"
  done
done
for experiment in shapes_table2d shapes_table2c; do   # the other rows, 3 seeds (the pairs above are skipped)
  "${train[@]}" "experiment=$experiment"
done
echo "sweeps took $(( $(date +%s) - start )) s"
.venv/bin/roi-ablation-tables outputs/multirun/shapes_table2c outputs/multirun/shapes_table2d --out outputs/tables
