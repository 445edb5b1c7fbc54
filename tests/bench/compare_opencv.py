#!/usr/bin/env python3
"""yam's CPU backend side by side with OpenCV, on the test images of ../shared/bench.

Both are timed in one run, interleaved (yam, OpenCV, yam, OpenCV, ...), after a warm-up, with
1 and 2 threads; each side's time is the median over rounds of its in-process median, each
in-process median over at least --repeat runs and enough runs to span --min-ms (fast kernels
get hundreds of runs: on a shared machine five runs of a 1 ms kernel are mostly noise). yam is
timed by `yam bench` (kernel on device-resident buffers, image decode excluded), OpenCV by
time.perf_counter around the cv2 call. Every row also gives yam's time as a multiple of a plain
memory copy of the same image (`yam bench` measures it).

    python3 -m venv venv && venv/bin/pip install -r ../shared/bench/requirements.txt
    cargo build --release
    venv/bin/python tests/bench/compare_opencv.py --yam target/release/yam --out BENCHMARKS.md

`--quick` runs a few rows on smaller crops (a smoke test of the script itself).
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_BENCH = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "bench"))

# (row name, image key, yam kernel, yam params, OpenCV call)
CASES = [
    ("gaussian_blur 5x5 s1.5", "gray_u8_4096", "gaussian_blur", {"ksize": 5, "sigma": 1.5},
     lambda im: cv2.GaussianBlur(im, (5, 5), 1.5)),
    ("gaussian_blur 5x5 s1.5", "gray_u16_2048", "gaussian_blur", {"ksize": 5, "sigma": 1.5},
     lambda im: cv2.GaussianBlur(im, (5, 5), 1.5)),
    ("gaussian_blur 5x5 s1.5", "gray_f32_2048", "gaussian_blur", {"ksize": 5, "sigma": 1.5},
     lambda im: cv2.GaussianBlur(im, (5, 5), 1.5)),
    ("gaussian_blur 5x5 s1.5", "rgb_u8_2048", "gaussian_blur", {"ksize": 5, "sigma": 1.5},
     lambda im: cv2.GaussianBlur(im, (5, 5), 1.5)),
    ("box_blur 5x5", "gray_u8_4096", "box_blur", {"ksize": 5}, lambda im: cv2.blur(im, (5, 5))),
    ("median_blur 3", "gray_u8_4096", "median_blur", {"ksize": 3}, lambda im: cv2.medianBlur(im, 3)),
    ("median_blur 5", "gray_u8_4096", "median_blur", {"ksize": 5}, lambda im: cv2.medianBlur(im, 5)),
    ("median_blur 15", "gray_u8_4096", "median_blur", {"ksize": 15}, lambda im: cv2.medianBlur(im, 15)),
    ("bilateral d9", "gray_u8_4096", "bilateral_filter", {"d": 9, "sigma_color": 75, "sigma_space": 75},
     lambda im: cv2.bilateralFilter(im, 9, 75, 75)),
    ("erode 3x3", "gray_u8_4096", "erode", {"ksize": 3},
     lambda im: cv2.erode(im, np.ones((3, 3), np.uint8))),
    ("erode 15x15", "gray_u8_4096", "erode", {"ksize": 15},
     lambda im: cv2.erode(im, np.ones((15, 15), np.uint8))),
    ("sobel dx -> i16", "gray_u8_4096", "sobel", {"dx": 1, "dy": 0, "out": "i16"},
     lambda im: cv2.Sobel(im, cv2.CV_16S, 1, 0, ksize=3)),
    ("canny 100/200", "gray_u8_4096", "canny", {"low": 100, "high": 200},
     lambda im: cv2.Canny(im, 100, 200)),
    ("threshold binary", "gray_u8_4096", "threshold", {"thresh": 127},
     lambda im: cv2.threshold(im, 127, 255, cv2.THRESH_BINARY)),
    ("threshold otsu", "gray_u8_4096", "threshold", {"otsu": True},
     lambda im: cv2.threshold(im, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)),
    ("adaptive_threshold mean 11", "gray_u8_4096", "adaptive_threshold", {"block_size": 11, "c": 2},
     lambda im: cv2.adaptiveThreshold(im, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 11, 2)),
    ("connected_components 8", "otsu_mask_4096", "connected_components", {"connectivity": 8},
     lambda im: cv2.connectedComponents(im, connectivity=8)),
]

PIPELINE = {"steps": [
    {"name": "gaussian_blur", "params": {"ksize": 5, "sigma": 1.5}},
    {"name": "threshold", "params": {"otsu": True}},
    {"name": "morphology", "params": {"op": "open", "shape": "ellipse", "ksize": 5}},
    {"name": "connected_components", "params": {"connectivity": 8}},
]}
ELLIPSE5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))


def cv_pipeline(im):
    g = cv2.GaussianBlur(im, (5, 5), 1.5)
    _, m = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    o = cv2.morphologyEx(m, cv2.MORPH_OPEN, ELLIPSE5)
    return cv2.connectedComponents(o, connectivity=8)


def time_cv(fn, im, threads, repeat):
    cv2.setNumThreads(threads)
    fn(im)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(im)
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def time_yam(yam, args, image, threads, repeat):
    cmd = [yam, "bench", *args, "--image", image, "--threads", str(threads),
           "--repeat", str(repeat), "--json", "--backend", "cpu"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return None, None, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed"
    v = json.loads(r.stdout)
    return v["time"]["median_ms"], v["memory_copy"]["median_ms"], None


def load_images(tmp, quick):
    sys.path.insert(0, SHARED_BENCH)
    import testimages  # noqa: E402  (the shared, deterministic test images)

    imgs = testimages.make_test_images()
    if quick:
        imgs = {k: np.ascontiguousarray(v[:509, :383]) for k, v in imgs.items()}
    gray = imgs["gray_u8_4096"]
    _, mask = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    imgs["otsu_mask_4096"] = mask
    paths = {}
    for k, v in imgs.items():
        paths[k] = os.path.join(tmp, k + ".npy")
        np.save(paths[k], v)
    return imgs, paths


def select_cases(tmp, quick, only):
    """The rows to run: (name, image key, `yam bench` arguments, OpenCV call), the pipeline
    last (its file written into `tmp`); a few with --quick, those matching --only."""
    pipe = os.path.join(tmp, "pipeline.json")
    with open(pipe, "w") as f:
        json.dump(PIPELINE, f)
    cases = [(n, k, ["--kernel", kid, "--params", json.dumps(p)], fn) for n, k, kid, p, fn in CASES]
    cases.append(("pipeline gauss->otsu->open->cc", "gray_u8_4096", ["--pipeline", pipe], cv_pipeline))
    if quick:
        cases = cases[:3] + cases[-1:]
    if only:
        cases = [c for c in cases if any(t in f"{c[0]} {c[1]}" for t in only)]
        if not cases:
            sys.exit(f"--only {only}: no row matches (rows are 'kernel image', e.g. "
                     f"'gaussian_blur 5x5 s1.5 gray_f32_2048')")
    return cases


def write_text(lines, out):
    """Prints the markdown `lines`, and writes them to `out` when given."""
    text = "\n".join(lines) + "\n"
    if out:
        with open(out, "w") as f:
            f.write(text)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--yam", default="target/release/yam")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5,
                    help="runs per in-process measurement, at least (see --min-ms)")
    ap.add_argument("--min-ms", type=float, default=200.0,
                    help="more runs for fast kernels: each measurement spans about this long, so "
                         "a 1 ms kernel's median is over ~200 runs, not 5")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="+", default=None, metavar="TEXT",
                    help="only the rows whose 'kernel image' contains one of these texts, e.g. "
                         "--only gray_f32 'threshold binary' (to re-measure close rows with more rounds)")
    ap.add_argument("--out", default=None, help="write the markdown table here")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        imgs, paths = load_images(tmp, a.quick)
        cases = select_cases(tmp, a.quick, a.only)
        rows = []
        for name, key, yargs, fn in cases:
            for threads in a.threads:
                ys, cs, copy, err = [], [], None, None
                # One short yam run sizes the repeat count (the kernel's time is what matters).
                y, _, err = time_yam(a.yam, yargs, paths[key], threads, 3)
                repeat = max(a.repeat, math.ceil(a.min_ms / y)) if y else a.repeat
                for _ in range(a.rounds if not err else 0):
                    y, c, e = time_yam(a.yam, yargs, paths[key], threads, repeat)
                    if e:
                        err = e
                        break
                    ys.append(y)
                    copy = c
                    cs.append(time_cv(fn, imgs[key], threads, repeat))
                if err:
                    cv_ms = time_cv(fn, imgs[key], threads, a.repeat)
                    rows.append((name, key, threads, None, cv_ms, None, None, err))
                else:
                    y, c = statistics.median(ys), statistics.median(cs)
                    rows.append((name, key, threads, y, c, y / c, y / copy if copy else None, ""))
                r = rows[-1]
                ytxt = f"{r[3]:.2f}" if r[3] is not None else "n/a"
                print(f"{name:<32} {key:<15} t={threads}  yam {ytxt:>9} ms  opencv {r[4]:9.2f} ms  "
                      f"{'ratio %.2f' % r[5] if r[5] else r[7]}", flush=True)

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    yam_version = subprocess.run([a.yam, "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# Benchmarks: yam CPU backend vs OpenCV",
        "",
        f"Machine: {cpu}, {os.cpu_count()} cores; {platform.platform()}. Date: "
        f"{datetime.date.today().isoformat()}.",
        f"Versions: {yam_version}; OpenCV {cv2.__version__}; numpy {np.__version__}.",
        f"Command: `{' '.join([os.path.basename(sys.executable)] + sys.argv)}` "
        f"(rounds {a.rounds}, repeat {a.repeat} or enough runs for {a.min_ms:g} ms"
        f"{', quick crops' if a.quick else ''}).",
        "",
        "Medians in ms; ratio = yam / OpenCV (below 1.0: yam is faster); copy = yam's time as a "
        "multiple of a plain memory copy of the same image. n/a: yam has no such kernel yet.",
        "",
        "| kernel | image | threads | yam ms | OpenCV ms | ratio | x copy |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, key, t, y, c, ratio, mult, err in rows:
        yt = f"{y:.2f}" if y is not None else "n/a"
        rt = f"{ratio:.2f}" if ratio is not None else "n/a"
        mt = f"{mult:.1f}" if mult is not None else "n/a"
        lines.append(f"| {name} | {key} | {t} | {yt} | {c:.2f} | {rt} | {mt} |")
    write_text(lines, a.out)


if __name__ == "__main__":
    main()
