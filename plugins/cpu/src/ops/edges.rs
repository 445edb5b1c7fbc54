//! Derivatives: OpenCV `Sobel`.

use yam_plugin_api::{kernels::SobelParams, DType, Image, PixelData, PluginError};

use super::blur::{plane, separable, SepKernel};
use super::separable_u8::derivative_u8_i16;
use crate::isa::Isa;
use crate::pixel::Pixel;

pub use yam_plugin_api::exact::deriv_kernel;

/// OpenCV `Sobel(src, ddepth, dx, dy, ksize, scale, delta, border)` on one channel.
///
/// Integer inputs are filtered exactly in i32. For an i16 output (u8 input only), OpenCV's
/// integer path is followed when `scale` (as f32) is a whole number: `sum·scale +
/// cvRound(delta)`, saturated; otherwise `cvRound(sum·scale + delta)`, saturated. f32
/// outputs are `(sum·scale + delta) as f32` with the sum exact (integer input) or in f64.
/// `Constant` borders use `border.value` saturated to the input dtype.
pub fn sobel(src: &Image, p: &SobelParams) -> Result<Image, PluginError> {
    sobel_isa(src, p, Isa::active())
}

/// [`sobel`] with the u8 → i16 path run at `isa`.
pub(crate) fn sobel_isa(src: &Image, p: &SobelParams, isa: Isa) -> Result<Image, PluginError> {
    let invalid = |what: String| Err(PluginError::invalid(format!("sobel: {what}")));
    if src.channels != 1 {
        return invalid(format!("needs 1 channel, input has {}", src.channels));
    }
    if ![1, 3, 5, 7].contains(&p.ksize) {
        return invalid(format!("ksize {} must be 1, 3, 5 or 7", p.ksize));
    }
    if p.dx + p.dy == 0 || p.dx > 2 || p.dy > 2 {
        return invalid(format!(
            "dx {} / dy {}: each 0 to 2 and dx + dy >= 1",
            p.dx, p.dy
        ));
    }
    if p.ksize > 1 && p.dx.max(p.dy) >= p.ksize {
        return invalid(format!(
            "dx {} / dy {} must be below ksize {}",
            p.dx, p.dy, p.ksize
        ));
    }
    if !p.scale.is_finite() || !p.delta.is_finite() {
        return invalid(format!(
            "scale {} / delta {} must be finite",
            p.scale, p.delta
        ));
    }
    let kx = deriv_kernel(p.ksize as usize, p.dx as usize);
    let ky = deriv_kernel(p.ksize as usize, p.dy as usize);
    let mode = p.border.mode;
    let k = SepKernel {
        kx: &kx,
        ky: &ky,
        mode,
        symmetric: false,
    };
    let value = p.border.value;
    let (scale, delta) = (p.scale, p.delta);
    let to_f32 = |v: f64| (v * scale + delta) as f32;
    let data = match (&src.data, p.out) {
        (PixelData::U8(v), DType::I16) => {
            let constant = u8::saturate_from_f64(value);
            // Unscaled output (OpenCV's default): the vector path when its sums fit i16.
            let plain = scale as f32 == 1.0 && delta.round_ties_even() == 0.0;
            let fast = plain
                .then(|| derivative_u8_i16(plane(src, v), &kx, &ky, mode, constant, isa))
                .flatten();
            PixelData::I16(fast.unwrap_or_else(|| {
                let finish = i16_output(scale, delta);
                separable(plane(src, v), k, constant, i32::from, |h| h, finish)
            }))
        }
        (PixelData::U8(v), DType::F32) => PixelData::F32(separable(
            plane(src, v),
            k,
            u8::saturate_from_f64(value),
            i32::from,
            |h| h,
            |s| to_f32(f64::from(s)),
        )),
        (PixelData::U16(v), DType::F32) => PixelData::F32(separable(
            plane(src, v),
            k,
            u16::saturate_from_f64(value),
            i32::from,
            |h| h,
            |s| to_f32(f64::from(s)),
        )),
        (PixelData::F32(v), DType::F32) => {
            let kx: Vec<f64> = kx.iter().map(|&t| f64::from(t)).collect();
            let ky: Vec<f64> = ky.iter().map(|&t| f64::from(t)).collect();
            let k = SepKernel {
                kx: &kx,
                ky: &ky,
                mode,
                symmetric: false,
            };
            PixelData::F32(separable(
                plane(src, v),
                k,
                value as f32,
                f64::from,
                |h| h,
                to_f32,
            ))
        }
        (data, out) => {
            return invalid(format!(
                "{} input to {out} output is not supported (u8 -> i16 | f32, u16 -> f32, \
                 f32 -> f32)",
                data.dtype()
            ))
        }
    };
    Ok(Image {
        width: src.width,
        height: src.height,
        channels: 1,
        data,
    })
}

/// The i16 conversion of an exact integer sum. OpenCV folds `scale` into the f32 kernel;
/// when that leaves integer taps (a whole `scale`) it filters in integers and adds
/// `delta` rounded to int, otherwise it filters in float and rounds the result.
fn i16_output(scale: f64, delta: f64) -> impl Fn(i32) -> i16 + Sync {
    let s32 = scale as f32;
    let integer = (s32.fract() == 0.0 && s32.abs() <= 16_777_216.0).then(|| {
        let d = delta
            .round_ties_even()
            .clamp(f64::from(i32::MIN), f64::from(i32::MAX));
        (s32 as i64, d as i64)
    });
    move |v| match integer {
        Some((s, d)) => (i64::from(v) * s + d).clamp(-32768, 32767) as i16,
        None => (f64::from(v) * scale + delta)
            .round_ties_even()
            .clamp(-32768.0, 32767.0) as i16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use yam_plugin_api::kernels::Border;

    use crate::ops::border::ALL_MODES as MODES;

    fn params(dx: u32, dy: u32, ksize: u32, out: DType) -> SobelParams {
        SobelParams {
            dx,
            dy,
            ksize,
            scale: 1.0,
            delta: 0.0,
            out,
            border: Border::default(),
        }
    }

    /// Taps of (1+z)^(n-1-order)·(z-1)^order by polynomial multiplication (ksize 1: no
    /// smoothing, 3 taps for a derivative).
    fn poly_kernel(ksize: usize, order: usize) -> Vec<f64> {
        let n = if ksize == 1 && order > 0 { 3 } else { ksize };
        let mut p = vec![1.0];
        let factors = std::iter::repeat_n([1.0, 1.0], n - 1 - order)
            .chain(std::iter::repeat_n([-1.0, 1.0], order));
        for f in factors {
            let mut q = vec![0.0; p.len() + 1];
            for (i, &a) in p.iter().enumerate() {
                q[i] += a * f[0];
                q[i + 1] += a * f[1];
            }
            p = q;
        }
        p
    }

    /// Direct 2-D correlation with `BorderMode::map` per tap, in f64 (exact for integer input),
    /// then OpenCV's output conversion.
    fn naive(img: &Image, p: &SobelParams) -> PixelData {
        let (w, h) = (img.width, img.height);
        let kx = poly_kernel(p.ksize as usize, p.dx as usize);
        let ky = poly_kernel(p.ksize as usize, p.dy as usize);
        let (rx, ry) = ((kx.len() / 2) as isize, (ky.len() / 2) as isize);
        let mode = p.border.mode;
        let (get, constant): (Box<dyn Fn(usize) -> f64>, f64) = match &img.data {
            PixelData::U8(v) => (
                Box::new(|i| f64::from(v[i])),
                p.border.value.round_ties_even().clamp(0.0, 255.0),
            ),
            PixelData::U16(v) => (
                Box::new(|i| f64::from(v[i])),
                p.border.value.round_ties_even().clamp(0.0, 65535.0),
            ),
            PixelData::F32(v) => (
                Box::new(|i| f64::from(v[i])),
                f64::from(p.border.value as f32),
            ),
            _ => unreachable!(),
        };
        let mut sums = Vec::with_capacity(w * h);
        for y in 0..h as isize {
            for x in 0..w as isize {
                let mut s = 0.0;
                for (j, &b) in ky.iter().enumerate() {
                    for (i, &a) in kx.iter().enumerate() {
                        let px = match (
                            mode.map(y + j as isize - ry, h),
                            mode.map(x + i as isize - rx, w),
                        ) {
                            (Some(sy), Some(sx)) => get(sy * w + sx),
                            _ => constant,
                        };
                        s += b * a * px;
                    }
                }
                sums.push(s);
            }
        }
        match p.out {
            DType::I16 => {
                let whole = p.scale == p.scale.trunc();
                PixelData::I16(
                    sums.iter()
                        .map(|&s| {
                            let v = if whole {
                                s * p.scale + p.delta.round_ties_even()
                            } else {
                                (s * p.scale + p.delta).round_ties_even()
                            };
                            v.clamp(-32768.0, 32767.0) as i16
                        })
                        .collect(),
                )
            }
            _ => PixelData::F32(
                sums.iter()
                    .map(|&s| (s * p.scale + p.delta) as f32)
                    .collect(),
            ),
        }
    }

    fn arb_case(max_side: usize) -> impl Strategy<Value = (Image, SobelParams)> {
        let sizes = (1..=max_side, 1..=max_side, 0..4u8);
        sizes.prop_flat_map(|(w, h, d)| {
            let n = w * h;
            let data = match d {
                0 | 1 => prop::collection::vec(any::<u8>(), n)
                    .prop_map(PixelData::U8)
                    .boxed(),
                2 => prop::collection::vec(any::<u16>(), n)
                    .prop_map(PixelData::U16)
                    .boxed(),
                _ => prop::collection::vec(-1000f32..1000.0, n)
                    .prop_map(PixelData::F32)
                    .boxed(),
            };
            let out = if d == 0 { DType::I16 } else { DType::F32 };
            let orders = prop_oneof![
                Just((1u32, 0u32)),
                Just((0, 1)),
                Just((1, 1)),
                Just((2, 0)),
                Just((0, 2)),
                Just((2, 1)),
                Just((1, 2)),
                Just((2, 2))
            ];
            (
                data,
                orders,
                prop::sample::select(vec![1u32, 3, 5, 7]),
                prop::sample::select(vec![1.0, 2.0, -1.0, 0.5, 0.25, 1.0 / 3.0, 0.01]),
                prop::sample::select(vec![0.0, 3.0, -7.5, 0.5, 1.5, 100.25]),
                prop::sample::select(MODES.to_vec()),
                -20f64..300.0,
            )
                .prop_map(move |(data, (dx, dy), ksize, scale, delta, mode, value)| {
                    let img = Image::new(w, h, 1, data).unwrap();
                    let p = SobelParams {
                        dx,
                        dy,
                        ksize,
                        scale,
                        delta,
                        out,
                        border: Border { mode, value },
                    };
                    (img, p)
                })
        })
    }

    proptest! {
        #[test]
        fn optimised_equals_naive((img, p) in arb_case(16)) {
            let got = sobel(&img, &p).unwrap();
            prop_assert_eq!((got.width, got.height, got.channels), (img.width, img.height, 1));
            let want = naive(&img, &p);
            match (&got.data, &want) {
                (PixelData::F32(g), PixelData::F32(w)) if img.dtype() == DType::F32 => {
                    for (i, (a, b)) in g.iter().zip(w).enumerate() {
                        let tol = 1e-5 * b.abs().max(1.0);
                        prop_assert!((a - b).abs() <= tol, "element {}: {} vs {}", i, a, b);
                    }
                }
                _ => prop_assert_eq!(&got.data, &want),
            }
        }
    }

    #[test]
    fn every_isa_level_equals_naive_u8_i16() {
        // Widths around the vector sizes (8 or 16 i16 lanes), every border, every kernel the
        // i16 vector path takes (and ksize 7, which the bound sends to the scalar engine).
        // Extreme pixels (0 and 255) reach the largest sums.
        let mut lcg = crate::test_rng::lcg(0x853c_49e6_748f_ea9b);
        let mut next = move || {
            let v = lcg() as u8;
            if v % 3 == 0 {
                0
            } else if v % 3 == 1 {
                255
            } else {
                v
            }
        };
        let sizes = [(1, 3), (7, 5), (8, 2), (17, 9), (33, 4), (64, 6), (1023, 3)];
        let derivs = [
            (1, 0, 3),
            (0, 1, 3),
            (1, 1, 3),
            (2, 0, 3),
            (1, 0, 1),
            (0, 2, 1),
        ];
        let derivs = derivs.into_iter().chain([(1, 0, 5), (2, 1, 5), (1, 0, 7)]);
        let derivs: Vec<_> = derivs.collect();
        for (w, h) in sizes {
            let img = Image::new(w, h, 1, PixelData::U8((0..w * h).map(|_| next()).collect()));
            let img = img.unwrap();
            for mode in MODES {
                for &(dx, dy, k) in &derivs {
                    let mut p = params(dx, dy, k, DType::I16);
                    p.border = Border { mode, value: 200.0 };
                    let want = naive(&img, &p);
                    for isa in Isa::available() {
                        let got = sobel_isa(&img, &p, isa).unwrap();
                        assert_eq!(got.data, want, "{isa} {w}x{h} {mode:?} d {dx},{dy} k {k}");
                    }
                }
            }
        }
    }

    #[test]
    fn deriv_kernels_match_opencv() {
        assert_eq!(deriv_kernel(1, 0), [1]);
        assert_eq!(deriv_kernel(1, 1), [-1, 0, 1]);
        assert_eq!(deriv_kernel(1, 2), [1, -2, 1]);
        assert_eq!(deriv_kernel(3, 0), [1, 2, 1]);
        assert_eq!(deriv_kernel(3, 1), [-1, 0, 1]);
        assert_eq!(deriv_kernel(3, 2), [1, -2, 1]);
        assert_eq!(deriv_kernel(5, 0), [1, 4, 6, 4, 1]);
        assert_eq!(deriv_kernel(5, 1), [-1, -2, 0, 2, 1]);
        assert_eq!(deriv_kernel(5, 2), [1, 0, -2, 0, 1]);
        assert_eq!(deriv_kernel(7, 0), [1, 6, 15, 20, 15, 6, 1]);
        assert_eq!(deriv_kernel(7, 1), [-1, -4, -5, 0, 5, 4, 1]);
        assert_eq!(deriv_kernel(7, 2), [1, 2, -1, -4, -1, 2, 1]);
    }

    #[test]
    fn ramp_dx_is_constant_inside_and_zero_at_reflected_edges() {
        // Columns 0, 10, 20, 30, 40 on 3 rows: inside, (x+1 - x-1)·10·(1+2+1) = 80; REFLECT_101
        // mirrors the neighbours of the first and last column, giving exactly 0 there.
        let row = [0u8, 10, 20, 30, 40];
        let img = Image::new(5, 3, 1, PixelData::U8(row.repeat(3))).unwrap();
        let got = sobel(&img, &params(1, 0, 3, DType::I16)).unwrap();
        assert_eq!(got.data, PixelData::I16([0, 80, 80, 80, 0].repeat(3)));
        let got = sobel(&img, &params(0, 1, 3, DType::F32)).unwrap();
        assert_eq!(got.data, PixelData::F32(vec![0.0; 15]));
    }

    #[test]
    fn i16_rounding_and_saturation() {
        // ksize 1, dx 1 on one row [0, 0, 1]: the middle sum is 1 - 0 = 1.
        let img = Image::new(3, 1, 1, PixelData::U8(vec![0, 0, 1])).unwrap();
        let mid = |scale, delta| {
            let p = SobelParams {
                scale,
                delta,
                ..params(1, 0, 1, DType::I16)
            };
            let PixelData::I16(v) = sobel(&img, &p).unwrap().data else {
                panic!()
            };
            v[1]
        };
        // Whole scale: OpenCV's integer path adds cvRound(1.5) = 2.
        assert_eq!(mid(1.0, 1.5), 3);
        // Fractional scale: float path, cvRound(0.5·1 + 1.5) = 2; cvRound(2.5) = 2 (half even).
        assert_eq!(mid(0.5, 1.5), 2);
        assert_eq!(mid(0.5, 2.0), 2);
        assert_eq!(mid(1e6, 0.0), 32767);
        assert_eq!(mid(-1e6, 0.0), -32768);
    }

    #[test]
    fn empty_images_stay_empty() {
        let img = Image::new(0, 4, 1, PixelData::U8(vec![])).unwrap();
        let out = sobel(&img, &params(1, 0, 3, DType::I16)).unwrap();
        assert_eq!(
            (out.width, out.height, out.data),
            (0, 4, PixelData::I16(vec![]))
        );
    }

    #[test]
    fn rejects_bad_input() {
        let rgb = Image::new(2, 2, 3, PixelData::U8(vec![0; 12])).unwrap();
        let e = sobel(&rgb, &params(1, 0, 3, DType::I16)).unwrap_err();
        assert!(e.to_string().contains("sobel"), "{e}");
        let f = Image::new(2, 2, 1, PixelData::F32(vec![0.0; 4])).unwrap();
        assert!(sobel(&f, &params(1, 0, 3, DType::I16)).is_err());
        let g = Image::new(2, 2, 1, PixelData::U8(vec![0; 4])).unwrap();
        assert!(sobel(&g, &params(0, 0, 3, DType::F32)).is_err());
        assert!(sobel(&g, &params(3, 0, 5, DType::F32)).is_err());
        assert!(sobel(&g, &params(1, 0, 9, DType::F32)).is_err());
        assert!(sobel(&g, &params(1, 0, 3, DType::U8)).is_err());
    }
}
