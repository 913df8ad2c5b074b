#!/usr/bin/env bash
# The pre-registered confirmatory sweep (docs/claims.md, v2; configs/experiment/shapes_confirm.yaml):
# the five Table 2c rows seed by seed (10-17), so that wherever it stops every finished seed
# is a complete pair set. Resumable: rerun it and every finished run is skipped, an interrupted
# one resumes from its checkpoint. Two 1-thread jobs at a time fill the 2 cores.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
start=$(date +%s)
for seed in 10 11 12 13 14 15 16 17; do
  .venv/bin/roi-ablation-train -m experiment=shapes_confirm "seed=$seed" \
    hydra/launcher=joblib hydra.launcher.n_jobs=2 cpu_threads=1 || exit $?
done
echo "confirmatory sweep took $(( $(date +%s) - start )) s"
.venv/bin/roi-ablation-tables outputs/multirun/shapes_confirm --rules v2 --out outputs/tables_v2
