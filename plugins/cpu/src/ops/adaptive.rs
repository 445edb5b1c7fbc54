//! Adaptive threshold (OpenCV `adaptiveThreshold`), u8 single channel.

use yam_plugin_api::{
    kernels::{
        AdaptiveMethod, AdaptiveThresholdParams, Border, BorderMode, BoxBlurParams, ThresholdType,
    },
    Image, PixelData, PluginError,
};

use super::blur::{gaussian_kernel, plane, separable, SepKernel};
use super::box_blur::box_blur;
use crate::isa::Isa;
use crate::pixel::Pixel;
use crate::simd;
use rayon::prelude::*;

/// The local threshold image, u8, with replicate borders (SEMANTICS.md §9).
///
/// `Mean`: the u8-rounded box mean (`boxFilter(src, CV_8U, …, normalize, BORDER_REPLICATE)`).
/// `Gaussian`: OpenCV 5 converts to f32, runs `GaussianBlur(block, σ 0)` (float taps) and
/// converts back with round half to even; the float sums are evaluated in f64 here (OpenCV
/// sums in f32), which matched OpenCV on every case checked.
fn local_mean(src: &Image, v: &[u8], block: u32, method: AdaptiveMethod) -> Vec<u8> {
    let replicate = Border {
        mode: BorderMode::Replicate,
        value: 0.0,
    };
    match method {
        AdaptiveMethod::Mean => {
            let p = BoxBlurParams {
                ksize: block,
                normalize: true,
                border: replicate,
            };
            match box_blur(src, &p).map(|img| img.data) {
                Ok(PixelData::U8(m)) => m,
                other => unreachable!("box_blur of u8 gives u8: {other:?}"),
            }
        }
        AdaptiveMethod::Gaussian => {
            let taps: Vec<f64> = gaussian_kernel(block as usize, 0.0)
                .into_iter()
                .map(|t| f64::from(t as f32))
                .collect();
            let k = SepKernel {
                kx: &taps,
                ky: &taps,
                mode: BorderMode::Replicate,
                symmetric: false,
            };
            separable(plane(src, v), k, 0, f64::from, |h| h, u8::saturate_from_f64)
        }
    }
}

/// `imax` where `pass(src - mean)`, else 0, written over `mean` (no second image buffer);
/// chunks in parallel, each compiled for the active ISA.
fn compare(
    src: &[u8],
    mut mean: Vec<u8>,
    imax: u8,
    pass: impl Fn(i32) -> bool + Copy + Sync,
) -> Vec<u8> {
    const CHUNK: usize = 1 << 16;
    let isa = Isa::active();
    mean.par_chunks_mut(CHUNK)
        .zip(src.par_chunks(CHUNK))
        .for_each(|(mean, src)| {
            let job = Compare {
                src,
                mean,
                imax,
                pass,
            };
            simd::vectorised(isa, job)
        });
    mean
}

struct Compare<'a, P> {
    src: &'a [u8],
    mean: &'a mut [u8],
    imax: u8,
    /// By value: a captured threshold read through a reference would be reloaded after every
    /// store (it could alias the output), which keeps the loop scalar.
    pass: P,
}

impl<P: Fn(i32) -> bool> simd::PlainKernel for Compare<'_, P> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let (pass, imax) = (self.pass, self.imax);
        for (m, &s) in self.mean.iter_mut().zip(self.src) {
            *m = if pass(i32::from(s) - i32::from(*m)) {
                imax
            } else {
                0
            };
        }
    }
}

/// OpenCV `adaptiveThreshold(src, maxval, method, type, block_size, c)`: with `m` the local
/// mean (see `local_mean`), binary writes `maxval` where `src − m > −ceil(c)`, binary_inv
/// where `src − m <= −floor(c)`, 0 elsewhere. `maxval` is saturated to u8 (a negative
/// `maxval` gives an all-zero image, as in OpenCV).
pub fn adaptive_threshold(src: &Image, p: &AdaptiveThresholdParams) -> Result<Image, PluginError> {
    let invalid = |what: String| Err(PluginError::invalid(format!("adaptive_threshold: {what}")));
    let PixelData::U8(v) = &src.data else {
        return invalid(format!("dtype {} is not supported (u8)", src.dtype()));
    };
    if src.channels != 1 {
        return invalid(format!("{} channels are not supported (1)", src.channels));
    }
    let block = p.block_size;
    if block < 3 || block % 2 == 0 || block > 255 {
        return invalid(format!("block_size {block} must be odd, 3 to 255"));
    }
    if !p.c.is_finite() || !p.maxval.is_finite() {
        return invalid(format!("c {} and maxval {} must be finite", p.c, p.maxval));
    }
    let out = if p.maxval < 0.0 {
        vec![0u8; v.len()]
    } else {
        let imax = u8::saturate_from_f64(p.maxval);
        let mean = local_mean(src, v, block, p.method);
        // |src - mean| <= 255, so clamping the rounded delta keeps every comparison and lets
        // the loops below run on i32 lanes (one monomorphic loop per type, vectorised).
        let delta = |d: f64| d.clamp(-1000.0, 1000.0) as i32;
        match p.kind {
            ThresholdType::Binary => {
                let idelta = delta(p.c.ceil());
                compare(v, mean, imax, move |d| d > -idelta)
            }
            ThresholdType::BinaryInv => {
                let idelta = delta(p.c.floor());
                compare(v, mean, imax, move |d| d <= -idelta)
            }
            other => {
                return invalid(format!(
                    "type {other:?} is not supported (binary, binary_inv)"
                ))
            }
        }
    };
    Ok(Image {
        width: src.width,
        height: src.height,
        channels: 1,
        data: PixelData::U8(out),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(
        method: AdaptiveMethod,
        kind: ThresholdType,
        block_size: u32,
        c: f64,
        maxval: f64,
    ) -> AdaptiveThresholdParams {
        AdaptiveThresholdParams {
            maxval,
            method,
            kind,
            block_size,
            c,
        }
    }

    /// Direct definition: window sums with one `BorderMode::map` per tap (replicate),
    /// `round(S/d)` for the mean, the f32-cast Gaussian taps for the weighted mean, then the
    /// comparison with real-valued `c` rounded as OpenCV does.
    fn naive(img: &Image, p: &AdaptiveThresholdParams) -> Vec<u8> {
        let PixelData::U8(v) = &img.data else {
            unreachable!()
        };
        let (w, h) = (img.width, img.height);
        let k = p.block_size as usize;
        let r = (k / 2) as isize;
        let taps: Vec<f64> = gaussian_kernel(k, 0.0)
            .into_iter()
            .map(|t| f64::from(t as f32))
            .collect();
        let px = |y: isize, x: isize| {
            let y = BorderMode::Replicate.map(y, h).unwrap();
            let x = BorderMode::Replicate.map(x, w).unwrap();
            f64::from(v[y * w + x])
        };
        let imax = p.maxval.round_ties_even().clamp(0.0, 255.0) as u8;
        let mut out = Vec::new();
        for y in 0..h as isize {
            for x in 0..w as isize {
                let mut s = 0.0;
                for dy in -r..=r {
                    for dx in -r..=r {
                        let wt = match p.method {
                            AdaptiveMethod::Mean => 1.0,
                            AdaptiveMethod::Gaussian => {
                                taps[(dy + r) as usize] * taps[(dx + r) as usize]
                            }
                        };
                        s += wt * px(y + dy, x + dx);
                    }
                }
                let mean = match p.method {
                    AdaptiveMethod::Mean => (s / (k * k) as f64).round(),
                    AdaptiveMethod::Gaussian => s.round_ties_even(),
                };
                let d = px(y, x) - mean;
                let pass = match p.kind {
                    ThresholdType::Binary => d > -p.c.ceil(),
                    _ => d <= -p.c.floor(),
                };
                out.push(if pass { imax } else { 0 });
            }
        }
        out
    }

    fn arb_image(max_side: usize) -> impl Strategy<Value = Image> {
        (
            prop_oneof![Just(1usize), 1..=max_side],
            prop_oneof![Just(1usize), 1..=max_side],
            any::<bool>(),
        )
            .prop_flat_map(|(w, h, smooth)| {
                let n = w * h;
                // Smooth ramps make many pixels sit right at the local mean.
                let data = if smooth {
                    (0u8..200, 0u8..4)
                        .prop_map(move |(a, b)| {
                            (0..n)
                                .map(|i| a.wrapping_add((i % w) as u8 * b + (i / w) as u8))
                                .collect()
                        })
                        .boxed()
                } else {
                    prop::collection::vec(any::<u8>(), n).boxed()
                };
                data.prop_map(move |d| Image::new(w, h, 1, PixelData::U8(d)).unwrap())
            })
    }

    fn arb_params() -> impl Strategy<Value = AdaptiveThresholdParams> {
        (
            prop::sample::select(vec![AdaptiveMethod::Mean, AdaptiveMethod::Gaussian]),
            prop::sample::select(vec![ThresholdType::Binary, ThresholdType::BinaryInv]),
            prop::sample::select(vec![3u32, 5, 7, 9, 11, 15, 17, 21]),
            prop_oneof![
                prop::sample::select(vec![0.0, 2.0, -2.0, 0.5, -0.5, 2.5]),
                -20f64..20.0
            ],
            prop::sample::select(vec![255.0, 100.0, 127.5, 300.0, 0.0]),
        )
            .prop_map(|(m, t, b, c, mx)| params(m, t, b, c, mx))
    }

    proptest! {
        #[test]
        fn optimised_equals_naive(img in arb_image(30), p in arb_params()) {
            let got = adaptive_threshold(&img, &p).unwrap();
            prop_assert_eq!(got.data, PixelData::U8(naive(&img, &p)));
        }
    }

    #[test]
    fn delta_is_rounded_towards_passing_as_opencv() {
        // Flat image: src - mean = 0 everywhere.
        let img = Image::new(5, 4, 1, PixelData::U8(vec![90; 20])).unwrap();
        let run = |kind, c| {
            let p = params(AdaptiveMethod::Mean, kind, 3, c, 255.0);
            match adaptive_threshold(&img, &p).unwrap().data {
                PixelData::U8(v) => v[0],
                _ => unreachable!(),
            }
        };
        // binary: 0 > -ceil(c).  c = 0.5 -> ceil 1 -> pass; c = -0.5 -> ceil 0 -> fail.
        assert_eq!(run(ThresholdType::Binary, 0.5), 255);
        assert_eq!(run(ThresholdType::Binary, -0.5), 0);
        assert_eq!(run(ThresholdType::Binary, 0.0), 0);
        // binary_inv: 0 <= -floor(c).  c = 0.5 -> floor 0 -> pass; c = 1 -> fail.
        assert_eq!(run(ThresholdType::BinaryInv, 0.5), 255);
        assert_eq!(run(ThresholdType::BinaryInv, 1.0), 0);
        assert_eq!(run(ThresholdType::BinaryInv, -3.0), 255);
    }

    #[test]
    fn maxval_saturates_and_negative_maxval_is_zero() {
        let img = Image::new(3, 1, 1, PixelData::U8(vec![10, 200, 10])).unwrap();
        let run = |mx| {
            let p = params(AdaptiveMethod::Gaussian, ThresholdType::Binary, 3, 0.0, mx);
            adaptive_threshold(&img, &p).unwrap().data
        };
        // Gaussian 3 taps [1 2 1]/4 per axis, replicate: the middle mean is
        // (10 + 400 + 10)/4 = 105, src 200 > 105 passes; the sides' mean is
        // (10·3 + 200)/4 = 57.5 -> 58 (half to even), 10 - 58 fails.
        assert_eq!(run(300.0), PixelData::U8(vec![0, 255, 0]));
        assert_eq!(run(127.5), PixelData::U8(vec![0, 128, 0]));
        assert_eq!(run(-1.0), PixelData::U8(vec![0, 0, 0]));
    }

    #[test]
    fn rejects_bad_input() {
        let p = params(AdaptiveMethod::Mean, ThresholdType::Binary, 11, 2.0, 255.0);
        let img = Image::new(2, 2, 1, PixelData::U16(vec![0; 4])).unwrap();
        let e = adaptive_threshold(&img, &p).unwrap_err();
        assert!(e.to_string().contains("adaptive_threshold"), "{e}");
        let img = Image::new(2, 2, 3, PixelData::U8(vec![0; 12])).unwrap();
        assert!(adaptive_threshold(&img, &p).is_err());
        let img = Image::new(2, 2, 1, PixelData::U8(vec![0; 4])).unwrap();
        let even = params(AdaptiveMethod::Mean, ThresholdType::Binary, 4, 2.0, 255.0);
        assert!(adaptive_threshold(&img, &even).is_err());
        let trunc = params(AdaptiveMethod::Mean, ThresholdType::Trunc, 3, 2.0, 255.0);
        assert!(adaptive_threshold(&img, &trunc).is_err());
    }
}
