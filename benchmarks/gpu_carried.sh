#!/usr/bin/env bash
# The issue-27 GPU run from carried token ids, in one device call (run from the repo root on the lent machine,
# with `carry: ["runs/carried/gpu"]`; the artefacts come from `antidistillation_carried.py export` here).
# Uses the machine's own torch/transformers; distillguard is imported from the checkout. The result is rewritten
# after every student, so what finished before the time limit comes back in $OUT.
set -uo pipefail
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 DISTILLGUARD_CACHE=/tmp/dgcache
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
timeout "${LIMIT_S:-540}" python3 benchmarks/antidistillation_carried.py run --artefacts "${ARTEFACTS:-runs/carried/gpu}" \
    --out "$OUT" --device cuda 2>&1 | grep -v 'step/s' | tee "$OUT/carried_log.txt"
