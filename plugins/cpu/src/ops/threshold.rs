//! Thresholds: OpenCV `threshold`, with Otsu's method for u8 and u16.
//!
//! Integer images use vectors (one saturating compare and a select, [`crate::simd::threshold`])
//! where the CPU has them; the scalar path is a lookup table over every possible value (256 or
//! 65536 entries), so its per-pixel work is one load whatever the type.

use rayon::prelude::*;

use super::value_counts::{counts_u16, counts_u8};
use crate::isa::Isa;
use crate::pixel::Pixel;
use crate::recycle::{output_vec, Recyclable};
use crate::simd::threshold::{Rule, Threshold};
use crate::simd::{self, UnsignedLane};
use yam_plugin_api::exact::otsu_threshold;
use yam_plugin_api::{
    kernels::{ThresholdParams, ThresholdType},
    Image, PixelData, PluginError,
};

/// OpenCV `threshold`; returns the image and, with Otsu, the chosen threshold.
///
/// u8/u16: the threshold is floored (`T = floor(thresh)`) and `maxval` rounded half to even
/// and saturated, as OpenCV does; `trunc` writes `T` saturated to the dtype. f32: threshold and
/// `maxval` are cast to f32 and compared in float (`<=` where OpenCV writes it, so NaN pixels
/// become 0 except with `trunc`, which passes them through). One channel only.
pub fn threshold(src: &Image, p: &ThresholdParams) -> Result<(Image, Option<f64>), PluginError> {
    threshold_isa(src, p, Isa::active())
}

/// [`threshold`] with integer types run at `isa` (lowered to what the CPU has).
pub(crate) fn threshold_isa(
    src: &Image,
    p: &ThresholdParams,
    isa: Isa,
) -> Result<(Image, Option<f64>), PluginError> {
    if src.channels != 1 {
        return Err(PluginError::invalid(format!(
            "threshold: input must have 1 channel, got {}",
            src.channels
        )));
    }
    let (data, otsu) = match &src.data {
        PixelData::U8(v) => {
            let t = p.otsu.then(|| otsu_threshold(&counts_u8(v)));
            (
                PixelData::U8(threshold_int(v, t.unwrap_or(p.thresh), p, isa)),
                t,
            )
        }
        PixelData::U16(v) => {
            let t = p.otsu.then(|| otsu_threshold(&counts_u16(v)));
            (
                PixelData::U16(threshold_int(v, t.unwrap_or(p.thresh), p, isa)),
                t,
            )
        }
        PixelData::F32(v) if !p.otsu => (PixelData::F32(threshold_f32(v, p)), None),
        PixelData::F32(_) => {
            return Err(PluginError::invalid(
                "threshold: otsu needs u8 or u16 input, got f32",
            ))
        }
        _ => {
            return Err(PluginError::unsupported(format!(
                "threshold: dtype {} is not supported (u8, u16, f32)",
                src.dtype()
            )))
        }
    };
    let out = Image {
        width: src.width,
        height: src.height,
        channels: 1,
        data,
    };
    Ok((out, otsu))
}

/// Integer pixel types thresholded through a table indexed by value.
trait IntPixel: Pixel + UnsignedLane + Recyclable + Into<usize> {
    const LEVELS: usize;
    fn from_level(v: usize) -> Self;
}

impl IntPixel for u8 {
    const LEVELS: usize = 256;
    fn from_level(v: usize) -> u8 {
        v as u8
    }
}

impl IntPixel for u16 {
    const LEVELS: usize = 65536;
    fn from_level(v: usize) -> u16 {
        v as u16
    }
}

/// Applies `p.kind` with `thresh` to integer pixels, as OpenCV's 8U/16U paths, with vectors
/// at `isa` when it is not [`Isa::Scalar`].
fn threshold_int<T: IntPixel>(src: &[T], thresh: f64, p: &ThresholdParams, isa: Isa) -> Vec<T> {
    // cvFloor; values and T are integers, so comparing in i64 is exact.
    let t = thresh.floor() as i64;
    let maxval = T::saturate_from_f64(p.maxval);
    let trunc = T::from_level(t.clamp(0, T::LEVELS as i64 - 1) as usize);
    let rule = Rule {
        kind: p.kind,
        // T at or above the largest value: nothing is above it, as with the largest value.
        thresh: trunc,
        all_above: t < 0,
        maxval,
        trunc,
    };
    const CHUNK: usize = 1 << 16;
    if isa.usable() == Isa::Scalar {
        let lut = threshold_lut(t, maxval, trunc, p.kind);
        // Collected straight into the output (no zero fill first); one pass, as before.
        return src.iter().map(|&v| lut[v.into()]).collect();
    }
    // Parallel chunks of whole vectors (any width), so only the last has a scalar tail.
    let mut out = output_vec::<T>(src.len());
    let chunks = out.par_chunks_mut(CHUNK).zip(src.par_chunks(CHUNK));
    // Jobs of at most 8 chunks (512 KiB of u8): rayon's own splitting left one thread's last
    // job long enough to finish after the other (2 threads, 4096² u8: 0.640 -> 0.625 ms).
    chunks.with_max_len(8).for_each(|(dst, src)| {
        let ran = simd::dispatch(isa, Threshold { src, dst, rule }).is_ok();
        debug_assert!(ran, "isa checked above");
    });
    out
}

/// The scalar path: a table over every value.
fn threshold_lut<T: IntPixel>(t: i64, maxval: T, trunc: T, kind: ThresholdType) -> Vec<T> {
    let zero = T::from_level(0);
    (0..T::LEVELS)
        .map(|v| {
            let above = v as i64 > t;
            let same = T::from_level(v);
            match kind {
                ThresholdType::Binary => pick(above, maxval, zero),
                ThresholdType::BinaryInv => pick(above, zero, maxval),
                ThresholdType::Trunc => pick(above, trunc, same),
                ThresholdType::ToZero => pick(above, same, zero),
                ThresholdType::ToZeroInv => pick(above, zero, same),
            }
        })
        .collect()
}

fn pick<T>(cond: bool, a: T, b: T) -> T {
    if cond {
        a
    } else {
        b
    }
}

/// Applies `p.kind` to f32 pixels in float, as OpenCV's 32F path.
fn threshold_f32(src: &[f32], p: &ThresholdParams) -> Vec<f32> {
    let t = p.thresh as f32;
    let m = p.maxval as f32;
    let f: fn(f32, f32, f32) -> f32 = match p.kind {
        ThresholdType::Binary => |v, t, m| if v > t { m } else { 0.0 },
        ThresholdType::BinaryInv => |v, t, m| if v <= t { m } else { 0.0 },
        ThresholdType::Trunc => |v, t, _| if v > t { t } else { v },
        ThresholdType::ToZero => |v, t, _| if v > t { v } else { 0.0 },
        ThresholdType::ToZeroInv => |v, t, _| if v <= t { v } else { 0.0 },
    };
    src.iter().map(|&v| f(v, t, m)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use yam_plugin_api::DType;

    /// Per-pixel definition from SEMANTICS.md §8, in f64 for integers.
    fn naive(v: f64, thresh: f64, maxval: f64, kind: ThresholdType, dmax: f64) -> f64 {
        let t = thresh.floor();
        let sat = |x: f64| x.round_ties_even().clamp(0.0, dmax);
        match kind {
            ThresholdType::Binary => {
                if v > t {
                    sat(maxval)
                } else {
                    0.0
                }
            }
            ThresholdType::BinaryInv => {
                if v > t {
                    0.0
                } else {
                    sat(maxval)
                }
            }
            ThresholdType::Trunc => {
                if v > t {
                    sat(t)
                } else {
                    v
                }
            }
            ThresholdType::ToZero => {
                if v > t {
                    v
                } else {
                    0.0
                }
            }
            ThresholdType::ToZeroInv => {
                if v > t {
                    0.0
                } else {
                    v
                }
            }
        }
    }

    /// Otsu by brute force: for every candidate T, the between-class variance computed from
    /// class sums directly; the first strict maximum wins.
    fn naive_otsu(values: &[usize], levels: usize) -> usize {
        let n = values.len() as f64;
        let mut best = (0.0f64, 0usize);
        for t in 0..levels {
            let (mut n1, mut s1, mut s2) = (0.0, 0.0, 0.0);
            for &v in values {
                if v <= t {
                    n1 += 1.0;
                    s1 += v as f64;
                } else {
                    s2 += v as f64;
                }
            }
            let n2 = n - n1;
            if n1 == 0.0 || n2 == 0.0 {
                continue;
            }
            let (w1, w2) = (n1 / n, n2 / n);
            let sigma = w1 * w2 * (s1 / n1 - s2 / n2).powi(2);
            // Tolerate rounding in this independent formula when comparing candidates.
            if sigma > best.0 * (1.0 + 1e-12) {
                best = (sigma, t);
            }
        }
        best.1
    }

    fn kind_strategy() -> impl Strategy<Value = ThresholdType> {
        prop_oneof![
            Just(ThresholdType::Binary),
            Just(ThresholdType::BinaryInv),
            Just(ThresholdType::Trunc),
            Just(ThresholdType::ToZero),
            Just(ThresholdType::ToZeroInv),
        ]
    }

    fn params(thresh: f64, maxval: f64, kind: ThresholdType, otsu: bool) -> ThresholdParams {
        ThresholdParams {
            thresh,
            maxval,
            kind,
            otsu,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn u8_u16_match_naive(
            u16_type in any::<bool>(),
            raw in proptest::collection::vec(any::<u16>(), 1..200),
            thresh in prop_oneof![-300.0f64..70000.0, -2.0f64..260.0],
            maxval in prop_oneof![-10.0f64..70000.0, Just(255.0), Just(127.5), Just(128.5)],
            kind in kind_strategy(),
        ) {
            let (img, dmax) = if u16_type {
                (Image::new(raw.len(), 1, 1, PixelData::U16(raw.clone())).unwrap(), 65535.0)
            } else {
                let v: Vec<u8> = raw.iter().map(|&x| x as u8).collect();
                (Image::new(1, v.len(), 1, PixelData::U8(v)).unwrap(), 255.0)
            };
            let (out, t) = threshold(&img, &params(thresh, maxval, kind, false)).unwrap();
            prop_assert_eq!(t, None);
            let got: Vec<f64> = match &out.data {
                PixelData::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
                PixelData::U16(v) => v.iter().map(|&x| f64::from(x)).collect(),
                _ => unreachable!(),
            };
            let want: Vec<f64> = raw
                .iter()
                .map(|&x| if u16_type { f64::from(x) } else { f64::from(x as u8) })
                .map(|v| naive(v, thresh, maxval, kind, dmax))
                .collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn f32_matches_naive(
            v in proptest::collection::vec(-10.0f32..10.0, 1..100),
            thresh in -10.0f64..10.0,
            maxval in -5.0f64..300.0,
            kind in kind_strategy(),
        ) {
            let img = Image::new(v.len(), 1, 1, PixelData::F32(v.clone())).unwrap();
            let (out, _) = threshold(&img, &params(thresh, maxval, kind, false)).unwrap();
            let (t, m) = (thresh as f32, maxval as f32);
            let want: Vec<f32> = v
                .iter()
                .map(|&x| match kind {
                    ThresholdType::Binary => if x > t { m } else { 0.0 },
                    ThresholdType::BinaryInv => if x > t { 0.0 } else { m },
                    ThresholdType::Trunc => if x > t { t } else { x },
                    ThresholdType::ToZero => if x > t { x } else { 0.0 },
                    ThresholdType::ToZeroInv => if x > t { 0.0 } else { x },
                })
                .collect();
            prop_assert_eq!(out.data, PixelData::F32(want));
        }

        #[test]
        fn otsu_matches_brute_force(
            centres in proptest::collection::vec(0usize..256, 2..4),
            spread in 0usize..20,
            n in 5usize..300,
            seed in any::<u64>(),
        ) {
            // Clustered values, so the maximum is well separated from rounding noise.
            let mut lcg = crate::test_rng::lcg(seed);
            let mut next = || lcg() as usize;
            let vals: Vec<usize> = (0..n)
                .map(|i| {
                    let c = centres[i % centres.len()];
                    (c + next() % (spread + 1)).saturating_sub(spread / 2).min(255)
                })
                .collect();
            let data = PixelData::U8(vals.iter().map(|&v| v as u8).collect());
            let img = Image::new(n, 1, 1, data).unwrap();
            let p = params(0.0, 255.0, ThresholdType::Binary, true);
            let (out, t) = threshold(&img, &p).unwrap();
            let t = t.unwrap();
            let want = naive_otsu(&vals, 256) as f64;
            // Equal, or an exact tie in variance broken differently by rounding.
            if t != want {
                let sig = |t: f64| {
                    let (a, b): (Vec<usize>, Vec<usize>) =
                        vals.iter().partition(|&&v| v as f64 <= t);
                    if a.is_empty() || b.is_empty() { return 0.0; }
                    let m = |x: &[usize]| x.iter().sum::<usize>() as f64 / x.len() as f64;
                    (a.len() * b.len()) as f64 * (m(&a) - m(&b)).powi(2)
                };
                let (st, sw) = (sig(t), sig(want));
                prop_assert!((st - sw).abs() <= 1e-9 * sw, "otsu {} vs {}", t, want);
            }
            let PixelData::U8(o) = &out.data else { unreachable!() };
            for (&v, &o) in vals.iter().zip(o) {
                prop_assert_eq!(o, if v as f64 > t { 255 } else { 0 });
            }
        }
    }

    #[test]
    fn every_isa_level_equals_naive() {
        // Odd lengths leave vector tails (70 007: two parallel chunks); thresholds cover
        // below 0, the ends and beyond.
        let kinds = [
            ThresholdType::Binary,
            ThresholdType::BinaryInv,
            ThresholdType::Trunc,
            ThresholdType::ToZero,
            ThresholdType::ToZeroInv,
        ];
        let threshes = [
            -3.0, -0.5, 0.0, 1.0, 127.7, 254.0, 255.0, 256.0, 65534.0, 65535.0, 7e4,
        ];
        for (i, n) in [1usize, 7, 15, 16, 17, 31, 33, 64, 100, 1023, 70_007]
            .into_iter()
            .enumerate()
        {
            let raw = lcg_values(n, 65536, 0, 0, i as u64 + 1);
            // Small values too, so u16 thresholds near 0 and 255 meet equal pixels.
            let raw16: Vec<u16> = raw
                .iter()
                .map(|&x| (x % (256 << (i % 2 * 8))) as u16)
                .collect();
            let raw8: Vec<u8> = raw.iter().map(|&x| x as u8).collect();
            for &thresh in &threshes {
                for kind in kinds {
                    let p = params(thresh, 200.5, kind, false);
                    let want8: Vec<u8> = raw8
                        .iter()
                        .map(|&v| naive(f64::from(v), thresh, 200.5, kind, 255.0) as u8)
                        .collect();
                    let want16: Vec<u16> = raw16
                        .iter()
                        .map(|&v| naive(f64::from(v), thresh, 200.5, kind, 65535.0) as u16)
                        .collect();
                    for isa in Isa::available() {
                        let what = format!("{isa} n {n} thresh {thresh} {kind:?}");
                        assert_eq!(threshold_int(&raw8, thresh, &p, isa), want8, "u8 {what}");
                        assert_eq!(threshold_int(&raw16, thresh, &p, isa), want16, "u16 {what}");
                    }
                }
            }
        }
    }

    #[test]
    fn hand_checked_otsu() {
        // Values {10 ×2, 20 ×2, 200 ×4}: splitting after 20 gives classes {10,10,20,20}
        // (mean 15) and {200 ×4} (mean 200): sigma = 1/2 · 1/2 · 185² = 8556.25, the largest.
        // Every T in 20..199 gives that same split; the first one, 20, is OpenCV's answer.
        let v = vec![10u8, 20, 200, 200, 10, 20, 200, 200];
        let img = Image::new(4, 2, 1, PixelData::U8(v)).unwrap();
        let (out, t) = threshold(&img, &params(0.0, 255.0, ThresholdType::Binary, true)).unwrap();
        assert_eq!(t, Some(20.0));
        assert_eq!(
            out.data,
            PixelData::U8(vec![0, 0, 255, 255, 0, 0, 255, 255])
        );
        // The same on u16, 65536 bins; maxval saturates to 65535.
        let v = vec![1000u16, 1000, 50000, 50000];
        let img = Image::new(2, 2, 1, PixelData::U16(v)).unwrap();
        let (out, t) = threshold(&img, &params(0.0, 1e9, ThresholdType::Binary, true)).unwrap();
        assert_eq!(t, Some(1000.0));
        assert_eq!(out.data, PixelData::U16(vec![0, 0, 65535, 65535]));
        // All pixels equal: no split qualifies, T = 0.
        let img = Image::new(2, 1, 1, PixelData::U8(vec![7, 7])).unwrap();
        let (_, t) = threshold(&img, &params(0.0, 255.0, ThresholdType::Binary, true)).unwrap();
        assert_eq!(t, Some(0.0));
    }

    /// The generator of the cross-check below (an LCG, so Python can repeat it).
    fn lcg_values(n: usize, modulus: u64, lo: u64, hi: u64, seed: u64) -> Vec<u64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 33) % modulus + if (s >> 40) & 1 == 1 { hi } else { lo }
            })
            .collect()
    }

    #[test]
    fn otsu_matches_python_spec() {
        // Expected T from `otsu_threshold` of bench/opencv_ref.py (SEMANTICS.md §8), run in
        // plain Python floats on the same LCG data; pixel counts are not powers of two, so
        // the divisions round.
        let cases = [
            (97, 53, 60, 30, 150, 7, false, 89.0),
            (97, 53, 200, 0, 50, 11, false, 124.0),
            (61, 47, 9000, 10000, 40000, 3, true, 18998.0),
        ];
        for (w, h, modulus, lo, hi, seed, wide, want) in cases {
            let v = lcg_values(w * h, modulus, lo, hi, seed);
            let data = if wide {
                PixelData::U16(v.iter().map(|&x| x as u16).collect())
            } else {
                PixelData::U8(v.iter().map(|&x| x as u8).collect())
            };
            let img = Image::new(w, h, 1, data).unwrap();
            let p = params(0.0, 255.0, ThresholdType::Binary, true);
            assert_eq!(threshold(&img, &p).unwrap().1, Some(want), "seed {seed}");
        }
    }

    #[test]
    fn hand_checked_floor_and_saturation() {
        let img = Image::new(4, 1, 1, PixelData::U8(vec![126, 127, 128, 255])).unwrap();
        // 127.7 behaves as 127; maxval 300 saturates to 255; 127.5 rounds to 128 (half even).
        let (o, _) = threshold(&img, &params(127.7, 300.0, ThresholdType::Binary, false)).unwrap();
        assert_eq!(o.data, PixelData::U8(vec![0, 0, 255, 255]));
        let (o, _) =
            threshold(&img, &params(127.0, 127.5, ThresholdType::BinaryInv, false)).unwrap();
        assert_eq!(o.data, PixelData::U8(vec![128, 128, 0, 0]));
        let (o, _) = threshold(&img, &params(127.9, 0.0, ThresholdType::Trunc, false)).unwrap();
        assert_eq!(o.data, PixelData::U8(vec![126, 127, 127, 127]));
        // A negative threshold truncates everything to 0 (T saturated).
        let (o, _) = threshold(&img, &params(-3.0, 0.0, ThresholdType::Trunc, false)).unwrap();
        assert_eq!(o.data, PixelData::U8(vec![0, 0, 0, 0]));
        let f = Image::new(3, 1, 1, PixelData::F32(vec![0.25, 0.5, 0.75])).unwrap();
        let (o, _) = threshold(&f, &params(0.5, 1.0, ThresholdType::Binary, false)).unwrap();
        assert_eq!(o.data, PixelData::F32(vec![0.0, 0.0, 1.0]));
    }

    #[test]
    fn rejects_channels_and_dtypes() {
        let img = Image::zeros(2, 2, 3, DType::U8);
        let p = params(1.0, 255.0, ThresholdType::Binary, false);
        let e = threshold(&img, &p).unwrap_err();
        assert!(e.message.contains("threshold") && e.message.contains('3'));
        let e = threshold(&Image::zeros(2, 2, 1, DType::I32), &p).unwrap_err();
        assert!(e.message.contains("threshold"));
        let p = params(1.0, 255.0, ThresholdType::Binary, true);
        assert!(threshold(&Image::zeros(2, 2, 1, DType::F32), &p).is_err());
    }
}
