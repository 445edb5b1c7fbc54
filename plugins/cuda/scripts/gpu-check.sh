#!/usr/bin/env bash
# The CUDA backend's checks on a real NVIDIA GPU, in one run (see plugins/cuda/scripts/gpu-package.sh):
#   1. the device and the plugin's status (`nvidia-smi`, `yam plugins list`, `yam doctor`);
#   2. `yam conformance` of the CUDA plugin against the CPU backend (every kernel, dtype,
#      channel count, border, strides and in-place use);
#   3. the GPU example pipeline with `--backend cuda --strict` (milestone M2), its labels
#      compared with the CPU backend's;
#   4. the benchmark against CuPy and OpenCV (tests/bench/compare_gpu.py).
# STEPS picks some of them (default "status conformance m2 bench"). Each step has its own time
# limit, so the script ends on its own and every result is written. Results go to $OUT (default
# ./gpu-out) as a few files: summary.txt (the console), conformance.txt, conformance.json,
# gpu-bench.md, and extras.tar.gz (JUnit XML, run reports, doctor). The NVRTC cache lives
# outside $OUT. Exit status: 0 only if every step that ran passed.
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT=${OUT:-gpu-out}
STEPS=${STEPS:-status conformance m2 bench}
mkdir -p "$OUT"
WORK=$(mktemp -d)
export XDG_CACHE_HOME="$WORK/cache" RUST_BACKTRACE=1
exec > >(tee "$OUT/summary.txt") 2>&1

# NVRTC: the CUDA toolkit's, wherever it is; else the pip wheel's.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
done
if ! ldconfig -p | grep -q 'libnvrtc.so.1[23]' && [ -z "${YAM_NVRTC:-}" ]; then
  nv=$(find /usr/local/cuda*/ /opt "$(python3 -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null)" \
    -name 'libnvrtc.so.1[23]' 2>/dev/null | head -1)
  [ -n "$nv" ] && export YAM_NVRTC="$nv"
fi
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-} YAM_NVRTC=${YAM_NVRTC:-}"

YAM=.gpu/yam
P=.gpu/plugins
status=0
step() { [[ " $STEPS " == *" $1 "* ]]; }

if step status; then
  echo "== device and plugin status"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  nvidia-smi | head -12
  $YAM plugins list --plugin-dir $P
  $YAM doctor --plugin-dir $P >"$WORK/doctor.txt" 2>&1
  head -8 "$WORK/doctor.txt"
fi

if step conformance; then
  echo "== conformance"
  timeout -k 5 "${CONFORMANCE_LIMIT:-200}" $YAM conformance $P/libyam_cuda.so \
    --json "$OUT/conformance.json" --junit "$WORK/conformance.xml" >"$OUT/conformance.txt" 2>&1 \
    || { echo "conformance: exit $?"; status=1; }
  grep -E 'FAIL|fail|panic|error' "$OUT/conformance.txt" | head -40
  tail -40 "$OUT/conformance.txt"
fi

if step m2; then
  echo "== example pipeline on the GPU, --strict"
  if timeout -k 5 60 $YAM run examples/cells-gpu.json examples/cells.png -o "$WORK/labels-cuda.npy" \
      --report "$WORK/report-cuda.json" --backend cuda --strict --plugin-dir $P; then
    $YAM run examples/cells-gpu.json examples/cells.png -o "$WORK/labels-cpu.npy" --backend cpu \
      --report "$WORK/report-cpu.json"
    if cmp -s "$WORK/labels-cuda.npy" "$WORK/labels-cpu.npy"; then
      echo "labels: identical to the CPU backend's"
    else
      echo "labels: DIFFER from the CPU backend's"; status=1
    fi
  else
    echo "m2: exit $?"; status=1
  fi
fi

if step bench; then
  echo "== benchmark"
  PYTHONUNBUFFERED=1 timeout -k 5 "${BENCH_LIMIT:-200}" python3 tests/bench/compare_gpu.py \
    --yam $YAM --plugin-dir $P --out "$OUT/gpu-bench.md" --rounds "${ROUNDS:-3}" \
    --repeat "${REPEAT:-20}" >"$WORK/bench.txt" 2>&1 || { echo "bench: exit $?"; status=1; }
  tail -30 "$WORK/bench.txt"
fi

tar -czf "$OUT/extras.tar.gz" -C "$WORK" --exclude cache --exclude '*.npy' . 2>/dev/null
echo "== exit $status"
exit $status
