#!/usr/bin/env bash
# The README's main command: set up, then run the demo sweep on the synthetic data set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/roi-ablation-train -m experiment=demo "$@"
