#!/usr/bin/env bash
# The CUDA backend's checks on a real NVIDIA GPU, in one run (see plugins/cuda/scripts/gpu-package.sh):
#   1. the device and the plugin's status (`nvidia-smi`, `yam plugins list`, `yam doctor`);
#   2. `yam conformance` of the CUDA plugin against the CPU backend (every kernel, dtype,
#      channel count, border, strides and in-place use);
#   3. the GPU example pipeline with `--backend cuda --strict` (milestone M2), its labels
#      compared with the CPU backend's;
#   4. the benchmark against CuPy and OpenCV (tests/bench/compare_gpu.py).
# Everything goes to $OUT (default: ./gpu-out). Exit status: 0 only if 2 and 3 pass.
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export XDG_CACHE_HOME="$OUT/cache"
# NVRTC: the CUDA toolkit's, wherever it is.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
done
if ! ldconfig -p | grep -q libnvrtc.so && [ -z "${YAM_NVRTC:-}" ]; then
  nv=$(python3 -c 'import nvidia.cuda_nvrtc, os; print(os.path.dirname(nvidia.cuda_nvrtc.__file__))' 2>/dev/null || true)
  [ -n "$nv" ] && export LD_LIBRARY_PATH="$nv/lib:${LD_LIBRARY_PATH:-}"
fi
YAM=.gpu/yam
P=.gpu/plugins
status=0
{ nvidia-smi; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; } >"$OUT/device.txt" 2>&1
$YAM plugins list --plugin-dir $P >"$OUT/plugins.txt" 2>&1
$YAM doctor --plugin-dir $P >"$OUT/doctor.txt" 2>&1
cat "$OUT/device.txt" "$OUT/plugins.txt"

echo "== conformance"
timeout 300 $YAM conformance $P/libyam_cuda.so --json "$OUT/conformance.json" \
  --junit "$OUT/conformance.xml" >"$OUT/conformance.txt" 2>&1 || status=1
tail -30 "$OUT/conformance.txt"

echo "== example pipeline on the GPU, --strict"
if $YAM run examples/cells-gpu.json examples/cells.png -o "$OUT/labels-cuda.npy" \
    --report "$OUT/report-cuda.json" --backend cuda --strict --plugin-dir $P; then
  $YAM run examples/cells-gpu.json examples/cells.png -o "$OUT/labels-cpu.npy" --backend cpu
  if cmp -s "$OUT/labels-cuda.npy" "$OUT/labels-cpu.npy"; then
    echo "labels: identical to the CPU backend's"
  else
    echo "labels: DIFFER from the CPU backend's"; status=1
  fi
else
  status=1
fi

echo "== benchmark"
timeout 240 python3 tests/bench/compare_gpu.py --yam $YAM --plugin-dir $P \
  --out "$OUT/gpu-bench.md" --rounds 3 --repeat 20 >"$OUT/bench.txt" 2>&1
tail -30 "$OUT/bench.txt"
exit $status
