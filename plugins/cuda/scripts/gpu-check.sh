#!/usr/bin/env bash
# The CUDA backend's checks on a real NVIDIA GPU, in one run (see plugins/cuda/scripts/gpu-package.sh):
#   1. the device and the plugin's status (`nvidia-smi`, `yam plugins list`, `yam doctor`);
#   2. `yam conformance` of the CUDA plugin against the CPU backend (every kernel, dtype,
#      channel count, border, strides and in-place use);
#   3. the GPU example pipeline with `--backend cuda --strict` (milestone M2), its labels
#      compared with the CPU backend's;
#   4. the f32 Gaussian compared with the CPU backend's byte for byte (`exact`);
#   5. the benchmark against CuPy and OpenCV (tests/bench/compare_gpu.py).
# STEPS picks some of them (default "status conformance m2 exact bench"). Each step has its own time
# limit, so the script ends on its own and every result is written. Results go to $OUT (default
# ./gpu-out) as a few files: summary.txt (the console), conformance.txt, conformance.json,
# gpu-bench.md, and extras.tar.gz (JUnit XML, run reports, doctor). The NVRTC cache lives
# outside $OUT. Exit status: 0 only if every step that ran passed.
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT=${OUT:-gpu-out}
STEPS=${STEPS:-status conformance m2 exact bench}
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

if step exact; then
  # The f32 Gaussian promises the CPU backend's values bit for bit (conformance allows 1e-5):
  # gray and RGB f32 images (values up to ±1e38), several sizes and borders, compared byte for
  # byte, `--strict` so nothing falls back to the CPU.
  echo "== f32 Gaussian, bit for bit against the CPU backend"
  python3 - "$WORK" <<'PY'
import json, sys, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(20261127)
np.save(w + "/f32.npy", (rng.random((1024, 1024), dtype=np.float32) * 255).astype(np.float32))
np.save(w + "/f32x3.npy", (rng.random((300, 411, 3), dtype=np.float32) * 2e38 - 1e38).astype(np.float32))
cases = {
    "g5": {"ksize": 5, "sigma": 1.5},
    "g7c": {"ksize": 7, "sigma": 2.0, "border": "constant", "border_value": 3.4e38},
    "g11w": {"ksize": 11, "sigma": 0, "sigma_y": 3.0, "border": "wrap"},
    "g3r": {"ksize": 3, "sigma": 0, "border": "reflect"},
}
for k, p in cases.items():
    json.dump({"steps": [{"name": "gaussian_blur", "params": p}]}, open(f"{w}/{k}.json", "w"))
PY
  for img in f32 f32x3; do
    for p in g5 g7c g11w g3r; do
      out="$WORK/exact-$img-$p"
      if timeout -k 5 60 $YAM run "$WORK/$p.json" "$WORK/$img.npy" -o "$out-cuda.npy" --backend cuda \
          --strict --plugin-dir $P >/dev/null && \
        $YAM run "$WORK/$p.json" "$WORK/$img.npy" -o "$out-cpu.npy" --backend cpu >/dev/null; then
        if cmp -s "$out-cuda.npy" "$out-cpu.npy"; then echo "bit-identical: $img $p"
        else echo "DIFFERENT: $img $p"; status=1; fi
      else
        echo "exact $img $p: exit $?"; status=1
      fi
    done
  done
fi

if step bench; then
  echo "== benchmark"
  PYTHONUNBUFFERED=1 timeout -k 5 "${BENCH_LIMIT:-200}" python3 tests/bench/compare_gpu.py \
    --yam $YAM --plugin-dir $P --out "$OUT/gpu-bench.md" --rounds "${ROUNDS:-3}" \
    --repeat "${REPEAT:-20}" >"$WORK/bench.txt" 2>&1 || { echo "bench: exit $?"; status=1; }
  tail -30 "$WORK/bench.txt"
fi

if step profile; then
  # Per-kernel device times of the slowest benchmark rows (Nsight Compute, one metric).
  echo "== profile"
  NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  python3 - "$WORK" <<'PY'
import sys, numpy as np, cv2
yy, xx = np.mgrid[0:4096, 0:4096]
rng = np.random.default_rng(20261127)
gray = np.clip(128 + 60 * np.sin(xx / 97.0) * np.cos(yy / 83.0) + rng.normal(0, 20, xx.shape), 0, 255).astype(np.uint8)
_, mask = cv2.threshold(cv2.GaussianBlur(gray, (5, 5), 1.5), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
np.save(sys.argv[1] + "/gray.npy", gray)
np.save(sys.argv[1] + "/mask.npy", mask)
PY
  # End-to-end cost of one cheap step (upload, kernel, download of the same size) and of
  # labeling (u8 in, i32 out): what the transfers add to a pipeline.
  echo '{"steps":[{"name":"threshold","params":{"thresh":127}}]}' >"$WORK/p-threshold.json"
  echo '{"steps":[{"name":"connected_components","params":{"connectivity":8}}]}' >"$WORK/p-cc.json"
  for p in "p-threshold.json gray.npy" "p-cc.json mask.npy"; do
    set -- $p
    for threads in 1 default; do
      echo "copy threads: $threads"
      v=$threads; [ "$v" = default ] && v=
      YAM_CUDA_COPY_THREADS=$v $YAM bench --pipeline "$WORK/$1" --image "$WORK/$2" --backend cuda --repeat 20 \
        --plugin-dir $P | sed -n '1p;3,4p'
    done
  done
  for what in "--kernel connected_components --params {\"connectivity\":8} --image $WORK/mask.npy" \
      "--kernel threshold --params {\"otsu\":true} --image $WORK/gray.npy" \
      "--pipeline examples/cells-gpu.json --image $WORK/gray.npy"; do
    echo "-- yam bench $what"
    # shellcheck disable=SC2086
    timeout -k 5 90 "$NCU" --clock-control none --metrics gpu__time_duration.sum --print-units base --csv \
      $YAM bench $what --backend cuda --repeat 1 --plugin-dir $P 2>/dev/null |
      python3 -c '
import csv, sys, collections
rows = [r for r in csv.reader(l for l in sys.stdin if l.startswith("\""))]
if not rows: sys.exit("no profile rows")
h = rows[0]; k, v = h.index("Kernel Name"), h.index("Metric Value")
t = collections.defaultdict(list)
for r in rows[1:]: t[r[k]].append(float(r[v].replace(",", "")))
for name, vals in sorted(t.items(), key=lambda x: -max(x[1])):
    print(f"  {name[:40]:40s} launches {len(vals):3d}  last {vals[-1]/1e3:9.1f} us  max {max(vals)/1e3:9.1f} us")
'
  done
fi

tar -czf "$OUT/extras.tar.gz" -C "$WORK" --exclude cache --exclude '*.npy' . 2>/dev/null
echo "== exit $status"
exit $status
