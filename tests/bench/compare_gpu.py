#!/usr/bin/env python3
"""yam's CUDA backend side by side with CuPy (cupyx.scipy.ndimage) and OpenCV, on one GPU
machine, in one run, interleaved (yam, CuPy, OpenCV, yam, ...), after a warm-up.

yam is timed by `yam bench --backend cuda` (device-resident buffers: each run executes and
synchronises; no transfers), CuPy on device-resident arrays with a device synchronise after
each call, OpenCV on the host (its CPU path, all cores). The pipeline row is end to end with
transfers for yam (`yam bench --pipeline`) and CuPy (upload, kernels, download). Each row
also gives the time a kernel would take at the GPU's memory bandwidth reading the input once
and writing the output once (`--bandwidth`, default 3.35e12 B/s for an H100 SXM / 4.8e12 for
an H200), the limit for memory-bound kernels.

    python3 tests/bench/compare_gpu.py --yam .gpu/yam --plugin-dir .gpu/plugins --out gpu.md

Images are generated here (deterministic): 4096x4096 u8 gray, 2048x2048 u16 and f32, 2048x2048
RGB u8, and the Otsu mask of the blurred gray image for connected components.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time

import numpy as np

try:
    import cupy as cp
    import cupyx.scipy.ndimage as cnd
except ImportError:  # the table then has no CuPy column
    cp = None
try:
    import cv2
except ImportError:
    cv2 = None


def images(tmp):
    rng = np.random.default_rng(20261127)
    yy, xx = np.mgrid[0:4096, 0:4096]
    base = 128 + 60 * np.sin(xx / 97.0) * np.cos(yy / 83.0)
    gray = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    small = gray[:2048, :2048]
    out = {
        "gray_u8_4096": gray,
        "gray_u16_2048": (small.astype(np.uint16) * 257),
        "gray_f32_2048": small.astype(np.float32) / 255.0,
        "rgb_u8_2048": np.stack([small, small[::-1], small[:, ::-1]], axis=2).copy(),
    }
    if cv2 is not None:
        blurred = cv2.GaussianBlur(gray, (5, 5), 1.5)
        _, mask = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    else:
        mask = ((gray > 128) * 255).astype(np.uint8)
    out["otsu_mask_4096"] = mask
    paths = {}
    for k, v in out.items():
        paths[k] = os.path.join(tmp, k + ".npy")
        np.save(paths[k], v)
    return out, paths


def cupy_cases():
    if cp is None:
        return {}
    ones3 = cp.ones((3, 3), dtype=bool)
    return {
        "gaussian_blur": lambda x, p: cnd.gaussian_filter(x, 1.5, truncate=2 / 1.5, mode="mirror"),
        "box_blur": lambda x, p: cnd.uniform_filter(x, size=p["ksize"], mode="mirror"),
        "median_blur": lambda x, p: cnd.median_filter(x, size=p["ksize"], mode="nearest"),
        "erode": lambda x, p: cnd.grey_erosion(x, size=(p["ksize"], p["ksize"])),
        "morphology": lambda x, p: cnd.grey_opening(x, size=(p["ksize"], p["ksize"])),
        "sobel": lambda x, p: cnd.sobel(x.astype(cp.int16), axis=1),
        "threshold": lambda x, p: (x > 127).astype(cp.uint8) * 255,
        "adaptive_threshold": lambda x, p: ((x.astype(cp.int16) - cnd.uniform_filter(x, 11, mode="nearest")) > -2).astype(cp.uint8) * 255,
        "connected_components": lambda x, p: cnd.label(x, structure=ones3),
    }


def cv_cases():
    if cv2 is None:
        return {}
    return {
        "gaussian_blur": lambda x, p: cv2.GaussianBlur(x, (5, 5), 1.5),
        "box_blur": lambda x, p: cv2.blur(x, (p["ksize"], p["ksize"])),
        "median_blur": lambda x, p: cv2.medianBlur(x, p["ksize"]),
        "erode": lambda x, p: cv2.erode(x, np.ones((p["ksize"], p["ksize"]), np.uint8)),
        "morphology": lambda x, p: cv2.morphologyEx(x, cv2.MORPH_OPEN, np.ones((p["ksize"], p["ksize"]), np.uint8)),
        "sobel": lambda x, p: cv2.Sobel(x, cv2.CV_16S, 1, 0, ksize=3),
        "threshold": lambda x, p: cv2.threshold(x, 127, 255, cv2.THRESH_BINARY),
        "adaptive_threshold": lambda x, p: cv2.adaptiveThreshold(x, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 11, 2),
        "connected_components": lambda x, p: cv2.connectedComponents(x, connectivity=8),
    }


# (row, image, kernel, params)
CASES = [
    ("gaussian_blur 5x5 s1.5", "gray_u8_4096", "gaussian_blur", {"ksize": 5, "sigma": 1.5}),
    ("gaussian_blur 5x5 s1.5", "gray_u16_2048", "gaussian_blur", {"ksize": 5, "sigma": 1.5}),
    ("gaussian_blur 5x5 s1.5", "gray_f32_2048", "gaussian_blur", {"ksize": 5, "sigma": 1.5}),
    ("gaussian_blur 5x5 s1.5", "rgb_u8_2048", "gaussian_blur", {"ksize": 5, "sigma": 1.5}),
    ("box_blur 5x5", "gray_u8_4096", "box_blur", {"ksize": 5}),
    ("median_blur 3", "gray_u8_4096", "median_blur", {"ksize": 3}),
    ("median_blur 5", "gray_u8_4096", "median_blur", {"ksize": 5}),
    ("median_blur 15", "gray_u8_4096", "median_blur", {"ksize": 15}),
    ("erode 3x3", "gray_u8_4096", "erode", {"ksize": 3}),
    ("erode 15x15", "gray_u8_4096", "erode", {"ksize": 15}),
    ("open 5x5 rect", "gray_u8_4096", "morphology", {"op": "open", "ksize": 5}),
    ("sobel dx -> i16", "gray_u8_4096", "sobel", {"dx": 1, "dy": 0, "out": "i16"}),
    ("threshold binary", "gray_u8_4096", "threshold", {"thresh": 127}),
    ("threshold otsu", "gray_u8_4096", "threshold", {"otsu": True}),
    ("adaptive_threshold mean 11", "gray_u8_4096", "adaptive_threshold", {"block_size": 11, "c": 2}),
    ("connected_components 8", "otsu_mask_4096", "connected_components", {"connectivity": 8}),
]


def yam_bench(args, extra, image):
    cmd = [args.yam, "bench", "--image", image, "--repeat", str(args.repeat), "--json",
           "--backend", args.backend] + extra
    for d in args.plugin_dir:
        cmd += ["--plugin-dir", d]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"
    r = json.loads(out.stdout)
    return r, None


def time_device(fn, x, repeat):
    fn(x)
    cp.cuda.Device().synchronize()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(x)
        cp.cuda.Device().synchronize()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def time_host(fn, x, repeat):
    fn(x)
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(x)
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--yam", required=True)
    ap.add_argument("--plugin-dir", action="append", default=[])
    ap.add_argument("--backend", default="cuda")
    ap.add_argument("--pipeline", default="examples/cells-gpu.json")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--bandwidth", type=float, default=None,
                    help="GPU memory bandwidth in B/s (default: 4.8e12 on an H200, else 3.35e12)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    device = "no CuPy"
    if cp is not None:
        device = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    if args.bandwidth is None:
        args.bandwidth = 4.8e12 if "H200" in device else 3.35e12
    tmp = tempfile.mkdtemp()
    imgs, paths = images(tmp)
    cps, cvs = cupy_cases(), cv_cases()
    dev = {k: cp.asarray(v) for k, v in imgs.items()} if cp is not None else {}
    rows = []
    for row, key, kernel, params in CASES:
        y, c, o, err = [], [], [], None
        for _ in range(args.rounds):
            r, err = yam_bench(args, ["--kernel", kernel, "--params", json.dumps(params)], paths[key])
            if r is not None:
                y.append(r["time"]["median_ms"])
            if kernel in cps:
                c.append(time_device(lambda x: cps[kernel](x, params), dev[key], args.repeat))
            if kernel in cvs:
                o.append(time_host(lambda x: cvs[kernel](x, params), imgs[key], max(3, args.repeat // 4)))
        nbytes = imgs[key].nbytes * (2 if kernel != "connected_components" else 5)
        bound = nbytes / args.bandwidth * 1e3
        med = lambda v: statistics.median(v) if v else None
        rows.append((row, key, med(y), med(c), med(o), bound, err))
    # Pipeline end to end, transfers included.
    pipe, perr = yam_bench(args, ["--pipeline", args.pipeline], paths["gray_u8_4096"])
    cupy_pipe = None
    if cp is not None:
        def cupy_pipeline(host):
            x = cp.asarray(host)
            x = cnd.gaussian_filter(x, 1.5, truncate=2 / 1.5, mode="mirror")
            x = (x > x.mean()).astype(cp.uint8)
            x = cnd.binary_opening(x, structure=cp.ones((5, 5), dtype=bool)).astype(cp.uint8)
            labels, _ = cnd.label(x, structure=cp.ones((3, 3), dtype=bool))
            return cp.asnumpy(labels)
        cupy_pipe = time_host(cupy_pipeline, imgs["gray_u8_4096"], args.repeat)
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
    lines = [
        f"## yam ({args.backend} backend) vs CuPy and OpenCV",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} CPU threads; GPU: {device}; "
        f"CuPy {cp.__version__ if cp is not None else 'absent'}; "
        f"OpenCV {cv2.__version__ if cv2 is not None else 'absent'} (CPU path).",
        f"Command: `python3 tests/bench/compare_gpu.py --yam ... --rounds {args.rounds} "
        f"--repeat {args.repeat}`. Medians in ms; bound = input read + output written once at "
        f"{args.bandwidth / 1e12:.2f} TB/s.",
        "",
        f"| kernel | image | yam {args.backend} ms | CuPy ms | OpenCV CPU ms | yam/CuPy | bound ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row, key, y, c, o, bound, err in rows:
        ratio = "n/a" if (y is None or c is None) else f"{y / c:.2f}"
        ycell = fmt(y) if y is not None else f"error: {err}"
        lines.append(f"| {row} | {key} | {ycell} | {fmt(c)} | {fmt(o)} | {ratio} | {bound:.3f} |")
    pm = pipe["time"]["median_ms"] if pipe else None
    lines.append(
        f"| pipeline gauss->otsu->open->cc (end to end) | gray_u8_4096 | "
        f"{fmt(pm) if pm is not None else 'error: ' + str(perr)} | {fmt(cupy_pipe)} | n/a | "
        f"{'n/a' if pm is None or cupy_pipe is None else f'{pm / cupy_pipe:.2f}'} | n/a |"
    )
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
