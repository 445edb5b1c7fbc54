//! Type and colour conversions: OpenCV `convertTo`, `normalize(NORM_MINMAX)` and
//! `cvtColor(*2GRAY)`, bit-exact with OpenCV 5 on x86-64 in its default configuration.
//!
//! What OpenCV 5.0 (opencv-python-headless 5.0.0, IPP on, AVX-512 machine) was checked to do:
//! * `convertTo(dst, type, alpha, beta)`: when `|alpha - 1|` and `|beta|` are below
//!   `DBL_EPSILON` it is a plain `saturate_cast`; otherwise every element is computed in f32 as
//!   `fma(float(x), float(alpha), float(beta))` — a fused multiply-add, also in the scalar tails —
//!   except i32 → i32, which uses an f64 fma. Float → integer is `cvRound` (ties to even) then
//!   saturation; x86's `cvRound` gives `i32::MIN` for NaN and for results outside i32, so such
//!   values saturate to 0 for u8/u16 (not to the maximum).
//! * `normalize`: scale and shift from the whole image (all channels) in f64, rounded through
//!   f32 when the output is f32, then `convertTo`.
//! * `cvtColor` to grey: 15-bit fixed point (`9798 R + 19235 G + 3735 B`, `+2¹⁴ >> 15`) for
//!   u8 and u16; f32 with f32 weights and two fmas (see [`to_gray`]).

use rayon::prelude::*;
use yam_plugin_api::{
    kernels::{ConvertParams, NormalizeParams},
    DType, Image, PixelData, PluginError,
};

/// OpenCV `cvRound` as x86 computes it (`cvtsd2si`): ties to even; NaN, infinities and results
/// outside the i32 range give `i32::MIN`.
pub fn cv_round(v: f64) -> i32 {
    let r = v.round_ties_even();
    if (-2_147_483_648.0..=2_147_483_647.0).contains(&r) {
        r as i32
    } else {
        i32::MIN
    }
}

/// An input element type of [`convert_data`].
trait Src: Copy + Send + Sync {
    /// i32 → i32 conversions run in f64 (OpenCV `cvtScale32s`).
    const IS_I32: bool = false;
    /// The element as f32 (`cvtdq2ps` rounding for i32).
    fn to_f32(self) -> f32;
    /// The element as f64 (exact).
    fn to_f64(self) -> f64;
    /// `saturate_cast<D>(self)`.
    fn plain<D: Dst>(self) -> D;
}

/// An output element type of [`convert_data`].
trait Dst: Copy + Send + Sync {
    /// See [`Src::IS_I32`].
    const IS_I32: bool = false;
    /// `saturate_cast` from an integer.
    fn from_int(v: i64) -> Self;
    /// `saturate_cast` from f32.
    fn from_f32(v: f32) -> Self;
    /// `saturate_cast` from f64.
    fn from_f64(v: f64) -> Self;
    /// Wraps typed elements.
    fn wrap(v: Vec<Self>) -> PixelData;
}

macro_rules! int_src {
    ($($t:ty => $i32:expr),*) => {$(
        impl Src for $t {
            const IS_I32: bool = $i32;
            fn to_f32(self) -> f32 {
                self as f32
            }
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            fn plain<D: Dst>(self) -> D {
                D::from_int(i64::from(self))
            }
        }
    )*};
}
int_src!(u8 => false, u16 => false, i16 => false, i32 => true);

impl Src for f32 {
    fn to_f32(self) -> f32 {
        self
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn plain<D: Dst>(self) -> D {
        D::from_f32(self)
    }
}

macro_rules! int_dst {
    ($($t:ty => $variant:ident, $i32:expr),*) => {$(
        impl Dst for $t {
            const IS_I32: bool = $i32;
            fn from_int(v: i64) -> $t {
                v.clamp(i64::from(<$t>::MIN), i64::from(<$t>::MAX)) as $t
            }
            fn from_f32(v: f32) -> $t {
                Self::from_int(i64::from(cv_round(f64::from(v))))
            }
            fn from_f64(v: f64) -> $t {
                Self::from_int(i64::from(cv_round(v)))
            }
            fn wrap(v: Vec<$t>) -> PixelData {
                PixelData::$variant(v)
            }
        }
    )*};
}
int_dst!(u8 => U8, false, u16 => U16, false, i16 => I16, false, i32 => I32, true);

impl Dst for f32 {
    fn from_int(v: i64) -> f32 {
        v as f32
    }
    fn from_f32(v: f32) -> f32 {
        v
    }
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    fn wrap(v: Vec<f32>) -> PixelData {
        PixelData::F32(v)
    }
}

/// Elements per rayon task: conversions are cheap, so only large images are split.
const MIN_CHUNK: usize = 1 << 14;

fn convert_slice<S: Src, D: Dst>(src: &[S], scale: f64, shift: f64) -> Vec<D> {
    let it = src.par_iter().with_min_len(MIN_CHUNK);
    if (scale - 1.0).abs() < f64::EPSILON && shift.abs() < f64::EPSILON {
        it.map(|&x| x.plain()).collect()
    } else if S::IS_I32 && D::IS_I32 {
        it.map(|&x| D::from_f64(x.to_f64().mul_add(scale, shift)))
            .collect()
    } else {
        let (a, b) = (scale as f32, shift as f32);
        it.map(|&x| D::from_f32(x.to_f32().mul_add(a, b))).collect()
    }
}

fn convert_to<S: Src>(src: &[S], dtype: DType, scale: f64, shift: f64) -> PixelData {
    match dtype {
        DType::U8 => u8::wrap(convert_slice(src, scale, shift)),
        DType::U16 => u16::wrap(convert_slice(src, scale, shift)),
        DType::I16 => i16::wrap(convert_slice(src, scale, shift)),
        DType::I32 => i32::wrap(convert_slice(src, scale, shift)),
        DType::F32 => f32::wrap(convert_slice(src, scale, shift)),
    }
}

/// OpenCV `src.convertTo(dst, dtype, scale, shift)` on raw elements (see the module docs).
pub fn convert_data(src: &PixelData, dtype: DType, scale: f64, shift: f64) -> PixelData {
    match src {
        PixelData::U8(v) => convert_to(v, dtype, scale, shift),
        PixelData::U16(v) => convert_to(v, dtype, scale, shift),
        PixelData::I16(v) => convert_to(v, dtype, scale, shift),
        PixelData::I32(v) => convert_to(v, dtype, scale, shift),
        PixelData::F32(v) => convert_to(v, dtype, scale, shift),
    }
}

/// `convert`: `saturate(value·scale + offset)` into u8, u16 or f32, exactly as OpenCV
/// `convertTo` (f32 fma, round half to even; see the module docs for the edge cases).
pub fn convert(src: &Image, p: &ConvertParams) -> Result<Image, PluginError> {
    if !p.scale.is_finite() || !p.offset.is_finite() {
        return Err(PluginError::invalid(format!(
            "convert: scale {} / offset {} must be finite",
            p.scale, p.offset
        )));
    }
    if !matches!(p.dtype, DType::U8 | DType::U16 | DType::F32) {
        return Err(PluginError::invalid(format!(
            "convert: output dtype {} is not supported (u8, u16, f32)",
            p.dtype
        )));
    }
    Ok(Image {
        data: convert_data(&src.data, p.dtype, p.scale, p.offset),
        ..*src
    })
}

/// The default `max` of `normalize` for a dtype: the integer maximum (255, 65535, 32767,
/// 2147483647), 1.0 for f32.
pub fn default_max(dtype: DType) -> f64 {
    match dtype {
        DType::U8 => 255.0,
        DType::U16 => 65535.0,
        DType::I16 => 32767.0,
        DType::I32 => 2_147_483_647.0,
        DType::F32 => 1.0,
    }
}

/// Smallest and largest element as f64 over all channels; NaN elements are skipped, and an
/// image without a number gives (0, 0).
fn min_max(data: &PixelData) -> (f64, f64) {
    fn fold<T: Src>(v: &[T]) -> (f64, f64) {
        v.par_iter()
            .with_min_len(MIN_CHUNK)
            .fold(
                || (f64::INFINITY, f64::NEG_INFINITY),
                |(lo, hi), &x| (lo.min(x.to_f64()), hi.max(x.to_f64())),
            )
            .reduce(
                || (f64::INFINITY, f64::NEG_INFINITY),
                |a, b| (a.0.min(b.0), a.1.max(b.1)),
            )
    }
    let (lo, hi) = match data {
        PixelData::U8(v) => fold(v),
        PixelData::U16(v) => fold(v),
        PixelData::I16(v) => fold(v),
        PixelData::I32(v) => fold(v),
        PixelData::F32(v) => fold(v),
    };
    if lo > hi {
        (0.0, 0.0)
    } else {
        (lo, hi)
    }
}

/// The `(scale, shift)` OpenCV `normalize(NORM_MINMAX)` hands to `convertTo` for an image whose
/// elements span `[smin, smax]`, targeting `[a, b]` (either order) in `dtype`.
pub fn minmax_scale_shift(smin: f64, smax: f64, a: f64, b: f64, dtype: DType) -> (f64, f64) {
    let (dmin, dmax) = (a.min(b), a.max(b));
    let inv = if smax - smin > f64::EPSILON {
        1.0 / (smax - smin)
    } else {
        0.0
    };
    let scale = (dmax - dmin) * inv;
    if dtype == DType::F32 {
        let scale = f64::from(scale as f32);
        let shift = f64::from(dmin as f32) - f64::from((smin * scale) as f32);
        (scale, shift)
    } else {
        (scale, dmin - smin * scale)
    }
}

/// `normalize`: OpenCV `normalize(src, dst, min, max, NORM_MINMAX)` into the input's dtype. The
/// stretch is global (all channels together); `max` defaults to [`default_max`]; `min > max`
/// swaps them; a constant image becomes `min` everywhere (scale 0, shift `min`).
pub fn normalize(src: &Image, p: &NormalizeParams) -> Result<Image, PluginError> {
    let dtype = src.dtype();
    let max = p.max.unwrap_or(default_max(dtype));
    if !p.min.is_finite() || !max.is_finite() {
        return Err(PluginError::invalid(format!(
            "normalize: min {} / max {max} must be finite",
            p.min
        )));
    }
    let (smin, smax) = min_max(&src.data);
    let (scale, shift) = minmax_scale_shift(smin, smax, p.min, max, dtype);
    Ok(Image {
        data: convert_data(&src.data, dtype, scale, shift),
        ..*src
    })
}

/// OpenCV's 15-bit grey weights for R, G, B (`R2YF·2¹⁵` etc., rounded; they sum to 2¹⁵).
pub const GRAY_Q15: [u32; 3] = [9798, 19235, 3735];
/// OpenCV's float grey weights for R, G, B.
pub const GRAY_F32: [f32; 3] = [0.299, 0.587, 0.114];

/// Weights in memory order: `(R, G, B)` for RGB(A) input, `(B, G, R)` for BGR(A).
fn in_memory_order<T: Copy>(w: [T; 3], bgr: bool) -> [T; 3] {
    if bgr {
        [w[2], w[1], w[0]]
    } else {
        w
    }
}

/// `to_gray`: OpenCV `cvtColor(RGB2GRAY | BGR2GRAY | RGBA2GRAY | BGRA2GRAY)`; alpha is
/// ignored. With `s0, s1, s2` the first three elements of a pixel in memory and `c0, c1, c2`
/// their weights:
///
/// * u8, u16: `(s0·c0 + s1·c1 + s2·c2 + 2¹⁴) >> 15` with the [`GRAY_Q15`] weights.
/// * f32: `fma(s2, c2, fma(s0, c0, s1·c1))` in f32 with 0.299f/0.587f/0.114f, as OpenCV's
///   default (IPP) path computes it. That path treats one block per row differently: for
///   3-channel input whose width `w` has `r = w mod 8 ≥ 4`, the pixels at `w - r` and
///   `w - r + 2` are `fma(s2, c2, fma(s1, c1, s0·c0))` (at most 1 ulp apart). This was
///   measured, not read: OpenCV without IPP uses the latter order in its SIMD body and the
///   former in its scalar tails, so other builds can differ by 1 ulp.
pub fn to_gray(src: &Image, bgr: bool) -> Result<Image, PluginError> {
    let cn = src.channels;
    if cn != 3 && cn != 4 {
        return Err(PluginError::invalid(format!(
            "to_gray: needs 3 or 4 channels, input has {cn}"
        )));
    }
    let (w, h) = (src.width, src.height);
    let data = match &src.data {
        PixelData::U8(v) => PixelData::U8(gray_rows(v, w, cn, |px, _| {
            gray_fixed(px, in_memory_order(GRAY_Q15, bgr)) as u8
        })),
        PixelData::U16(v) => PixelData::U16(gray_rows(v, w, cn, |px, _| {
            gray_fixed(px, in_memory_order(GRAY_Q15, bgr)) as u16
        })),
        PixelData::F32(v) => {
            let c = in_memory_order(GRAY_F32, bgr);
            let r = w % 8;
            let odd_order = |x: usize| cn == 3 && r >= 4 && (x == w - r || x == w - r + 2);
            PixelData::F32(gray_rows(v, w, cn, |px, x| {
                let [s0, s1, s2] = [px[0], px[1], px[2]];
                if odd_order(x) {
                    s2.mul_add(c[2], s1.mul_add(c[1], s0 * c[0]))
                } else {
                    s2.mul_add(c[2], s0.mul_add(c[0], s1 * c[1]))
                }
            }))
        }
        other => {
            return Err(PluginError::invalid(format!(
                "to_gray: dtype {} is not supported (u8, u16, f32)",
                other.dtype()
            )))
        }
    };
    Ok(Image {
        width: w,
        height: h,
        channels: 1,
        data,
    })
}

fn gray_fixed<T: Copy + Into<u32>>(px: &[T], c: [u32; 3]) -> u32 {
    (px[0].into() * c[0] + px[1].into() * c[1] + px[2].into() * c[2] + (1 << 14)) >> 15
}

/// Applies `f(pixel, x)` to every pixel, rows in parallel.
fn gray_rows<T: Copy + Send + Sync, U: crate::recycle::Recyclable>(
    src: &[T],
    w: usize,
    cn: usize,
    f: impl Fn(&[T], usize) -> U + Sync,
) -> Vec<U> {
    let mut out = crate::recycle::output_vec::<U>(src.len() / cn);
    if w == 0 {
        return out;
    }
    out.par_chunks_mut(w)
        .zip(src.par_chunks(w * cn))
        .with_min_len(64)
        .for_each(|(dst, row)| {
            for (x, (d, px)) in dst.iter_mut().zip(row.chunks_exact(cn)).enumerate() {
                *d = f(px, x);
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Round half to even written out, then x86's out-of-range rule.
    fn naive_round(v: f64) -> i64 {
        if v.is_nan() {
            return i64::from(i32::MIN);
        }
        let fl = v.floor();
        let r = match v - fl {
            d if d > 0.5 => fl + 1.0,
            d if d < 0.5 => fl,
            _ if fl % 2.0 == 0.0 => fl,
            _ => fl + 1.0,
        };
        if (-2_147_483_648.0..=2_147_483_647.0).contains(&r) {
            r as i64
        } else {
            i64::from(i32::MIN)
        }
    }

    /// `x·a + b` rounded once to f32, without `mul_add`: the product is exact in f64, TwoSum
    /// gives the exact sum as `s + err`, and `err` only matters when `s` is halfway between
    /// two f32 values.
    fn naive_fma(x: f32, a: f32, b: f32) -> f32 {
        let p = f64::from(x) * f64::from(a);
        let b = f64::from(b);
        let s = p + b;
        let bp = s - p;
        let err = (p - (s - bp)) + (b - bp);
        let f = s as f32;
        if err == 0.0 || f64::from(f) == s || !s.is_finite() {
            return f;
        }
        let other = if f64::from(f) < s {
            f.next_up()
        } else {
            f.next_down()
        };
        if (f64::from(f) + f64::from(other)) / 2.0 != s {
            return f;
        }
        if err > 0.0 {
            f.max(other)
        } else {
            f.min(other)
        }
    }

    fn elements(data: &PixelData) -> Vec<f64> {
        match data {
            PixelData::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            PixelData::U16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            PixelData::I16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            PixelData::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            PixelData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        }
    }

    fn build(dtype: DType, values: Vec<f64>) -> PixelData {
        match dtype {
            DType::U8 => PixelData::U8(values.iter().map(|&v| v as u8).collect()),
            DType::U16 => PixelData::U16(values.iter().map(|&v| v as u16).collect()),
            DType::I16 => PixelData::I16(values.iter().map(|&v| v as i16).collect()),
            DType::I32 => PixelData::I32(values.iter().map(|&v| v as i32).collect()),
            DType::F32 => PixelData::F32(values.iter().map(|&v| v as f32).collect()),
        }
    }

    /// `convertTo` per element from the rules in the module docs.
    fn naive_convert(src: &PixelData, dtype: DType, scale: f64, shift: f64) -> PixelData {
        let sdtype = src.dtype();
        let (lo, hi) = match dtype {
            DType::U8 => (0.0, 255.0),
            DType::U16 => (0.0, 65535.0),
            DType::I16 => (-32768.0, 32767.0),
            DType::I32 => (-2_147_483_648.0, 2_147_483_647.0),
            DType::F32 => (f64::NEG_INFINITY, f64::INFINITY),
        };
        let to_int = |v: f64| (naive_round(v) as f64).clamp(lo, hi);
        let no_scale = (scale - 1.0).abs() < f64::EPSILON && shift.abs() < f64::EPSILON;
        let out = elements(src)
            .into_iter()
            .map(|x| {
                if no_scale {
                    match (sdtype, dtype) {
                        (_, DType::F32) => f64::from(x as f32),
                        (DType::F32, _) => to_int(x),
                        _ => x.clamp(lo, hi),
                    }
                } else if sdtype == DType::I32 && dtype == DType::I32 {
                    // OpenCV's f64 path, fused as its SIMD code is; mul_add is the definition.
                    to_int(x.mul_add(scale, shift))
                } else {
                    let v = naive_fma(x as f32, scale as f32, shift as f32);
                    if dtype == DType::F32 {
                        f64::from(v)
                    } else {
                        to_int(f64::from(v))
                    }
                }
            })
            .collect();
        build(dtype, out)
    }

    fn arb_data(n: usize) -> impl Strategy<Value = PixelData> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), n).prop_map(PixelData::U8),
            prop::collection::vec(any::<u16>(), n).prop_map(PixelData::U16),
            prop::collection::vec(any::<i16>(), n).prop_map(PixelData::I16),
            prop::collection::vec(-70000i32..70000, n).prop_map(PixelData::I32),
            prop::collection::vec(-1000f32..1000.0, n).prop_map(PixelData::F32),
            prop::collection::vec(
                prop::sample::select(vec![0.5f32, 1.5, 2.5, -0.5, 254.5, 255.5, 3e9, -3e9, 1e-3]),
                n
            )
            .prop_map(PixelData::F32),
        ]
    }

    fn arb_image() -> impl Strategy<Value = Image> {
        (
            1usize..=17,
            1usize..=17,
            prop::sample::select(vec![1usize, 3, 4]),
        )
            .prop_flat_map(|(w, h, c)| {
                arb_data(w * h * c).prop_map(move |d| Image::new(w, h, c, d).unwrap())
            })
    }

    fn arb_scale() -> impl Strategy<Value = (f64, f64)> {
        let scale =
            prop::sample::select(vec![1.0, 0.1, 0.5, 1.0 / 3.0, 2.5, -0.7, 0.0, 1e-3, 300.0]);
        let offset = prop::sample::select(vec![0.0, 0.5, -0.5, 10.25, 1.0 / 7.0, -300.0, 1e4]);
        (scale, offset)
    }

    proptest! {
        #[test]
        fn convert_equals_naive(
            img in arb_image(),
            dtype in prop::sample::select(vec![DType::U8, DType::U16, DType::F32]),
            (scale, offset) in arb_scale(),
        ) {
            let got = convert(&img, &ConvertParams { dtype, scale, offset }).unwrap();
            prop_assert_eq!((got.width, got.height, got.channels), (img.width, img.height, img.channels));
            prop_assert_eq!(got.data, naive_convert(&img.data, dtype, scale, offset));
        }

        #[test]
        fn normalize_equals_naive(
            img in arb_image(),
            min in prop::sample::select(vec![0.0, -5.0, 1.0, 10.3, 255.0]),
            max in prop::option::of(prop::sample::select(vec![255.0, 1.0, 3.7, 1e4, -2.5])),
        ) {
            let got = normalize(&img, &NormalizeParams { min, max }).unwrap();
            let dtype = img.dtype();
            let values = elements(&img.data);
            let smin = values.iter().copied().fold(f64::INFINITY, f64::min);
            let smax = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let (dmin, dmax) = {
                let b = max.unwrap_or(default_max(dtype));
                if min < b { (min, b) } else { (b, min) }
            };
            let mut scale = if smax - smin > f64::EPSILON {
                (dmax - dmin) * (1.0 / (smax - smin))
            } else {
                0.0
            };
            let shift = if dtype == DType::F32 {
                scale = scale as f32 as f64;
                (dmin as f32) as f64 - ((smin * scale) as f32) as f64
            } else {
                dmin - smin * scale
            };
            prop_assert_eq!(got.dtype(), dtype);
            prop_assert_eq!(got.data, naive_convert(&img.data, dtype, scale, shift));
        }

        #[test]
        fn to_gray_equals_naive(
            (w, h, cn) in (1usize..=21, 1usize..=5, prop::sample::select(vec![3usize, 4])),
            bgr in any::<bool>(),
            seed in any::<u64>(),
            kind in 0..3u8,
        ) {
            // A small LCG keeps the three dtypes on the same pixel pattern.
            let mut next = crate::test_rng::lcg(seed | 1);
            let n = w * h * cn;
            let data = match kind {
                0 => PixelData::U8((0..n).map(|_| next() as u8).collect()),
                1 => PixelData::U16((0..n).map(|_| next() as u16).collect()),
                _ => PixelData::F32((0..n).map(|_| next() as f32 / 7.0 - 1e5).collect()),
            };
            let img = Image::new(w, h, cn, data).unwrap();
            let got = to_gray(&img, bgr).unwrap();
            prop_assert_eq!((got.width, got.height, got.channels), (w, h, 1));
            prop_assert_eq!(got.data, naive_gray(&img, bgr));
        }
    }

    /// Grey from the formulas: channel roles by name, then the OpenCV orders spelled out.
    fn naive_gray(img: &Image, bgr: bool) -> PixelData {
        let (w, cn) = (img.width, img.channels);
        let role = |px: &[f64]| {
            if bgr {
                (px[2], px[1], px[0])
            } else {
                (px[0], px[1], px[2])
            }
        };
        let values = elements(&img.data);
        match img.dtype() {
            DType::F32 => {
                let out = values
                    .chunks_exact(cn)
                    .enumerate()
                    .map(|(i, px)| {
                        let x = i % w;
                        let (r, g, b) = role(px);
                        let (r, g, b) = (r as f32, g as f32, b as f32);
                        let (cr, cg, cb) = (0.299f32, 0.587f32, 0.114f32);
                        // Memory order: first (s0, c0), middle (g), last (s2, c2).
                        let ((s0, c0), (s2, c2)) = if bgr {
                            ((b, cb), (r, cr))
                        } else {
                            ((r, cr), (b, cb))
                        };
                        let tail = w % 8;
                        if cn == 3 && tail >= 4 && (x == w - tail || x == w - tail + 2) {
                            naive_fma(s2, c2, naive_fma(g, cg, s0 * c0))
                        } else {
                            naive_fma(s2, c2, naive_fma(s0, c0, g * cg))
                        }
                    })
                    .collect();
                PixelData::F32(out)
            }
            dtype => {
                let out: Vec<f64> = values
                    .chunks_exact(cn)
                    .map(|px| {
                        let (r, g, b) = role(px);
                        ((r * 9798.0 + g * 19235.0 + b * 3735.0 + 16384.0) / 32768.0).floor()
                    })
                    .collect();
                build(dtype, out)
            }
        }
    }

    fn image(w: usize, h: usize, c: usize, data: PixelData) -> Image {
        Image::new(w, h, c, data).unwrap()
    }

    #[test]
    fn convert_rounds_half_to_even_and_saturates_like_opencv() {
        let img = image(
            8,
            1,
            1,
            PixelData::F32(vec![0.5, 1.5, 2.5, -0.4, 255.5, 256.0, 3e9, f32::NAN]),
        );
        let p = ConvertParams {
            dtype: DType::U8,
            scale: 1.0,
            offset: 0.0,
        };
        // 3e9 and NaN: x86 cvRound gives INT_MIN, which saturates to 0 (checked with cv2).
        assert_eq!(
            convert(&img, &p).unwrap().data,
            PixelData::U8(vec![0, 2, 2, 0, 255, 255, 0, 0])
        );
        // 5·0.5 = 2.5 and 3·0.5 = 1.5 both round to 2.
        let img = image(2, 1, 1, PixelData::U8(vec![5, 3]));
        let p = ConvertParams {
            dtype: DType::U16,
            scale: 0.5,
            offset: 0.0,
        };
        assert_eq!(convert(&img, &p).unwrap().data, PixelData::U16(vec![2, 2]));
        let p = ConvertParams {
            dtype: DType::F32,
            scale: 0.1,
            offset: 0.3,
        };
        assert_eq!(
            convert(&img, &p).unwrap().data,
            PixelData::F32(vec![5f32.mul_add(0.1, 0.3), 3f32.mul_add(0.1, 0.3)])
        );
    }

    #[test]
    fn convert_uses_a_fused_multiply_add() {
        // 5·0.1f is 0.500000007 exactly: fused with -0.5 it leaves 7.45e-9, while the product
        // rounded to f32 is 0.5 and the unfused sum 0.
        let x = 5f32;
        let (a, b) = (0.1f32, -0.5f32);
        assert_ne!(x.mul_add(a, b), x * a + b);
        let img = image(1, 1, 1, PixelData::F32(vec![x]));
        let p = ConvertParams {
            dtype: DType::F32,
            scale: f64::from(a),
            offset: f64::from(b),
        };
        assert_eq!(
            convert(&img, &p).unwrap().data,
            PixelData::F32(vec![x.mul_add(a, b)])
        );
    }

    #[test]
    fn normalize_stretches_globally_and_handles_constant_images() {
        let img = image(2, 1, 3, PixelData::U8(vec![10, 20, 30, 40, 50, 60]));
        let got = normalize(
            &img,
            &NormalizeParams {
                min: 0.0,
                max: None,
            },
        )
        .unwrap();
        // scale 255/50: 10 -> 0, 20 -> 51, 30 -> 102, 40 -> 153, 50 -> 204, 60 -> 255.
        assert_eq!(got.data, PixelData::U8(vec![0, 51, 102, 153, 204, 255]));
        // min > max swaps them.
        let got = normalize(
            &img,
            &NormalizeParams {
                min: 255.0,
                max: Some(0.0),
            },
        )
        .unwrap();
        assert_eq!(got.data, PixelData::U8(vec![0, 51, 102, 153, 204, 255]));
        // Constant image: every pixel becomes min (cv2 agrees).
        let flat = image(3, 1, 1, PixelData::U8(vec![7; 3]));
        let got = normalize(
            &flat,
            &NormalizeParams {
                min: 10.0,
                max: None,
            },
        )
        .unwrap();
        assert_eq!(got.data, PixelData::U8(vec![10; 3]));
        // f32 default range [0, 1].
        let f = image(3, 1, 1, PixelData::F32(vec![-2.0, 0.0, 2.0]));
        let got = normalize(
            &f,
            &NormalizeParams {
                min: 0.0,
                max: None,
            },
        )
        .unwrap();
        assert_eq!(got.data, PixelData::F32(vec![0.0, 0.5, 1.0]));
    }

    #[test]
    fn to_gray_matches_opencv_on_primaries() {
        // cv2.cvtColor of pure R, G, B, white, black (RGB order) gives 76, 150, 29, 255, 0.
        let px = vec![255u8, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0];
        let img = image(5, 1, 3, PixelData::U8(px.clone()));
        let got = to_gray(&img, false).unwrap();
        assert_eq!(got.data, PixelData::U8(vec![76, 150, 29, 255, 0]));
        // The same bytes read as BGR: B and R swap roles.
        let got = to_gray(&img, true).unwrap();
        assert_eq!(got.data, PixelData::U8(vec![29, 150, 76, 255, 0]));
        // u16 white stays white; RGBA ignores alpha.
        let img = image(1, 1, 4, PixelData::U16(vec![65535, 65535, 65535, 0]));
        assert_eq!(
            to_gray(&img, false).unwrap().data,
            PixelData::U16(vec![65535])
        );
    }

    #[test]
    fn rejects_bad_input() {
        let gray = image(1, 1, 1, PixelData::U8(vec![0]));
        assert!(to_gray(&gray, false).is_err());
        let i16s = image(1, 1, 3, PixelData::I16(vec![0; 3]));
        assert!(to_gray(&i16s, false).is_err());
        let p = ConvertParams {
            dtype: DType::I16,
            scale: 1.0,
            offset: 0.0,
        };
        assert!(convert(&gray, &p).is_err());
        let p = ConvertParams {
            dtype: DType::U8,
            scale: f64::NAN,
            offset: 0.0,
        };
        assert!(convert(&gray, &p).is_err());
        let p = NormalizeParams {
            min: f64::INFINITY,
            max: None,
        };
        assert!(normalize(&gray, &p).is_err());
    }
}
