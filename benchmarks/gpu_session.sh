#!/usr/bin/env bash
# benchmarks/gpu_session.py on the device tool's GPU machine, which cannot download anything.
#
#   bash benchmarks/gpu_session.sh --stage    # here, once: MNIST cache (gzipped), judges, the
#                                             # cifar10-jpeg archive and the Opacus wheel into
#                                             # .gpudata/ (git-ignored), about 33 MiB
#   device tool: run(command="bash benchmarks/gpu_session.sh $OUT", carry=[".gpudata"], timeout_s=570)
#
# OUT gets results.tar.gz (every JSON, log, grid and figure), summary.json and session.log.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--stage" ]; then
  src=${GANFORGE_DATA:-$HOME/.cache/ganforge/data}
  mkdir -p .gpudata/judges .gpudata/whl
  gzip -1 -c "$src"/mnist/mnist-uint8.npz > .gpudata/mnist-uint8.npz.gz
  cp "$src"/mnist/mnist-uint8.json .gpudata/
  cp "$src"/judges/lenet-* "$src"/judges/cnn-cifar10jpeg-* .gpudata/judges/
  cp "${GANFORGE_CIFAR10_JPEG:-../shared/data/cifar10-jpeg.tar.gz}" .gpudata/cifar10-jpeg.tar.gz
  python3 -m pip download -q --no-deps --only-binary=:all: opacus==1.6.0 -d .gpudata/whl
  exclude=$(git rev-parse --git-path info/exclude)
  grep -qx '/.gpudata/' "$exclude" 2>/dev/null || echo '/.gpudata/' >> "$exclude"
  du -sh .gpudata
  exit 0
fi
out=${1:?usage: gpu_session.sh OUT_DIR | --stage}
data=/tmp/gfdata
mkdir -p "$out" "$data/mnist" "$data/judges"
exec > >(tee "$out/session.log") 2>&1
gunzip -c .gpudata/mnist-uint8.npz.gz > "$data/mnist/mnist-uint8.npz"
cp .gpudata/mnist-uint8.json "$data/mnist/"
cp .gpudata/judges/* "$data/judges/"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpudata/whl/*.whl
export GANFORGE_DATA=$data GANFORGE_CIFAR10_JPEG=$PWD/.gpudata/cifar10-jpeg.tar.gz PYTHONUNBUFFERED=1
export PYTHONPATH=$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, opacus; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'opacus', opacus.__version__)"
mkdir -p /tmp/gs/results
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 15 > /tmp/gs/results/gpu_util.csv 2>&1 &
timeout -k 5 530 python3 benchmarks/gpu_session.py --work /tmp/gs --results /tmp/gs/results "${@:2}"
cp /tmp/gs/results/summary.json "$out/" 2>/dev/null
tar czf "$out/results.tar.gz" -C /tmp/gs results
ls -la "$out"
