#!/usr/bin/env bash
# Rehearse the GPU check on this CPU in an environment pinned to the lent GPU machine's image.
#
#   bash scripts/rehearse_gpu_check.sh            # -> outputs/gpu_check/rehearsal_cpu.{json,md}
#   REHEARSAL_VENV=/path REHEARSAL_THREADS=2 bash scripts/rehearse_gpu_check.sh [OUT_DIR]
#
# 1. The image: a Python 3.12 venv with torch 2.11.0, torchvision 0.26.0 and the image's
#    other packages (scipy, statsmodels, pandas, tensorboard, matplotlib, numpy, pyyaml,
#    joblib), from PyPI, made once (the CUDA wheels: about 5 GB) and reused.
# 2. Back to the image state: whatever the wheelhouse installs is uninstalled, and the
#    script checks that hydra, omegaconf and pycocotools do not import.
# 3. The wheelhouse (scripts/build_wheelhouse.py, size-checked) installed with --no-index,
#    exactly as on the GPU machine, with this machine's pip configuration switched off.
# 4. scripts/gpu_check.py --device cpu end to end with that interpreter (ResNet-50 trunk at
#    reduced image size and RoI counts; every section; torchrun with 2 ranks on gloo), with the
#    RoI layers' CUDA strategy forced (ROI_ABLATION_ROI_STRATEGY=dense), so the code that will
#    run on the GPU is the code rehearsed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${REHEARSAL_VENV:-/work/rehearsal-venv}
PY312=${PYTHON312:-/root/.pyenv/versions/3.12.1/bin/python3.12}   # a real 3.12 (a pyenv shim may not resolve)
THREADS=${REHEARSAL_THREADS:-2}
OUT=${1:-$ROOT/outputs/gpu_check}
BUILD_PY=${BUILD_PYTHON:-$ROOT/.venv/bin/python}   # the dev environment: the wheels are pinned to its versions
IMAGE_PACKAGES=(torch==2.11.0 torchvision==0.26.0 scipy statsmodels pandas tensorboard matplotlib numpy pyyaml joblib)

if [ ! -f "$VENV/.image-ready" ]; then
  echo "== making the image venv in $VENV (Python 3.12, ${IMAGE_PACKAGES[*]})"
  "$PY312" -m venv "$VENV"
  PIP_CONFIG_FILE=/dev/null "$VENV/bin/python" -m pip install -q "${IMAGE_PACKAGES[@]}"
  touch "$VENV/.image-ready"
fi

echo "== building the wheelhouse"
"$BUILD_PY" "$ROOT/scripts/build_wheelhouse.py" --out "$ROOT/build/wheelhouse"

echo "== back to the image state"
mapfile -t WHEELED < <(sed 's/==.*//' "$ROOT/build/wheelhouse/requirements.txt")
PIP_CONFIG_FILE=/dev/null "$VENV/bin/python" -m pip uninstall -q -y "${WHEELED[@]}" 2>/dev/null || true
for module in hydra omegaconf pycocotools; do
  if (cd /tmp && env -u PYTHONPATH "$VENV/bin/python" -c "import $module" 2>/dev/null); then
    echo "rehearsal: $module still imports in $VENV: not the image state" >&2
    exit 1
  fi
done
(cd /tmp && env -u PYTHONPATH "$VENV/bin/python" -c "import sys, torch, torchvision; \
print('image:', sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__)")

echo "== installing the wheelhouse as on the GPU machine (no index)"
PIP_CONFIG_FILE=/dev/null "$VENV/bin/python" -m pip install -q --no-index --find-links "$ROOT/build/wheelhouse" \
  -r "$ROOT/build/wheelhouse/requirements.txt"
PIP_CONFIG_FILE=/dev/null "$VENV/bin/python" -m pip check

echo "== gpu_check.py --device cpu (threads: $THREADS)"
mkdir -p "$OUT"
cd "$ROOT"
start=$(date +%s)
status=0
env -u PYTHONPATH OMP_NUM_THREADS="$THREADS" MALLOC_MMAP_THRESHOLD_=131072 ROI_ABLATION_ROI_STRATEGY=dense \
  "$VENV/bin/python" scripts/gpu_check.py --device cpu --out "$OUT" --name rehearsal_cpu || status=$?
echo "rehearsal: gpu_check exited $status after $(( $(date +%s) - start )) s; $OUT/rehearsal_cpu.json"
exit $status
