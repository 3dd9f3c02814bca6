#!/usr/bin/env bash
# GPU check (run on a lent CUDA machine from the repo root): processor tests on CUDA, then the speed benchmark
# (`--equality-only`: stop after the CUDA == CPU check).
# Uses the machine's own torch/transformers; distillguard is imported from the checkout.
set -uo pipefail
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 DISTILLGUARD_CACHE=/tmp/dgcache
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" | tee -a "$OUT/gpu.txt"
python3 - <<'PY' 2>&1 | tee "$OUT/cuda_equality.txt"
import torch
from distillguard.keys import WatermarkKey, WatermarkSpec
from distillguard.watermark import WatermarkLogitsProcessor
V = 49152
key = WatermarkKey.generate(WatermarkSpec(vocab_size=V))
ok = True
for h, s in [(0, "left"), (1, "left"), (4, "left"), (1, "min"), (4, "min")]:
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        proc = WatermarkLogitsProcessor(key, context_width=h, seeding=s)
        keys = WatermarkLogitsProcessor([key.for_account(f"a{i}") for i in range(64)], context_width=h, seeding=s)
        ids = torch.randint(0, V, (64, 9))
        for p in (proc, keys):
            cpu = p(ids, torch.zeros(64, V, dtype=dtype))
            gpu = p(ids.cuda(), torch.zeros(64, V, dtype=dtype, device="cuda")).cpu()
            same = torch.equal(cpu, gpu)
            ok &= same
            print(f"{s} h={h} {dtype} {'row keys' if p is keys else 'one key'}: cuda == cpu {same}")
print("ALL_EQUAL", ok)
PY
if [ "${1:-}" = "--equality-only" ]; then exit 0; fi
python3 benchmarks/processor_speed.py --device cuda --out "$OUT/processor_speed_gpu.json" 2>&1 | grep -v "it/s" | tee "$OUT/speed_log.txt"
