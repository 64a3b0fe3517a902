#!/usr/bin/env bash
# Issue 16's GPU figures (whole-step CUDA graphs), one command for the device tool; see docs/speed.md.
#
#   bash benchmarks/gpu_graphs_check.sh --stage     # here, once: the MNIST cache and the lenet judge
#                                                   # into .gpudata/ (git-ignored), about 56 MiB
#   device tool: run(command="bash benchmarks/gpu_graphs_check.sh $OUT", carry=[".gpudata"], timeout_s=560)
#
# The machine there cannot download, so the data travel with the tree. Everything lands in OUT
# (summary.md, results.json, log.txt, one JSON per throughput run); the whole run stops starting
# parts after 470 s and is killed at 540 s, leaving time in a 560 s call to bring OUT back.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--stage" ]; then
  src=${GANFORGE_DATA:-$HOME/.cache/ganforge/data}
  mkdir -p .gpudata/mnist .gpudata/judges
  cp "$src"/mnist/mnist-uint8.npz "$src"/mnist/mnist-uint8.json .gpudata/mnist/
  cp "$src"/judges/lenet-* .gpudata/judges/
  exclude=$(git rev-parse --git-path info/exclude)
  mkdir -p "$(dirname "$exclude")"
  grep -qx '/.gpudata/' "$exclude" 2>/dev/null || echo '/.gpudata/' >> "$exclude"
  du -sh .gpudata
  exit 0
fi
out=${1:?usage: gpu_graphs_check.sh OUT_DIR | --stage}
mkdir -p "$out"
export GANFORGE_DATA=$PWD/.gpudata PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"; } > "$out/log.txt" 2>&1
timeout 540 python3 benchmarks/gpu_graphs_check.py "$out" --budget 470
