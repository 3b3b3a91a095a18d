#!/bin/bash
# Build here, check and time on the lent GPU machine in one go (see ../shared/device/README conventions).
#
#   1. here (the repository root):   bash native-kernels/scripts/device-check.sh prepare
#      builds the addon with CUDA (sm_90 SASS + compute_80 PTX), bundles the check script with esbuild
#      (no node_modules needed there), copies the addon and packs Node.js into .device/
#   2. the device tool:  run(command="bash .device/run.sh bash native-kernels/scripts/device-check.sh run",
#                            carry=[".device"], timeout_s=300)
#      prints one JSON line per check / timing; exit 1 when a correctness check fails.
# Budget: the run itself takes well under 2 minutes (H100: the 8192³ GEMM is ~10 runs of a few ms).
set -euo pipefail
mode=${1:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
case "$mode" in
  prepare)
    node native-kernels/scripts/build-addon.mjs --force
    node -e "const a=require('./native-kernels/build/Release/quant_kernels.node'); if(!a.cudaCompiled){console.error('the addon was built without CUDA: is nvcc on PATH?'); process.exit(1)}"
    mkdir -p .device
    cp native-kernels/build/Release/quant_kernels.node .device/quant_kernels.node
    node_modules/.bin/esbuild native-kernels/scripts/device-check.ts --bundle --platform=node --format=esm \
      --target=node20 --outfile=.device/device-check.mjs --log-level=warning
    ../shared/device/pack.sh
    ls -la .device
    echo 'next: run(command="bash .device/run.sh bash native-kernels/scripts/device-check.sh run", carry=[".device"], timeout_s=300)'
    ;;
  run)
    nvidia-smi --query-gpu=name,memory.total,compute_cap,driver_version --format=csv,noheader || true
    export QSTUDIO_NATIVE_ADDON="$root/.device/quant_kernels.node"
    timeout 240 node .device/device-check.mjs | tee "${OUT:-/tmp}/device-check.jsonl"
    ;;
  *)
    echo "usage: $0 prepare|run" >&2
    exit 2
    ;;
esac
