#!/usr/bin/env python3
"""Fetches NVIDIA's NVRTC (the CUDA run-time compiler) from PyPI into target/nvrtc/.

NVRTC needs no GPU: with it, the CUDA plugin's kernels are compiled for real GPU
architectures on any x86-64 Linux machine, which is how CI keeps them from rotting between
GPU runs. Standard library only (no pip needed); the wheel is pinned and its SHA-256 checked.
Idempotent: does nothing when the library is already there.

Usage: plugins/cuda/scripts/fetch-nvrtc.py [DEST]   (default: target/nvrtc next to this repository's root)
"""
import hashlib
import pathlib
import sys
import urllib.parse
import urllib.request
import zipfile

VERSION = "12.9.86"
WHEEL = f"nvidia_cuda_nvrtc_cu12-{VERSION}-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl"
LIB = "nvidia/cuda_nvrtc/lib/libnvrtc.so.12"


def main() -> int:
    root = pathlib.Path(__file__).resolve().parents[3]
    dest = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "target" / "nvrtc"
    lib = dest / LIB
    if lib.exists():
        print(f"nvrtc: {lib} already present")
        return 0
    import json

    meta_url = "https://pypi.org/pypi/nvidia-cuda-nvrtc-cu12/json"
    with urllib.request.urlopen(meta_url, timeout=60) as r:
        meta = json.load(r)
    files = meta.get("releases", {}).get(VERSION, [])
    entry = next((u for u in files if u["filename"] == WHEEL), None)
    if entry is None:
        print(f"nvrtc: {WHEEL} is not listed at {meta_url}", file=sys.stderr)
        return 1
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / WHEEL
    print(f"nvrtc: downloading {WHEEL} ({entry['size'] // 1_000_000} MB)")
    digest = hashlib.sha256()
    # Mirrors answer with addresses relative to the JSON's.
    url = urllib.parse.urljoin(meta_url, entry["url"])
    with urllib.request.urlopen(url, timeout=600) as r, open(wheel, "wb") as f:
        while chunk := r.read(1 << 20):
            digest.update(chunk)
            f.write(chunk)
    if digest.hexdigest() != entry["digests"]["sha256"]:
        wheel.unlink()
        print("nvrtc: SHA-256 mismatch, download removed", file=sys.stderr)
        return 1
    with zipfile.ZipFile(wheel) as z:
        members = [
            m
            for m in z.namelist()
            if m.startswith("nvidia/cuda_nvrtc/lib/") and ".alt." not in m
        ]
        z.extractall(dest, members)
    wheel.unlink()
    for m in members:
        (dest / m).chmod(0o755)
    print(f"nvrtc: installed {lib}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
