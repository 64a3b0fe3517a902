#!/usr/bin/env bash
# The GPU measurements of docs/benchmarks.md section 6, in one script, for a machine with a CUDA GPU.
#
#   bash benchmarks/gpu_protocol.sh [OUT_DIR]      # tables are appended to OUT_DIR/gpu.md
#
# 1. DCGAN at 64x64 on MNIST, batch 128 and 512: ganforge (fast path: auto switches + torch.compile)
#    against the plain example-style loop (8 DataLoader workers), in the same run.
# 2. The same with the fast path switched off, to show what each part buys.
# 3. The 2014 MLP GAN on MNIST (images/s on the GPU).
# 4. Fast and plain paths train as well: the same steps and seeds, then fid10k_test_lenet of each.
set -euo pipefail
out=${1:-runs/gpu-protocol}
mkdir -p "$out"
md="$out/gpu.md"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >> "$md"

tp="python benchmarks/throughput.py"
dc64=(dcgan-mnist --set data.resolution=64 --plain-workers 8 --windows 5 --steps 50 --warmup 20)
$tp "${dc64[@]}" --batch 128 --set speed.compile=true --append "$md"
$tp "${dc64[@]}" --batch 512 --set speed.compile=true --append "$md"
$tp "${dc64[@]}" --batch 128 --append "$md"                                   # auto switches, eager
$tp "${dc64[@]}" --batch 128 --set speed.precision=fp32 --set speed.channels_last=false \
    --set speed.optimizer=for-loop --set speed.tf32=false --set speed.cudnn_benchmark=false --append "$md"
$tp gan2014-mnist --windows 5 --steps 100 --warmup 20 --append "$md"

plain=(--set speed.precision=fp32 --set speed.channels_last=false --set speed.optimizer=for-loop
       --set speed.tf32=false --set speed.cudnn_benchmark=false)
for seed in 0 1 2; do
  ganforge train dcgan-mnist --out "$out/fast-s$seed" --seed "$seed" --steps 5000 --force \
      --set data.resolution=64 --set speed.compile=true
  ganforge train dcgan-mnist --out "$out/plain-s$seed" --seed "$seed" --steps 5000 --force \
      --set data.resolution=64 "${plain[@]}"
  for path in fast plain; do
    ganforge eval "$out/$path-s$seed" --metrics fid10k_test_lenet --json "$out/$path-s$seed.json"
  done
done
python - "$out" >> "$md" <<'EOF'
import json, statistics, sys
from pathlib import Path
out = Path(sys.argv[1])
for path in ("fast", "plain"):
    v = [json.loads((out / f"{path}-s{s}.json").read_text())["values"]["fid10k_test_lenet"] for s in range(3)]
    print(f"| {path} | {' / '.join(f'{x:.2f}' for x in v)} | {statistics.mean(v):.2f} +- {statistics.stdev(v) / 3 ** 0.5:.2f} |")
EOF
echo "appended to $md"
