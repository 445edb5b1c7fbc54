#!/usr/bin/env bash
# Builds the release binary and the CUDA plugin here and puts what the GPU machine needs into
# .gpu/ (git-ignored): the `yam` binary, a plugin folder with libyam_cuda.so + cuda.json.
# Then, on the GPU machine (no Rust there), from the repository root: plugins/cuda/scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
cargo build --release -p yam-host -p yam-cuda
rm -rf .gpu
mkdir -p .gpu/plugins
cp target/release/yam .gpu/
cp target/release/libyam_cuda.so plugins/cuda/cuda.json .gpu/plugins/
chmod 755 .gpu .gpu/plugins
strip --strip-debug .gpu/yam .gpu/plugins/libyam_cuda.so
du -sh .gpu
