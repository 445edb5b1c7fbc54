#!/usr/bin/env python3
"""Generate yam's OpenCV golden fixtures (tests/golden/cases.json + tests/golden/data/).

Every expected output is computed by OpenCV (opencv-python-headless 5.0.0.93), never by yam.
Inputs are deterministic (numpy default_rng with a fixed seed). See README.md next to this
file for what is covered, how yam parameters map onto cv2 calls and which cases OpenCV rejects.

    /path/to/venv/bin/python tests/golden/generate.py           # rewrite cases.json and data/
    /path/to/venv/bin/python tests/golden/generate.py --check   # only verify the committed files

Each OpenCV call is also repeated with IPP off and with 1 thread, and every border mode is
recomputed by explicit padding (cv2.copyMakeBorder) to check that the two agree; the generator
stops if any of these self-checks fails, so that a fixture never captures a path-dependent
result.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import sys
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

SEED = 20260405
EXPECTED_VERSIONS = {"cv2": "5.0.0", "numpy": "2.4.6"}

# Sizes are odd on purpose (SIMD tails, partial 2x2 blocks in the labeling).
W, H = 67, 45
BIG_W, BIG_H = 509, 383

DTYPES = {"u8": np.uint8, "u16": np.uint16, "f32": np.float32}
NP_TO_YAM = {np.dtype(np.uint8): "u8", np.dtype(np.uint16): "u16", np.dtype(np.int16): "i16",
             np.dtype(np.int32): "i32", np.dtype(np.float32): "f32"}

CV_BORDER = {
    "reflect101": cv2.BORDER_REFLECT_101,
    "reflect": cv2.BORDER_REFLECT,
    "replicate": cv2.BORDER_REPLICATE,
    "constant": cv2.BORDER_CONSTANT,
    "wrap": cv2.BORDER_WRAP,
}
# A nonzero constant border value per dtype (inside the dtype's range).
BORDER_VALUE = {"u8": 200, "u16": 40000, "f32": 0.75}
CV_SHAPE = {"rect": cv2.MORPH_RECT, "ellipse": cv2.MORPH_ELLIPSE, "cross": cv2.MORPH_CROSS}
CV_MORPH_OP = {"open": cv2.MORPH_OPEN, "close": cv2.MORPH_CLOSE, "gradient": cv2.MORPH_GRADIENT,
               "tophat": cv2.MORPH_TOPHAT, "blackhat": cv2.MORPH_BLACKHAT}
CV_THRESH = {"binary": cv2.THRESH_BINARY, "binary_inv": cv2.THRESH_BINARY_INV,
             "trunc": cv2.THRESH_TRUNC, "tozero": cv2.THRESH_TOZERO,
             "tozero_inv": cv2.THRESH_TOZERO_INV}

# Parameter defaults of KERNELS.md (plugin-api/src/catalogue.rs). Cases store only the
# parameters they set, so the Rust test also exercises the catalogue's defaults.
DEFAULTS = {
    "gaussian_blur": {"ksize": 5, "sigma": 1.5, "sigma_y": 0.0, "border": "reflect101",
                      "border_value": 0.0},
    "median_blur": {"ksize": 3},
    "erode": {"shape": "rect", "ksize": 3, "iterations": 1, "border": "neutral",
              "border_value": 0.0},
    "dilate": {"shape": "rect", "ksize": 3, "iterations": 1, "border": "neutral",
               "border_value": 0.0},
    "morphology": {"op": "open", "shape": "rect", "ksize": 3, "iterations": 1},
    "sobel": {"dx": 1, "dy": 0, "ksize": 3, "scale": 1.0, "delta": 0.0, "out": "f32",
              "border": "reflect101", "border_value": 0.0},
    "threshold": {"thresh": 127.0, "maxval": 255.0, "type": "binary", "otsu": False},
    "connected_components": {"connectivity": 8},
    "box_blur": {"ksize": 5, "normalize": True, "border": "reflect101", "border_value": 0.0},
    "bilateral_filter": {"d": 9, "sigma_color": 75.0, "sigma_space": 75.0,
                         "border": "reflect101", "border_value": 0.0},
    "adaptive_threshold": {"maxval": 255.0, "method": "mean", "type": "binary",
                           "block_size": 11, "c": 2.0},
    "canny": {"low": 100.0, "high": 200.0, "aperture": 3, "l2_gradient": False},
    "convert": {"dtype": "f32", "scale": 1.0, "offset": 0.0},
    "normalize": {"min": 0.0, "max": None},  # None: the dtype's default (255, 65535, 1.0)
    "to_gray": {"order": "rgb"},
}

# Tolerances of KERNELS.md. "rel" means |actual - expected| <= rel * max(1, |expected|).
EXACT = {"abs": 0}
F32_GAUSS = {"abs": 1e-5}
F32_SOBEL = {"rel": 1e-5}
F32_BOX = {"abs": 1e-5}
U8_BILATERAL = {"abs": 1}
F32_BILATERAL = {"abs": 1e-4}
F32_NORMALIZE = {"rel": 1e-6}
F32_GRAY = {"rel": 1e-6}
CV_ADAPTIVE = {"mean": cv2.ADAPTIVE_THRESH_MEAN_C, "gaussian": cv2.ADAPTIVE_THRESH_GAUSSIAN_C}
NP_DTYPE = {"u8": np.uint8, "u16": np.uint16, "f32": np.float32}
CV_DEPTH = {"u8": cv2.CV_8U, "u16": cv2.CV_16U, "f32": cv2.CV_32F}
CV_DEPTH_NAME = {"u8": "8U", "u16": "16U", "f32": "32F"}


# --------------------------------------------------------------------------------------------
# Inputs


def smooth_field(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth-ish content in about [0, 1]: random Gaussian bumps, a ramp, a ripple and noise.

    Clipping at 0 and 1 leaves flat plateaus (ties for morphology and median, saturated
    pixels for thresholds)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    f = 0.35 * x / w + 0.15 * y / h
    for _ in range(8):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        s = rng.uniform(0.08, 0.3) * min(h, w)
        f += rng.uniform(-0.6, 0.9) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
    f += 0.08 * np.sin(x / 3.1 + rng.uniform(0, 6)) * np.cos(y / 4.3)
    f += rng.normal(0, 0.06, size=(h, w))
    f = (f - np.percentile(f, 4)) / (np.percentile(f, 96) - np.percentile(f, 4))
    return np.clip(f, 0.0, 1.0)


def make_image(rng: np.random.Generator, h: int, w: int, c: int, dtype: str) -> np.ndarray:
    planes = [smooth_field(rng, h, w) for _ in range(c)]
    f = np.stack(planes, axis=-1) if c > 1 else planes[0]
    if dtype == "u8":
        return np.rint(f * 255).astype(np.uint8)
    if dtype == "u16":
        return np.rint(f * 65535).astype(np.uint16)
    # f32: [-0.25, 1.25] plus fine noise so values are not on a coarse grid.
    g = f * 1.5 - 0.25 + rng.normal(0, 1e-3, size=f.shape)
    return g.astype(np.float32)


def make_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A binary-ish mask with many blobs: thresholded smooth noise, isolated pixels,
    diagonal-only touching pixels and staircases, U shapes whose arms merge late in scan
    order, a hole-y ring. Foreground values are mostly 255 with some other nonzero values
    (OpenCV treats any nonzero pixel as foreground)."""
    noise = rng.normal(size=(h + 8, w + 8))
    k = cv2.getGaussianKernel(7, 1.6)
    smooth = cv2.sepFilter2D(noise, cv2.CV_64F, k, k)[4:-4, 4:-4]
    m = smooth > np.percentile(smooth, 62)
    # Speckle: isolated foreground and background pixels.
    m ^= rng.random((h, w)) < 0.04
    # Diagonal-only neighbours (8-connected, not 4-connected) and a staircase.
    for i in range(6):
        m[1 + i, 1 + i] = True
        m[1 + i, 2 + i] = False
        m[2 + i, 1 + i] = False
    for (yy, xx) in [(h - 3, 2), (h - 2, 3), (h - 1, 4), (h - 2, 5), (h - 3, 6)]:
        m[yy - 1:yy + 2, xx - 1:xx + 2] = False
    for (yy, xx) in [(h - 3, 2), (h - 2, 3), (h - 1, 4), (h - 2, 5), (h - 3, 6)]:
        m[yy, xx] = True
    # A checkerboard patch: one component for 8-connectivity, many for 4.
    cy, cx = h // 2 - 3, w - 12
    yy, xx = np.mgrid[0:7, 0:9]
    m[cy - 1:cy + 8, cx - 1:cx + 10] = False
    m[cy:cy + 7, cx:cx + 9] = (yy + xx) % 2 == 0
    # A U shape opening upwards (its arms get different provisional labels in a raster scan).
    uy, ux = 2, w // 2
    m[uy - 1:uy + 9, ux - 1:ux + 10] = False
    m[uy:uy + 8, ux] = True
    m[uy:uy + 8, ux + 8] = True
    m[uy + 7, ux:ux + 9] = True
    out = np.where(m, 255, 0).astype(np.uint8)
    # Other nonzero values count as foreground too.
    out[m & (rng.random((h, w)) < 0.1)] = 1
    out[m & (rng.random((h, w)) < 0.05)] = 77
    return out


def make_ties(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """f32 values for `convert`: every multiple of 0.25 in [-3, 3] and around the u8 and u16
    limits (with scale 1 or 2 they give .5 ties, with scale 1 they saturate), then random
    values spread over [-1e5, 1e5] (saturating for u8 and u16) and in [-1, 300]."""
    grid = [np.arange(-3, 3.25, 0.25), np.arange(250, 260.25, 0.25),
            np.arange(65530, 65540.25, 0.25), np.array([-0.0, 1e-30, -1e-30, 0.5, 1.5, 2.5])]
    fixed = np.concatenate(grid)
    n = h * w - fixed.size
    rest = np.concatenate([rng.uniform(-1e5, 1e5, n // 2), rng.uniform(-1, 300, n - n // 2)])
    return np.concatenate([fixed, rest]).astype(np.float32).reshape(h, w)


def make_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    inputs: dict[str, np.ndarray] = {}
    for dt in DTYPES:
        for c in (1, 3):
            inputs[f"{dt}_c{c}"] = make_image(rng, H, W, c, dt)
    inputs["u8_c4"] = make_image(rng, H, W, 4, "u8")
    inputs["u8_c1_big"] = make_image(rng, BIG_H, BIG_W, 1, "u8")
    inputs["mask"] = make_mask(rng, H, W)
    inputs["mask_big"] = make_mask(rng, BIG_H, BIG_W)
    yy, xx = np.mgrid[0:H, 0:W]
    inputs["mask_checker"] = np.where((yy + xx) % 2 == 0, 255, 0).astype(np.uint8)
    inputs["mask_empty"] = np.zeros((H, W), np.uint8)
    inputs["mask_full"] = np.full((H, W), 255, np.uint8)
    # Added later; drawn after everything above so that the older inputs stay identical.
    inputs["u16_c4"] = make_image(rng, H, W, 4, "u16")
    inputs["f32_c4"] = make_image(rng, H, W, 4, "f32")
    inputs["f32_ties"] = make_ties(rng, H, W)
    inputs["u8_flat"] = np.full((H, W), 77, np.uint8)
    return inputs


# --------------------------------------------------------------------------------------------
# OpenCV calls


def cv_error_text(e: cv2.error) -> str:
    """The assertion of a cv2.error without the build path, e.g.
    "columnBorderType != BORDER_WRAP in function 'init' (filter.dispatch.cpp:130)"."""
    text = str(e).strip().splitlines()[-1].strip()
    m = re.match(r"OpenCV\([^)]*\) (?:.*/)?([^/ :]+:\d+): error: \([^)]*\) (.*)", text)
    return f"{m.group(2)} ({m.group(1)})" if m else text


def dtype_name(a: np.ndarray) -> str:
    return NP_TO_YAM[a.dtype]


def scalar(v: float) -> tuple:
    # A bare number becomes Scalar(v, 0, 0, 0) in cv2: only channel 0 would get v.
    return (float(v),) * 4


def pad_then(fn, src: np.ndarray, border: str, value: float, radius: int) -> np.ndarray:
    """Applies `fn` to `src` padded by `radius` with `border` (copyMakeBorder) and crops.

    This is the definition of a border mode for a local filter: the output pixels only see
    the padded values, so the filter's own border setting does not matter."""
    r = radius
    padded = cv2.copyMakeBorder(src, r, r, r, r, CV_BORDER[border], value=scalar(value))
    out = fn(padded)
    return out[r:r + src.shape[0], r:r + src.shape[1]]


def run_configs(fn, tol: dict | None = None, notes: list | None = None):
    """Runs fn() with the default configuration, with IPP off and with one thread; returns
    the default result and a list of the configurations that disagree with it.

    With `tol`, a configuration whose output is within `tol` of the default one does not
    count as disagreeing; the difference is appended to `notes` instead."""
    cv2.ipp.setUseIPP(True)
    cv2.setNumThreads(2)
    ref = fn()
    disagree = []
    cv2.ipp.setUseIPP(False)
    try:
        alt = fn()
    finally:
        cv2.ipp.setUseIPP(True)
    if not same(ref, alt):
        if tol is not None and tolerance_error(tol, alt, ref) <= tol.get("rel", tol.get("abs")):
            notes.append(f"IPP off differs by at most {tolerance_error(tol, alt, ref):.3g} "
                         f"(within the tolerance)")
        else:
            disagree.append("ipp off")
    cv2.setNumThreads(1)
    try:
        alt = fn()
    finally:
        cv2.setNumThreads(2)
    if not same(ref, alt):
        if tol is not None and tolerance_error(tol, alt, ref) <= tol.get("rel", tol.get("abs")):
            notes.append(f"1 thread differs by at most {tolerance_error(tol, alt, ref):.3g} "
                         f"(within the tolerance)")
        else:
            disagree.append("1 thread")
    return ref, disagree


def same(a, b) -> bool:
    if isinstance(a, tuple):
        return all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    return a == b


def max_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b| relative to max(1, |a|) (plain absolute difference for |a| <= 1)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return float(np.max(np.abs(a64 - b64) / np.maximum(1.0, np.abs(a64)), initial=0.0))


def gaussian_radius(p: dict, dtype: str) -> int:
    def k_of(s):
        return int(np.rint(s * (3 if dtype == "u8" else 4) * 2 + 1)) | 1
    ks = p["ksize"] or max(k_of(p["sigma"]), k_of(p["sigma_y"] or p["sigma"]))
    return ks // 2 + 1


# Each op returns (callable(src, cv_border, border_value) -> output, radius, native_value):
# native_value tells whether the OpenCV function itself takes a border value.
def op_gaussian(p, src):
    k = p["ksize"]

    def f(s, b, _v):
        return cv2.GaussianBlur(s, (k, k), sigmaX=p["sigma"], sigmaY=p["sigma_y"], borderType=b)
    return f, gaussian_radius(p, dtype_name(src)), False


def op_sobel(p, src):
    ddepth = {"i16": cv2.CV_16S, "f32": cv2.CV_32F}[p["out"]]

    def f(s, b, _v):
        return cv2.Sobel(s, ddepth, p["dx"], p["dy"], ksize=p["ksize"], scale=p["scale"],
                         delta=p["delta"], borderType=b)
    return f, max(1, p["ksize"] // 2) + 1, False


def op_erode_dilate(kernel_id):
    cvf = cv2.erode if kernel_id == "erode" else cv2.dilate

    def make(p, _src):
        se = cv2.getStructuringElement(CV_SHAPE[p["shape"]], (p["ksize"], p["ksize"]))

        def f(s, b, v):
            if b is None:  # neutral: OpenCV's default constant border
                return cvf(s, se, iterations=p["iterations"])
            return cvf(s, se, iterations=p["iterations"], borderType=b, borderValue=scalar(v))
        return f, (p["ksize"] // 2) * p["iterations"] + 1, True
    return make


def op_box(p, _src):
    k = p["ksize"]

    def f(s, b, _v):
        return cv2.boxFilter(s, -1, (k, k), normalize=p["normalize"], borderType=b)
    return f, k // 2 + 1, False


def bilateral_radius(p: dict) -> int:
    ss = p["sigma_space"] if p["sigma_space"] > 0 else 1.0
    r = p["d"] // 2 if p["d"] > 0 else int(np.rint(ss * 1.5))
    return max(r, 1)


def op_bilateral(p, _src):
    def f(s, b, _v):
        return cv2.bilateralFilter(s, p["d"], p["sigma_color"], p["sigma_space"], borderType=b)
    return f, bilateral_radius(p) + 1, False


def box_division_is_path_independent(p: dict, src: np.ndarray) -> bool:
    """OpenCV divides normalised u16 box sums (and u8 sums of windows above 256 pixels) in
    float32 in its SIMD loop (`v_round(v_cvt_f32(S) * (float)(1/d))`) and in double in the
    scalar tail, so which pixels take which path depends on the CPU's vector width. True when
    both divisions give the same result for every pixel of this case."""
    dt, k = dtype_name(src), p["ksize"]
    d = k * k
    if not p["normalize"] or dt == "f32" or (dt == "u8" and d <= 256):
        return True
    r = k // 2
    padded = cv2.copyMakeBorder(src, r, r, r, r, CV_BORDER[p["border"]],
                                value=scalar(p["border_value"])).astype(np.int64)
    if padded.ndim == 2:
        padded = padded[..., None]
    c = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0), (0, 0)))
    h, w = src.shape[:2]
    sums = c[k:k + h, k:k + w] - c[:h, k:k + w] - c[k:k + h, :w] + c[:h, :w]
    in_double = np.rint(sums * (1.0 / d))
    in_float = np.rint(sums.astype(np.float32) * np.float32(1.0 / d))
    return bool(np.array_equal(in_double, in_float))


DBL_EPSILON = float(np.finfo(np.float64).eps)


def convert_model(src: np.ndarray, dt: str, scale: float, offset: float) -> np.ndarray:
    """`src.convertTo(dst, depth(dt), scale, offset)` as OpenCV 5.0.0 computes it for u8/u16/
    f32 in and out (cv2 has no binding for Mat::convertTo, so the generator computes it; the
    model is checked against cv2.normalize, which calls convertTo, by `check_convert_model`).

    Without scaling (|scale - 1| and |offset| below DBL_EPSILON) it is a plain conversion.
    Otherwise `cvt_32f`: a float32 fused multiply-add `x * (float)scale + (float)offset` with a
    single rounding (x·a is exact in long double; the sum is rounded once more, to 64 bits,
    before the float32 rounding), then saturate_cast: round half to even and clamp."""
    if abs(scale - 1) < DBL_EPSILON and abs(offset) < DBL_EPSILON:
        v = src.astype(np.float64)
    else:
        a, b = np.longdouble(np.float32(scale)), np.longdouble(np.float32(offset))
        v = (src.astype(np.longdouble) * a + b).astype(np.float32).astype(np.float64)
    if dt == "f32":
        return v.astype(np.float32)
    hi = 255 if dt == "u8" else 65535
    return np.clip(np.rint(v), 0, hi).astype(NP_DTYPE[dt])


def normalize_scale_shift(src: np.ndarray, a: float, b: float, dt: str) -> tuple[float, float]:
    """The convertTo arguments cv2.normalize(NORM_MINMAX) derives (OpenCV 5 normalize)."""
    smin, smax = float(src.min()), float(src.max())
    dmin, dmax = min(a, b), max(a, b)
    scale = (dmax - dmin) * (1.0 / (smax - smin) if smax - smin > DBL_EPSILON else 0.0)
    if dt == "f32":
        scale = float(np.float32(scale))
        return scale, float(np.float32(dmin)) - float(np.float32(smin * scale))
    return scale, dmin - smin * scale


def check_convert_model(src: np.ndarray, dt: str) -> None:
    """cv2.normalize is `convertTo` with a scale and shift it derives from the data: compare
    it with convert_model for this dtype pair, with several ranges (ties included)."""
    for a, b in ((0.0, 1.0), (-3.3, 7.1), (10.0, 1e4), (0.0, 255.0), (-1e5, 1e5), (0.5, 2.5)):
        got = cv2.normalize(src, None, a, b, cv2.NORM_MINMAX, dtype=CV_DEPTH[dt])
        scale, shift = normalize_scale_shift(src, a, b, dt)
        want = convert_model(src, dt, scale, shift)
        if not same(got, want):
            raise SystemExit(f"convert model differs from cv2.normalize for {dtype_name(src)} -> "
                             f"{dt}, range ({a}, {b}): {int(np.sum(got != want))} values")


def filter_with_border(make_op, p: dict, src: np.ndarray, tol: dict | None = None):
    """Computes a border-taking filter as OpenCV does, and checks it against the definition
    "pad with copyMakeBorder, filter, crop" (for `iterations` n: n such padded passes).

    Returns (output, how, notes). `how` is "native", or "emulated" where OpenCV rejects the
    border mode or takes no border value for BORDER_CONSTANT: then the output is the padded
    computation, still made by OpenCV calls.

    `tol` (bilateral only): IPP on/off and native/padded may differ within this tolerance
    (OpenCV's own code paths differ by 1 LSB there); such differences become notes."""
    fn, _, native_value = make_op(p, src)
    iters = p.get("iterations", 1)
    fn1, radius1, _ = make_op(dict(p, iterations=1), src)
    border, value = p["border"], float(p.get("border_value", 0.0))
    notes = []

    if border == "neutral":
        out, bad = run_configs(lambda: fn(src, None, 0.0), tol, notes)
        seq = src
        for _ in range(iters):
            seq = fn1(seq, None, 0.0)
        if not same(out, seq):
            raise SystemExit(f"iterations={iters} is not {iters} single passes")
        return out, "native", [f"differs with {x}" for x in bad]

    def emulated():
        s = src
        for _ in range(iters):
            s = pad_then(lambda t: fn1(t, cv2.BORDER_REFLECT_101, 0.0), s, border, value,
                         radius1)
        return s

    def compare(native, padded, what):
        if not same(native, padded):
            d = max_diff(native, padded)
            if tol is not None and tolerance_error(tol, native, padded) <= tol.get(
                    "rel", tol.get("abs")):
                notes.append(f"{what} vs padded: max diff {d:.3g} (within the tolerance)")
                return
            if native.dtype != np.float32 or d > 1e-4:
                raise SystemExit(f"{what} differs from padding: max diff {d}")
            notes.append(f"{what} vs padded: f32 max diff {d:.3g} (relative to max(1, |x|))")

    if border == "constant" and value != 0 and not native_value:
        # GaussianBlur/Sobel take no borderValue: their BORDER_CONSTANT is always 0.
        # Check the emulation where OpenCV can do it natively: value 0.
        padded0 = pad_then(lambda t: fn1(t, cv2.BORDER_REFLECT_101, 0.0), src, "constant", 0.0,
                           radius1)
        compare(fn(src, cv2.BORDER_CONSTANT, 0.0), padded0, "native constant 0")
        out, bad = run_configs(emulated, tol, notes)
        notes.insert(0, "emulated: cv2 has no border value here; copyMakeBorder("
                     "BORDER_CONSTANT, value) then the filter, cropped")
        return out, "emulated", notes + [f"differs with {x}" for x in bad]
    try:
        out, bad = run_configs(lambda: fn(src, CV_BORDER[border], value), tol, notes)
    except cv2.error as e:
        out, bad = run_configs(emulated, tol, notes)
        why = cv_error_text(e)
        notes.insert(0, f"emulated: OpenCV rejects BORDER_{border.upper()} here ({why}); "
                     f"copyMakeBorder then the filter, cropped"
                     + (f", {iters} times" if iters > 1 else ""))
        return out, "emulated", notes + [f"differs with {x}" for x in bad]
    compare(out, emulated(), f"native border {border}")
    return out, "native", notes + [f"differs with {x}" for x in bad]


def f64_reference(kernel: str, p: dict, src: np.ndarray) -> np.ndarray:
    """The float64 evaluation of a float32-output filter (same taps and borders as OpenCV,
    no float32 rounding). Used to check the fixture and to measure OpenCV's own float32
    rounding error against the tolerance."""
    from scipy import ndimage  # only needed for these checks

    if kernel == "gaussian_blur":
        def k_of(ks, s):
            if ks == 0:
                ks = int(np.rint(s * 4 * 2 + 1)) | 1  # float path: 4 sigma
            # OpenCV's float path filters with the float32-cast double kernel.
            return cv2.getGaussianKernel(ks, s, cv2.CV_64F).ravel().astype(np.float32)
        kx = k_of(p["ksize"], p["sigma"])
        ky = k_of(p["ksize"], p["sigma_y"] or p["sigma"])
        scale, delta = 1.0, 0.0
    else:
        kx, ky = cv2.getDerivKernels(p["dx"], p["dy"], p["ksize"], normalize=False,
                                     ktype=cv2.CV_64F)
        scale, delta = p["scale"], p["delta"]
    kx, ky = kx.ravel().astype(np.float64), ky.ravel().astype(np.float64)
    r = max(len(kx), len(ky)) // 2 + 1
    padded = cv2.copyMakeBorder(src, r, r, r, r, CV_BORDER[p["border"]],
                                value=scalar(p["border_value"])).astype(np.float64)
    out = ndimage.correlate1d(padded, kx, axis=1, mode="constant")
    out = ndimage.correlate1d(out, ky, axis=0, mode="constant")
    return out[r:r + src.shape[0], r:r + src.shape[1]] * scale + delta


def tolerance_error(tol: dict, expected: np.ndarray, actual: np.ndarray) -> float:
    """How much of the tolerance `actual` uses, in the tolerance's own units."""
    e, a = expected.astype(np.float64), actual.astype(np.float64)
    if "rel" in tol:
        return float(np.max(np.abs(a - e) / np.maximum(1.0, np.abs(e)), initial=0.0))
    return float(np.max(np.abs(a - e), initial=0.0))


# --------------------------------------------------------------------------------------------
# Cases


class Builder:
    def __init__(self, inputs: dict[str, np.ndarray]):
        self.inputs = inputs
        self.used_inputs: set[str] = set()
        self.cases: list[dict] = []
        self.outputs: dict[str, np.ndarray] = {}
        self.rejected: list[tuple[str, str]] = []
        self.emulated: list[tuple[str, str]] = []
        self.notes: list[tuple[str, str]] = []
        self.excluded: list[tuple[str, str]] = []

    def add(self, kernel: str, given: dict, inp: str, name: str | None = None):
        src = self.inputs[inp]
        p = dict(DEFAULTS[kernel])
        p.update(given)
        dt = dtype_name(src)
        c = 1 if src.ndim == 2 else src.shape[2]
        if name is None:
            tag = "_".join(f"{k}{v}" if not isinstance(v, str) else v
                           for k, v in given.items()) or "defaults"
            name = f"{kernel}_{tag}_{inp}"
        name = name.replace(".", "p").replace("-", "m")
        info = {}
        how, notes = "native", []
        try:
            if kernel == "gaussian_blur":
                out, how, notes = filter_with_border(op_gaussian, p, src)
                tol = F32_GAUSS if dt == "f32" else EXACT
                call = (f"cv2.GaussianBlur(src, ({p['ksize']}, {p['ksize']}), "
                        f"sigmaX={p['sigma']}, sigmaY={p['sigma_y']}, "
                        f"borderType={border_expr(p)})")
            elif kernel == "sobel":
                out, how, notes = filter_with_border(op_sobel, p, src)
                tol = F32_SOBEL if p["out"] == "f32" else EXACT
                call = (f"cv2.Sobel(src, {'cv2.CV_16S' if p['out'] == 'i16' else 'cv2.CV_32F'}, "
                        f"{p['dx']}, {p['dy']}, ksize={p['ksize']}, scale={p['scale']}, "
                        f"delta={p['delta']}, borderType={border_expr(p)})")
            elif kernel in ("erode", "dilate"):
                out, how, notes = filter_with_border(op_erode_dilate(kernel), p, src)
                tol = EXACT
                bt = "" if p["border"] == "neutral" else (
                    f", borderType={border_expr(p)}, borderValue={scalar(p['border_value'])}")
                call = (f"cv2.{kernel}(src, cv2.getStructuringElement({shape_expr(p)}, "
                        f"({p['ksize']}, {p['ksize']})), iterations={p['iterations']}{bt})")
            elif kernel == "morphology":
                se = cv2.getStructuringElement(CV_SHAPE[p["shape"]], (p["ksize"], p["ksize"]))
                out, bad = run_configs(lambda: cv2.morphologyEx(
                    src, CV_MORPH_OP[p["op"]], se, iterations=p["iterations"]))
                notes = [f"differs with {x}" for x in bad]
                tol = EXACT
                call = (f"cv2.morphologyEx(src, cv2.MORPH_{p['op'].upper()}, "
                        f"cv2.getStructuringElement({shape_expr(p)}, ({p['ksize']}, "
                        f"{p['ksize']})), iterations={p['iterations']})")
            elif kernel == "median_blur":
                out, bad = run_configs(lambda: cv2.medianBlur(src, p["ksize"]))
                notes = [f"differs with {x}" for x in bad]
                tol = EXACT
                call = f"cv2.medianBlur(src, {p['ksize']})"
            elif kernel == "threshold":
                t = CV_THRESH[p["type"]] | (cv2.THRESH_OTSU if p["otsu"] else 0)
                (T, out), bad = run_configs(
                    lambda: cv2.threshold(src, p["thresh"], p["maxval"], t))
                notes = [f"differs with {x}" for x in bad]
                if p["otsu"]:
                    info["otsu_threshold"] = float(T)
                tol = EXACT
                call = (f"cv2.threshold(src, {p['thresh']}, {p['maxval']}, "
                        f"cv2.THRESH_{p['type'].upper()}"
                        f"{' | cv2.THRESH_OTSU' if p['otsu'] else ''})")
            elif kernel == "connected_components":
                (n, out), bad = run_configs(lambda: cv2.connectedComponents(
                    src, connectivity=p["connectivity"], ltype=cv2.CV_32S))
                notes = [f"differs with {x}" for x in bad]
                info["labels"] = int(n)
                tol = EXACT
                call = (f"cv2.connectedComponents(src, connectivity={p['connectivity']}, "
                        f"ltype=cv2.CV_32S)")
            elif kernel == "box_blur":
                out, how, notes = filter_with_border(op_box, p, src)
                tol = F32_BOX if dt == "f32" else EXACT
                call = (f"cv2.boxFilter(src, -1, ({p['ksize']}, {p['ksize']}), "
                        f"normalize={p['normalize']}, borderType={border_expr(p)})")
                if not box_division_is_path_independent(p, src):
                    self.excluded.append((name, "OpenCV divides these window sums in float32 "
                                                "in its SIMD loop and in double in the scalar "
                                                "tail, which disagree here: the expected "
                                                "output would depend on the CPU's vector "
                                                "width"))
                    return
            elif kernel == "bilateral_filter":
                tol = F32_BILATERAL if dt == "f32" else U8_BILATERAL
                out, how, notes = filter_with_border(op_bilateral, p, src, tol)
                call = (f"cv2.bilateralFilter(src, {p['d']}, {p['sigma_color']}, "
                        f"{p['sigma_space']}, borderType={border_expr(p)})")
            elif kernel == "adaptive_threshold":
                out, bad = run_configs(lambda: cv2.adaptiveThreshold(
                    src, p["maxval"], CV_ADAPTIVE[p["method"]], CV_THRESH[p["type"]],
                    p["block_size"], p["c"]))
                notes = [f"differs with {x}" for x in bad]
                tol = EXACT
                call = (f"cv2.adaptiveThreshold(src, {p['maxval']}, "
                        f"cv2.ADAPTIVE_THRESH_{p['method'].upper()}_C, "
                        f"cv2.THRESH_{p['type'].upper()}, {p['block_size']}, {p['c']})")
            elif kernel == "canny":
                out, bad = run_configs(lambda: cv2.Canny(
                    src, p["low"], p["high"], apertureSize=p["aperture"],
                    L2gradient=p["l2_gradient"]))
                notes = [f"differs with {x}" for x in bad]
                tol = EXACT
                call = (f"cv2.Canny(src, {p['low']}, {p['high']}, apertureSize={p['aperture']}, "
                        f"L2gradient={p['l2_gradient']})")
            elif kernel == "convert":
                check_convert_model(src, p["dtype"])
                out = convert_model(src, p["dtype"], p["scale"], p["offset"])
                how = "emulated"
                notes = ["emulated: cv2 has no binding for Mat::convertTo; computed by the "
                         "generator's model of OpenCV's cvt_32f (float32 fused multiply-add, "
                         "round half to even, saturate), which reproduces cv2.normalize (a "
                         "convertTo call) exactly for this dtype pair"]
                tol = EXACT
                call = (f"src.convertTo(dst, cv2.CV_{CV_DEPTH_NAME[p['dtype']]}, "
                        f"alpha={p['scale']}, beta={p['offset']})  # C++; see 'emulated'")
            elif kernel == "normalize":
                hi = p["max"] if p["max"] is not None else {"u8": 255, "u16": 65535,
                                                             "f32": 1.0}[dt]
                out, bad = run_configs(lambda: cv2.normalize(src, None, p["min"], hi,
                                                             cv2.NORM_MINMAX))
                notes = [f"differs with {x}" for x in bad]
                tol = F32_NORMALIZE if dt == "f32" else EXACT
                call = f"cv2.normalize(src, None, {p['min']}, {hi}, cv2.NORM_MINMAX)"
            elif kernel == "to_gray":
                code = {(3, "rgb"): "RGB2GRAY", (3, "bgr"): "BGR2GRAY",
                        (4, "rgb"): "RGBA2GRAY", (4, "bgr"): "BGRA2GRAY"}[(c, p["order"])]
                # f32: IPP and OpenCV's own code round differently (1 ULP apart), so no
                # exact f32 answer exists; KERNELS.md's "exact" holds for u8/u16.
                tol = F32_GRAY if dt == "f32" else EXACT
                notes = []
                out, bad = run_configs(lambda: cv2.cvtColor(src, getattr(cv2, f"COLOR_{code}")),
                                       tol if dt == "f32" else None, notes)
                notes += [f"differs with {x}" for x in bad]
                call = f"cv2.cvtColor(src, cv2.COLOR_{code})"
            else:
                raise KeyError(kernel)
        except SystemExit as e:
            raise SystemExit(f"{name}: {e}") from e
        except cv2.error as e:
            self.rejected.append((name, cv_error_text(e)))
            return
        if any(n.startswith("differs with") for n in notes):
            raise SystemExit(f"{name}: OpenCV output depends on the configuration: {notes}")
        assert out.shape[:2] == src.shape[:2], name
        if out.dtype == np.float32 and kernel in ("gaussian_blur", "sobel"):
            ref = f64_reference(kernel, p, src)
            err = tolerance_error(tol, ref, out)
            limit = tol.get("rel", tol.get("abs"))
            if err > limit:
                # Not even the exact result would pass: such a case cannot tell a right
                # implementation from a wrong one. Leave it out and say so.
                self.excluded.append((name, f"OpenCV's float32 result is {err:.3g} from the "
                                            f"float64 evaluation, above the tolerance {tol}"))
                return
            if err > limit / 100 and dt != "f32":
                raise SystemExit(f"float64 reference disagrees: {err}")
            info_f64 = {"opencv_vs_f64": float(f"{err:.3g}")}
        else:
            info_f64 = {}
        if out.ndim == 3 and out.shape[2] == 1:
            out = out[:, :, 0]
        if any(cs["name"] == name for cs in self.cases):
            raise SystemExit(f"duplicate case name {name}")
        if how == "emulated":
            self.emulated.append((name, notes[0]))
        for n in notes:
            if not n.startswith("emulated"):
                self.notes.append((name, n))
        self.used_inputs.add(inp)
        self.outputs[name] = out
        case = {
            "name": name,
            "kernel": kernel,
            "params": given,
            "input": f"data/in_{inp}.npy.gz",
            "output": None,  # filled in when written (identical outputs share one file)
            "tolerance": tol,
            "info": info,
            "input_desc": f"{dt} {src.shape[1]}x{src.shape[0]}x{c}",
            "opencv": call,
            **info_f64,
        }
        if how == "emulated":
            case["emulated"] = notes[0].removeprefix("emulated: ")
        self.cases.append(case)


def border_expr(p: dict) -> str:
    return {"reflect101": "cv2.BORDER_REFLECT_101", "reflect": "cv2.BORDER_REFLECT",
            "replicate": "cv2.BORDER_REPLICATE", "constant": "cv2.BORDER_CONSTANT",
            "wrap": "cv2.BORDER_WRAP"}[p["border"]]


def shape_expr(p: dict) -> str:
    return f"cv2.MORPH_{p['shape'].upper()}"


def build_cases(b: Builder) -> None:
    dts = list(DTYPES)
    gray = [f"{dt}_c1" for dt in dts]
    both = [f"{dt}_c{c}" for dt in dts for c in (1, 3)]
    borders = ["reflect", "replicate", "constant", "wrap"]

    def with_border(border: str, dt: str) -> dict:
        g = {"border": border}
        if border == "constant":
            g["border_value"] = BORDER_VALUE[dt]
        return g

    # ---- gaussian_blur
    for inp in both + ["u8_c4"]:
        b.add("gaussian_blur", {}, inp)
    for dt in dts:
        for border in borders:
            b.add("gaussian_blur", with_border(border, dt), f"{dt}_c1")
    for border in ("constant", "wrap"):
        b.add("gaussian_blur", with_border(border, "u8"), "u8_c3")
    b.add("gaussian_blur", {"border": "constant", "border_value": 0}, "u8_c1")
    b.add("gaussian_blur", {"border": "constant", "border_value": 0}, "f32_c1")
    for inp in gray:
        b.add("gaussian_blur", {"ksize": 0, "sigma": 2.0}, inp)
        b.add("gaussian_blur", {"ksize": 7, "sigma": 1.2, "sigma_y": 2.5}, inp)
        b.add("gaussian_blur", {"ksize": 3, "sigma": 0}, inp)
    b.add("gaussian_blur", {"ksize": 7, "sigma": 1.2, "sigma_y": 2.5}, "u16_c3")
    b.add("gaussian_blur", {"ksize": 0, "sigma": 1.0, "sigma_y": 2.0}, "u8_c1")
    b.add("gaussian_blur", {"ksize": 0, "sigma": 1.0, "sigma_y": 2.0}, "f32_c3")
    b.add("gaussian_blur", {"ksize": 11, "sigma": 0}, "u8_c1")
    b.add("gaussian_blur", {"ksize": 1, "sigma": 0}, "u16_c1")
    b.add("gaussian_blur", {}, "u8_c1_big")
    b.add("gaussian_blur", {"ksize": 0, "sigma": 3.0}, "u8_c1_big")

    # ---- median_blur (border is always replicate)
    for inp in both:
        for k in (3, 5):
            b.add("median_blur", {"ksize": k}, inp)
    for inp in ("u8_c1", "u8_c3"):
        b.add("median_blur", {"ksize": 7}, inp)
    b.add("median_blur", {"ksize": 15}, "u8_c1")
    b.add("median_blur", {}, "u8_c4")

    # ---- erode / dilate
    for kernel in ("erode", "dilate"):
        for inp in both + ["u8_c4"]:
            b.add(kernel, {}, inp)
        for dt in dts:
            for border in ["reflect101"] + borders:
                b.add(kernel, with_border(border, dt), f"{dt}_c1")
        b.add(kernel, with_border("constant", "u8"), "u8_c3")
        b.add(kernel, {"border": "constant", "border_value": 0}, "u16_c1")
        b.add(kernel, {"shape": "ellipse", "ksize": 5}, "u8_c1")
        b.add(kernel, {"shape": "ellipse", "ksize": 7}, "u16_c1")
        b.add(kernel, {"shape": "ellipse", "ksize": 5}, "f32_c3")
        b.add(kernel, {"shape": "cross", "ksize": 5}, "u8_c3")
        b.add(kernel, {"shape": "cross", "ksize": 3}, "f32_c1")
        b.add(kernel, {"ksize": 1}, "u8_c1")
        # iterations: OpenCV folds n passes of a full rect into one pass of a bigger rect;
        # other shapes are applied n times (each pass with the border).
        b.add(kernel, {"iterations": 2}, "u8_c1")
        b.add(kernel, {"iterations": 2}, "f32_c3")
        b.add(kernel, {"shape": "ellipse", "ksize": 5, "iterations": 2}, "u8_c1")
        b.add(kernel, {"shape": "cross", "iterations": 3}, "u16_c1")
        b.add(kernel, {"iterations": 2, "border": "reflect101"}, "u8_c1")
        b.add(kernel, {"iterations": 2, "border": "replicate"}, "u16_c1")
        b.add(kernel, {"shape": "cross", "iterations": 2, "border": "reflect"}, "u8_c1")
        b.add(kernel, {"shape": "ellipse", "ksize": 5, "iterations": 2,
                       **with_border("constant", "f32")}, "f32_c1")
        b.add(kernel, {"iterations": 2, **with_border("constant", "u8")}, "u8_c1")
        b.add(kernel, {"iterations": 2, "border": "wrap"}, "u8_c1")

    # ---- morphology (border is always the neutral default)
    for op in CV_MORPH_OP:
        for inp in both:
            b.add("morphology", {"op": op}, inp)
        b.add("morphology", {"op": op, "shape": "ellipse", "ksize": 5, "iterations": 2}, "u8_c1")
        b.add("morphology", {"op": op, "shape": "cross", "ksize": 5}, "u16_c3")
        b.add("morphology", {"op": op, "shape": "ellipse", "ksize": 3}, "f32_c1")
    b.add("morphology", {"op": "gradient", "ksize": 7, "iterations": 3}, "u8_c4")

    # ---- sobel (1 channel; u8 -> i16/f32, u16/f32 -> f32)
    sob = [
        ({"dx": 1, "dy": 0, "ksize": 3, "out": "i16"}, ["u8"]),
        ({}, dts),  # dx 1, ksize 3, f32
        ({"dx": 0, "dy": 1, "ksize": 3, "out": "i16"}, ["u8"]),
        ({"dx": 0, "dy": 1}, dts),
        ({"dx": 1, "dy": 1, "ksize": 3, "out": "i16"}, ["u8"]),
        ({"dx": 1, "dy": 1, "ksize": 5}, dts),
        ({"dx": 2, "dy": 0, "ksize": 5, "out": "i16"}, ["u8"]),
        ({"dx": 0, "dy": 2, "ksize": 3}, dts),
        ({"dx": 2, "dy": 1, "ksize": 7}, ["u16", "f32"]),
        ({"dx": 1, "dy": 0, "ksize": 7}, ["u8", "f32"]),
        ({"dx": 0, "dy": 1, "ksize": 7, "out": "i16"}, ["u8"]),  # saturates int16
        ({"dx": 1, "dy": 0, "ksize": 1, "out": "i16"}, ["u8"]),
        ({"dx": 1, "dy": 0, "ksize": 1}, ["u16", "f32"]),
        ({"dx": 0, "dy": 2, "ksize": 1, "out": "i16"}, ["u8"]),
        ({"dx": 0, "dy": 1, "ksize": 1}, ["f32"]),
        ({"dx": 1, "dy": 1, "ksize": 1}, ["u8"]),
        ({"dx": 1, "dy": 0, "ksize": 3, "out": "i16", "scale": 0.5, "delta": 3}, ["u8"]),
        ({"dx": 0, "dy": 1, "ksize": 5, "scale": 0.25, "delta": -1.5}, ["u8", "u16", "f32"]),
    ]
    for given, for_dts in sob:
        for dt in for_dts:
            b.add("sobel", given, f"{dt}_c1")
    for dt in dts:
        for border in borders:
            g = {"ksize": 3, **with_border(border, dt)}
            if dt == "u8":
                g["out"] = "i16"
            b.add("sobel", g, f"{dt}_c1")
    b.add("sobel", {"dx": 0, "dy": 1, "ksize": 5, **with_border("constant", "u8")}, "u8_c1")
    b.add("sobel", {"border": "constant", "border_value": 0}, "f32_c1")

    # ---- threshold (1 channel)
    types = list(CV_THRESH)
    for t in types:
        b.add("threshold", {"type": t}, "u8_c1")
        b.add("threshold", {"type": t, "thresh": 32767.5, "maxval": 65535}, "u16_c1")
        b.add("threshold", {"type": t, "thresh": 0.5, "maxval": 1.0}, "f32_c1")
        b.add("threshold", {"type": t, "otsu": True}, "u8_c1")
        b.add("threshold", {"type": t, "otsu": True, "maxval": 65535}, "u16_c1")
    b.add("threshold", {"thresh": 127.7}, "u8_c1")  # floored to 127
    b.add("threshold", {"thresh": 99.2, "maxval": 200, "type": "binary_inv"}, "u8_c1")
    b.add("threshold", {"thresh": 128, "maxval": 127.5}, "u8_c1")  # maxval rounds half to even
    b.add("threshold", {"thresh": -1}, "u8_c1")
    b.add("threshold", {"thresh": 255, "type": "binary_inv"}, "u8_c1")
    b.add("threshold", {"thresh": 300, "type": "tozero"}, "u8_c1")
    b.add("threshold", {"thresh": -0.5, "type": "trunc"}, "u8_c1")
    b.add("threshold", {"thresh": 20000.9, "maxval": 40000}, "u16_c1")
    b.add("threshold", {"thresh": 0.3, "maxval": 2.5, "type": "binary_inv"}, "f32_c1")
    b.add("threshold", {"thresh": -0.1, "type": "trunc"}, "f32_c1")
    b.add("threshold", {"otsu": True}, "u8_c1_big")

    # ---- connected_components (u8 mask -> i32 labels)
    for inp in ("mask", "mask_big", "mask_checker", "mask_empty", "mask_full", "u8_c1"):
        for conn in (4, 8):
            b.add("connected_components", {"connectivity": conn}, inp)
    b.add("connected_components", {}, "mask")

    # ---- box_blur (boxFilter, ddepth -1; OpenCV takes no border value and rejects WRAP)
    for inp in both + ["u8_c4", "u16_c4", "f32_c4"]:
        b.add("box_blur", {}, inp)
    for dt in dts:
        for border in borders:
            b.add("box_blur", with_border(border, dt), f"{dt}_c1")
        b.add("box_blur", {"normalize": False}, f"{dt}_c1")  # u8/u16 saturate
    b.add("box_blur", {"border": "constant", "border_value": 0}, "u8_c1")
    b.add("box_blur", {"border": "constant", "border_value": 0}, "f32_c1")
    b.add("box_blur", {"ksize": 3, "normalize": False}, "u8_c3")
    b.add("box_blur", {"normalize": False, **with_border("constant", "u8")}, "u8_c1")
    b.add("box_blur", {"ksize": 7, "normalize": False, "border": "wrap"}, "f32_c3")
    b.add("box_blur", {"ksize": 1}, "u8_c1")
    b.add("box_blur", {"ksize": 3}, "u16_c3")
    b.add("box_blur", {"ksize": 11, "border": "wrap"}, "u8_c3")
    b.add("box_blur", {"ksize": 13}, "u16_c1")
    b.add("box_blur", {"ksize": 15}, "u8_c1")  # largest u8 window with the fast division
    b.add("box_blur", {"ksize": 17}, "u8_c1")  # above 256 pixels: divided in float/double
    b.add("box_blur", {"ksize": 21, "border": "replicate"}, "u16_c1")
    b.add("box_blur", {"ksize": 31}, "f32_c1")
    b.add("box_blur", {"ksize": 101, "border": "reflect"}, "u8_c1")  # window above image size

    # ---- bilateral_filter (u8/f32, 1/3 channels; OpenCV takes no border value)
    for inp in ("u8_c1", "u8_c3", "f32_c1", "f32_c3"):
        b.add("bilateral_filter", {}, inp)
    for dt in ("u8", "f32"):
        for border in borders:
            b.add("bilateral_filter", {"d": 5, "sigma_color": 30 if dt == "u8" else 0.15,
                                       "sigma_space": 5, **with_border(border, dt)},
                  f"{dt}_c1")
    b.add("bilateral_filter", {"border": "constant", "border_value": 0}, "u8_c3")
    b.add("bilateral_filter", {"sigma_color": 0.3}, "f32_c1")  # about 75/255
    b.add("bilateral_filter", {"sigma_color": 0.3}, "f32_c3")
    b.add("bilateral_filter", {"d": 5, "sigma_color": 30, "sigma_space": 5}, "u8_c3")
    b.add("bilateral_filter", {"d": 0, "sigma_color": 50, "sigma_space": 2}, "u8_c1")
    b.add("bilateral_filter", {"d": -1, "sigma_color": 0.2, "sigma_space": 1.5}, "f32_c3")
    b.add("bilateral_filter", {"d": 1, "sigma_color": 40, "sigma_space": 3}, "u8_c1")
    b.add("bilateral_filter", {"d": 7, "sigma_color": 0, "sigma_space": 0}, "u8_c3")
    b.add("bilateral_filter", {"d": 15, "sigma_color": 0.5, "sigma_space": 10}, "f32_c1")
    b.add("bilateral_filter", {"d": 3, "sigma_color": 20, "sigma_space": 1}, "u8_c1")
    b.add("bilateral_filter", {}, "u8_c1_big")

    # ---- adaptive_threshold (u8, 1 channel)
    for method in ("mean", "gaussian"):
        for t in ("binary", "binary_inv"):
            b.add("adaptive_threshold", {"method": method, "type": t}, "u8_c1")
            for c_ in (0, -3.5, 2.5, 0.5):
                b.add("adaptive_threshold", {"method": method, "type": t, "c": c_}, "u8_c1")
        for block in (3, 5, 25, 51):
            b.add("adaptive_threshold", {"method": method, "block_size": block}, "u8_c1")
        b.add("adaptive_threshold", {"method": method}, "u8_c1_big")
        b.add("adaptive_threshold", {"method": method, "block_size": 7, "c": -1}, "u8_c1_big")
    b.add("adaptive_threshold", {"maxval": 127.5}, "u8_c1")  # rounds half to even
    b.add("adaptive_threshold", {"maxval": 300, "type": "binary_inv"}, "u8_c1")  # saturates
    b.add("adaptive_threshold", {"maxval": 0}, "u8_c1")

    # ---- canny (u8, 1 channel)
    for inp in ("u8_c1", "u8_c1_big"):
        b.add("canny", {}, inp)
        b.add("canny", {"l2_gradient": True}, inp)
        b.add("canny", {"low": 30, "high": 90}, inp)
        b.add("canny", {"aperture": 5, "low": 400, "high": 1200}, inp)
        b.add("canny", {"aperture": 7, "low": 3000, "high": 9000, "l2_gradient": True}, inp)
    for l2 in (False, True):
        b.add("canny", {"aperture": 5, "low": 200, "high": 600, "l2_gradient": l2}, "u8_c1")
        b.add("canny", {"aperture": 7, "low": 1500, "high": 5000, "l2_gradient": l2}, "u8_c1")
    b.add("canny", {"low": 150, "high": 50}, "u8_c1")  # swapped
    b.add("canny", {"low": 60.7, "high": 120.2}, "u8_c1")  # floored
    b.add("canny", {"low": 0, "high": 0}, "u8_c1")
    b.add("canny", {"low": 10, "high": 10, "l2_gradient": True}, "u8_c1")
    b.add("canny", {"low": 5000, "high": 1e5}, "u8_c1")  # nothing survives

    # ---- convert (every input dtype -> u8/u16/f32)
    conv = [
        ("u8_c1", "u8", [(1, 0), (0.5, 0), (-1, 255), (2, -10.25), (1, 0.5)]),
        ("u8_c1", "u16", [(1, 0), (300, -0.5), (-1, 0), (257, 0)]),
        ("u8_c1", "f32", [(1, 0), (1 / 255, 0), (-0.5, 3)]),
        ("u16_c1", "u8", [(1, 0), (1 / 257, 0), (0.5, 0.5), (-0.01, 300)]),
        ("u16_c1", "u16", [(1, 0), (0.5, 0), (-1, 65535), (3, -1000)]),
        ("u16_c1", "f32", [(1, 0), (1 / 65535, 0), (-2, 1e5)]),
        ("f32_ties", "u8", [(1, 0), (2, 0.5), (-1, 0), (1, 0.25)]),
        ("f32_ties", "u16", [(1, 0), (2, 0), (-1, 65535)]),
        ("f32_ties", "f32", [(1, 0), (3, -0.1), (-1e-3, 7)]),
        ("f32_c1", "u8", [(255, 0)]),
        ("f32_c1", "u16", [(65535, 0)]),
        ("u8_c3", "f32", [(1, 0)]),
        ("u8_c4", "u16", [(257, 0)]),
        ("f32_c3", "u8", [(255, 0.5)]),
        ("u16_c4", "u8", [(1 / 256, 0)]),
    ]
    for inp, dt, pairs in conv:
        for scale, offset in pairs:
            g = {"dtype": dt}
            if scale != 1:
                g["scale"] = scale
            if offset != 0:
                g["offset"] = offset
            name = f"convert_{dtype_name(b.inputs[inp])}_to_{dt}" + "".join(
                f"_{k}{v:.6g}" for k, v in (("scale", scale), ("offset", offset))
                if k in g) + f"_{inp}"
            b.add("convert", g, inp, name=name)

    # ---- normalize (min-max over all channels together)
    for inp in both + ["u8_c4", "u16_c4", "f32_c4"]:
        b.add("normalize", {}, inp)
    b.add("normalize", {"min": 50, "max": 100}, "u8_c1")
    b.add("normalize", {"min": 255, "max": 0}, "u8_c3")  # swapped: OpenCV sorts the pair
    b.add("normalize", {"min": -100, "max": 70000}, "u16_c1")  # both ends saturate
    b.add("normalize", {"min": 1000, "max": 2000}, "u16_c3")
    b.add("normalize", {"min": -1, "max": 1}, "f32_c1")
    b.add("normalize", {"min": 10, "max": -10}, "f32_c3")
    b.add("normalize", {"min": 0, "max": 1}, "f32_ties")
    b.add("normalize", {}, "u8_flat")  # max == min: every pixel becomes `min`
    b.add("normalize", {"min": 3, "max": 9}, "u8_flat")
    b.add("normalize", {"min": 0, "max": 0}, "u8_c1")

    # ---- to_gray (3 or 4 channels -> 1)
    for inp in ("u8_c3", "u16_c3", "f32_c3", "u8_c4", "u16_c4", "f32_c4"):
        for order in ("rgb", "bgr"):
            b.add("to_gray", {"order": order} if order != "rgb" else {}, inp)


# --------------------------------------------------------------------------------------------
# Files


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    # mtime=0 and no file name: identical arrays give identical files on every run.
    return gzip.compress(data, compresslevel=9, mtime=0)


def render(b: Builder) -> dict[str, bytes]:
    """All files under tests/golden (relative path -> bytes)."""
    files: dict[str, bytes] = {}
    for inp in sorted(b.used_inputs):
        files[f"data/in_{inp}.npy.gz"] = gz(npy_bytes(b.inputs[inp]))
    by_hash: dict[str, str] = {}
    for case in b.cases:
        raw = npy_bytes(b.outputs[case["name"]])
        h = hashlib.sha256(raw).hexdigest()
        if h not in by_hash:
            by_hash[h] = f"data/out_{case['name']}.npy.gz"
            files[by_hash[h]] = gz(raw)
        case["output"] = by_hash[h]
    doc = {
        "generator": "tests/golden/generate.py",
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "seed": SEED,
        "tolerance_note": "abs: |actual - expected| <= abs; rel: |actual - expected| <= "
                          "rel * max(1, |expected|)",
        "rejected_by_opencv": [{"name": n, "error": e} for n, e in b.rejected],
        "excluded": [{"name": n, "why": e} for n, e in b.excluded],
        "cases": b.cases,
    }
    files["cases.json"] = (json.dumps(doc, indent=1) + "\n").encode()
    return files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if the committed files differ from a fresh run")
    args = ap.parse_args()
    for mod, want in (("cv2", cv2.__version__), ("numpy", np.__version__)):
        if want != EXPECTED_VERSIONS[mod]:
            print(f"warning: {mod} {want}, fixtures were made with {EXPECTED_VERSIONS[mod]}",
                  file=sys.stderr)
    b = Builder(make_inputs())
    build_cases(b)
    files = render(b)

    if args.check:
        stale = [p for p, data in files.items()
                 if not (HERE / p).exists() or (HERE / p).read_bytes() != data]
        extra = sorted(str(p.relative_to(HERE)) for p in DATA.glob("*.npy.gz")
                       if str(p.relative_to(HERE)) not in files)
        for p in stale:
            print(f"differs: {p}")
        for p in extra:
            print(f"not generated: {p}")
        return 1 if stale or extra else 0

    DATA.mkdir(exist_ok=True)
    for old in DATA.glob("*.npy.gz"):
        if str(old.relative_to(HERE)) not in files:
            old.unlink()
    for rel, data in files.items():
        path = HERE / rel
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    total = sum(len(d) for d in files.values())
    print(f"{len(b.cases)} cases, {len(files) - 1} data files, {total / 1e6:.2f} MB")
    for name, why in b.emulated:
        print(f"emulated  {name}: {why}")
    for name, why in b.rejected:
        print(f"rejected  {name}: {why}")
    for name, why in b.excluded:
        print(f"excluded  {name}: {why}")
    for name, why in b.notes:
        print(f"note      {name}: {why}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    sys.exit(main())
