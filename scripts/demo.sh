#!/usr/bin/env bash
# The README's main command: set up, then run the demo sweep on the synthetic data set
# (configs/experiment/demo.yaml: RoIPool vs RoIAlign on the 384 px twin, two jobs at once).
# Extra arguments are Hydra overrides, e.g. `bash scripts/demo.sh seed=0,1` for an interval.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
launcher=()
if [ "$(nproc)" -lt 2 ]; then
  launcher=(hydra.launcher.n_jobs=1 cpu_threads=0)  # one core: one job at a time, all threads
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}  # an idle OpenMP thread must not spin on a shared core
exec .venv/bin/roi-ablation-train -m experiment=demo "${launcher[@]}" "$@"
