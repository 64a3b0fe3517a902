#!/usr/bin/env bash
# benchmarks/gpu_decisive.py on the device tool's GPU machine, which cannot download anything.
#
#   bash benchmarks/gpu_decisive.sh --stage   # here, once: MNIST cache, lenet judge and the wheels the
#                                             # GPU machine lacks (starlette, uvicorn, opacus) into .gpudata/
#   device tool: run(command="bash benchmarks/gpu_decisive.sh $OUT", carry=[".gpudata"], timeout_s=590)
#
# The script stops every job by 540 s; the outer timeout leaves the rest of the call to bring OUT back.
# Options after OUT go to gpu_decisive.py (e.g. --graphs-until 0 to skip the graphs part).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--stage" ]; then
  bash benchmarks/gpu_graphs_check.sh --stage
  # the machine's Python (3.12 in round 3) imports ganforge's CLI, which needs these; pure-Python wheels
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 starlette uvicorn \
    opacus==1.6.0 opt_einsum -d .gpudata/whl
  du -sh .gpudata
  exit 0
fi
out=${1:?usage: gpu_decisive.sh OUT_DIR}
mkdir -p "$out"
# the serve/explore and DP dependencies the machine lacks, carried as wheels (gpu_decisive.sh --stage)
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpudata/whl/*.whl
export GANFORGE_DATA=$PWD/.gpudata PYTHONPATH=$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
  git log -1 --format='commit %H' 2>/dev/null; } > "$out/machine.txt" 2>&1
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 10 > "$out/gpu_util.csv" 2>&1 &
timeout -k 5 555 python3 benchmarks/gpu_decisive.py "$out/r" "${@:2}"
# the device tool brings back 8 files at most: one archive and the summary
cp "$out/r/summary.json" "$out/" 2>/dev/null; tail -n 3 "$out"/r/logs/*.log
tar czf "$out/results.tar.gz" -C "$out" r machine.txt gpu_util.csv && rm -rf "$out/r"
