#!/usr/bin/env python3
"""yam's CPU backend next to scikit-image, 1 thread, on the rows of compare_opencv.py.

For each row of compare_opencv.py (same test images of ../shared/bench, same yam kernels and
parameters) the closest scikit-image call — the one ../shared/bench/bench_ref.py pairs with the
OpenCV kernel — is timed next to `yam bench --threads 1`, interleaved over --rounds rounds after
one warm-up call. scikit-image calls take up to seconds each (a bilateral filter about 8 s), so
each round times one call, and the table gives the median of the rounds. Where scikit-image has
no such operation the row says which library's call stands in (numpy, or scikit-image's rank
filters), and where the call is not an exact equivalent the note says how it differs.

    venv/bin/python tests/bench/compare_skimage.py --yam target/release/yam --out /tmp/sk.md

`--quick` runs a few rows on smaller crops (a smoke test of the script itself).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

# scikit-image and scipy run one thread here, as yam does with --threads 1.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
import skimage  # noqa: E402
import skimage.feature as skfe  # noqa: E402
import skimage.filters as skf  # noqa: E402
import skimage.filters.rank as skrank  # noqa: E402
import skimage.measure as skme  # noqa: E402
import skimage.morphology as skm  # noqa: E402
import skimage.restoration as skr  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_opencv as base  # noqa: E402  (rows, images and the yam timer)

ELLIPSE5 = base.ELLIPSE5.astype(bool)


def gaussian(x):
    channel_axis = -1 if x.ndim == 3 else None
    return skf.gaussian(x, sigma=1.5, truncate=4 / 3, mode="mirror", preserve_range=True,
                        channel_axis=channel_axis)


def square(k):
    return skm.footprint_rectangle((k, k))


def sk_pipeline(x):
    b = gaussian(x)
    m = skm.opening(b > skf.threshold_otsu(b), ELLIPSE5, mode="ignore")
    return skme.label(m, connectivity=2)


# Row name -> (call as written in the table, function, note on equivalence).
SKIMAGE = {
    "gaussian_blur 5x5 s1.5": (
        "skimage.filters.gaussian(sigma=1.5, truncate=4/3, mode='mirror')", gaussian,
        "float output"),
    "box_blur 5x5": (
        "skimage.filters.rank.mean(footprint=5x5)", lambda x: skrank.mean(x, square(5)),
        "rank filter: edges use only the pixels inside the image"),
    "median_blur 3": (
        "skimage.filters.median(footprint=3x3, mode='nearest')",
        lambda x: skf.median(x, np.ones((3, 3), bool), mode="nearest"), "exact"),
    "median_blur 5": (
        "skimage.filters.median(footprint=5x5, mode='nearest')",
        lambda x: skf.median(x, np.ones((5, 5), bool), mode="nearest"), "exact"),
    "median_blur 15": (
        "skimage.filters.rank.median(footprint=15x15)",
        lambda x: skrank.median(x, np.ones((15, 15), np.uint8)),
        "rank filter (the faster of scikit-image's two medians here)"),
    "bilateral d9": (
        "skimage.restoration.denoise_bilateral(win_size=9, sigma_color=75/255, sigma_spatial=75)",
        lambda x: skr.denoise_bilateral(x, win_size=9, sigma_color=75 / 255, sigma_spatial=75,
                                        bins=10000, mode="reflect"),
        "float output, another weighting"),
    "erode 3x3": (
        "skimage.morphology.erosion(footprint 3x3, mode='ignore')",
        lambda x: skm.erosion(x, square(3), mode="ignore"), "exact"),
    "erode 15x15": (
        "skimage.morphology.erosion(footprint 15x15, mode='ignore')",
        lambda x: skm.erosion(x, square(15), mode="ignore"), "exact"),
    "sobel dx -> i16": (
        "skimage.filters.sobel_v", skf.sobel_v, "float output, scaled by 1/4"),
    "canny 100/200": (
        "skimage.feature.canny(sigma=0, low=100, high=200)",
        lambda x: skfe.canny(x, sigma=0, low_threshold=100, high_threshold=200),
        "1-pixel border masked"),
    "threshold binary": (
        "numpy: np.where(img > 127, 255, 0) (scikit-image has no such call)",
        lambda x: np.where(x > 127, np.uint8(255), np.uint8(0)), "exact"),
    "threshold otsu": (
        "skimage.filters.threshold_otsu + np.where",
        lambda x: np.where(x > skf.threshold_otsu(x), np.uint8(255), np.uint8(0)), "exact"),
    "adaptive_threshold mean 11": (
        "skimage.filters.threshold_local(11, 'mean', offset=2) + np.where",
        lambda x: np.where(x > skf.threshold_local(x, 11, method="mean", offset=2,
                                                   mode="nearest"), np.uint8(255), np.uint8(0)),
        "compares with the float mean"),
    "connected_components 8": (
        "skimage.measure.label(connectivity=2)", lambda x: skme.label(x, connectivity=2),
        "same partition, other label order"),
    "pipeline gauss->otsu->open->cc": (
        "gaussian, threshold_otsu, opening (the OpenCV ellipse), label", sk_pipeline,
        "float blur"),
}


def time_once(fn, im):
    t = time.perf_counter()
    fn(im)
    return (time.perf_counter() - t) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--yam", default="target/release/yam")
    ap.add_argument("--rounds", type=int, default=2,
                    help="interleaved rounds; each times one scikit-image call")
    ap.add_argument("--repeat", type=int, default=5, help="yam runs per round")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="+", default=None, metavar="TEXT",
                    help="only the rows whose 'kernel image' contains one of these texts")
    ap.add_argument("--out", default=None, help="write the markdown section here")
    a = ap.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        imgs, paths = base.load_images(tmp, a.quick)
        cases = base.select_cases(tmp, a.quick, a.only)
        for name, key, yargs, _ in cases:
            call, fn, note = SKIMAGE[name]
            im = imgs[key]
            fn(im)  # warm-up: imports, caches, first allocations
            ys, ss, err = [], [], None
            for _ in range(a.rounds):
                y, _, err = base.time_yam(a.yam, yargs, paths[key], 1, a.repeat)
                if err:
                    break
                ys.append(y)
                ss.append(time_once(fn, im))
            if err:
                sys.exit(f"{name} {key}: yam bench failed: {err}")
            y, s = statistics.median(ys), statistics.median(ss)
            rows.append((name, key, y, s, call, note))
            print(f"{name:<32} {key:<15} yam {y:9.2f} ms  scikit-image {s:10.1f} ms  "
                  f"x{s / y:.0f}", flush=True)

    lines = [
        "## yam vs scikit-image (1 thread, informational)",
        "",
        f"Versions: scikit-image {skimage.__version__}, numpy {np.__version__}. Command: "
        f"`{' '.join([os.path.basename(sys.executable)] + sys.argv)}` (rounds {a.rounds}: "
        f"one scikit-image call and one `yam bench --repeat {a.repeat}` per round, after a "
        f"warm-up; medians in ms{', quick crops' if a.quick else ''}). speed-up = scikit-image "
        "time / yam time.",
        "",
        "| kernel | image | yam ms | scikit-image ms | speed-up | scikit-image call | note |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for name, key, y, s, call, note in rows:
        lines.append(f"| {name} | {key} | {y:.2f} | {s:.1f} | {s / y:.0f}x | {call} | {note} |")
    base.write_text(lines, a.out)


if __name__ == "__main__":
    main()
