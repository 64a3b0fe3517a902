#!/usr/bin/env bash
# Before/after check of the engine refactor on a CUDA GPU, one script (docs/benchmarks.md section 1).
#
#   bash benchmarks/gpu_engine_check.sh OLD_TREE NEW_TREE OUT_DIR
#
# OLD_TREE and NEW_TREE hold src/ and benchmarks/ of the two versions (e.g. from `git archive`).
# For each version, interleaved: host-device syncs in the step loop (benchmarks/sync_check.py) and
# throughput against the plain loop (benchmarks/throughput.py) on the embedded digits, where the
# engine's own per-step overhead matters most. Needs no download.
set -uo pipefail
old=$1 new=$2 out=$3
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__)" | tee -a "$out/gpu.txt"
for v in old new; do
  tree=${!v}
  for preset in gan2014-digits dcgan-digits; do
    echo "== $v sync $preset" | tee -a "$out/sync.txt"
    PYTHONPATH=$tree/src timeout 120 python3 "$new/benchmarks/sync_check.py" "$preset" --steps 20 2>&1 \
      | tail -6 | tee -a "$out/sync.txt"
  done
done
for round in 1 2; do
  for v in old new; do
    tree=${!v}
    echo "== $v round $round" | tee -a "$out/throughput.txt"
    PYTHONPATH=$tree/src timeout 150 python3 "$tree/benchmarks/throughput.py" dcgan-digits --batch 128 \
      --set data.resolution=32 --windows 5 --steps 50 --warmup 20 2>&1 | grep -E '^\||throughput.py' | tee -a "$out/throughput.txt"
    PYTHONPATH=$tree/src timeout 150 python3 "$tree/benchmarks/throughput.py" gan2014-digits --batch 128 \
      --windows 5 --steps 100 --warmup 20 2>&1 | grep -E '^\||throughput.py' | tee -a "$out/throughput.txt"
  done
done
