#!/usr/bin/env bash
# The README's test command: set up, type-check (mypy, configured in pyproject.toml: the package
# and the scripts, zero errors), then run the test suite (extra args go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest -n 2 "$@"
