//! Box filter (OpenCV `blur` / `boxFilter` with `ddepth = -1`): running window sums.

use std::ops::{Add, Sub};

use rayon::prelude::*;
use yam_plugin_api::{
    kernels::{BorderMode, BoxBlurParams},
    Image, PixelData, PluginError,
};

use super::blur::{band_rows, plane, Plane};
use super::border::{index_table, RowPadder};
use crate::isa::Isa;
use crate::pixel::Pixel;

mod columns_first;

pub(crate) use yam_plugin_api::exact::u8_div_constants;

/// Window sums of `k`×`k` pixels per channel, with `finish` applied to each sum.
///
/// Each padded row is summed horizontally with a running sum, and the row sums are summed
/// vertically with a running column sum (OpenCV's `RowSum` / `ColumnSum` order: the column
/// sum of the previous `k - 1` rows plus the new row, then the oldest row leaves), so the cost
/// per pixel does not depend on `k`. Rows are processed in parallel bands.
///
/// With `direct`, every window is summed afresh in a fixed order instead (k additions per
/// pixel and pass): floating-point running sums lose small values next to huge ones (a
/// ±3.4e38 constant border) and would then depend on where the parallel bands start.
fn window_sums<T, S, O>(
    src: Plane<'_, T>,
    k: usize,
    mode: BorderMode,
    constant: T,
    direct: bool,
    widen: impl Fn(T) -> S + Sync,
    finish: impl Fn(S) -> O + Sync,
) -> Vec<O>
where
    T: Copy + Send + Sync,
    S: Copy + Default + Send + Sync + Add<Output = S> + Sub<Output = S>,
    O: crate::recycle::Recyclable,
{
    let c = src.channels;
    let row_len = src.width * c;
    let mut out = crate::recycle::output_vec::<O>(row_len * src.height);
    if out.is_empty() {
        return out;
    }
    let r = k / 2;
    let padder = RowPadder::new(mode, src.width, c, r, r);
    // Padded row p is image row p - r (or the constant row).
    let rows = index_table(mode, src.height, r, r);
    let band = band_rows(src.height, 4 * k);
    out.par_chunks_mut(band * row_len)
        .enumerate()
        .for_each(|(b, chunk)| {
            let mut padded = vec![constant; padder.padded_len()];
            // Row sums of padded row p live in slot p % k.
            let mut ring = vec![S::default(); k * row_len];
            let mut col = vec![S::default(); row_len];
            let mut row_sums = |p: usize, dst: &mut [S]| {
                padder.pad_source(src.data, rows[p], constant, &mut padded);
                for ch in 0..c {
                    if direct {
                        for x in 0..src.width {
                            let mut s = S::default();
                            for i in 0..k {
                                s = s + widen(padded[(x + i) * c + ch]);
                            }
                            dst[x * c + ch] = s;
                        }
                        continue;
                    }
                    let mut s = S::default();
                    for i in 0..k {
                        s = s + widen(padded[i * c + ch]);
                    }
                    dst[ch] = s;
                    for x in 1..src.width {
                        let enter = widen(padded[(x + k - 1) * c + ch]);
                        let leave = widen(padded[(x - 1) * c + ch]);
                        // Add first: unsigned sums never go below zero.
                        s = s + enter - leave;
                        dst[x * c + ch] = s;
                    }
                }
            };
            let y0 = b * band;
            // Column sums of the first k - 1 padded rows of the band's first window.
            for p in y0..y0 + k - 1 {
                let slot = &mut ring[(p % k) * row_len..][..row_len];
                row_sums(p, slot);
                for (a, &s) in col.iter_mut().zip(slot.iter()) {
                    *a = *a + s;
                }
            }
            for (i, out_row) in chunk.chunks_mut(row_len).enumerate() {
                let y = y0 + i;
                let newest = y + k - 1;
                row_sums(newest, &mut ring[(newest % k) * row_len..][..row_len]);
                if direct {
                    for (x, o) in out_row.iter_mut().enumerate() {
                        let mut s = S::default();
                        for p in y..y + k {
                            s = s + ring[(p % k) * row_len + x];
                        }
                        *o = finish(s);
                    }
                    continue;
                }
                let new = &ring[(newest % k) * row_len..][..row_len];
                let old = &ring[(y % k) * row_len..][..row_len];
                for (((o, a), &n), &l) in out_row.iter_mut().zip(col.iter_mut()).zip(new).zip(old) {
                    let s = *a + n;
                    *o = finish(s);
                    *a = s - l;
                }
            }
        });
    out
}

/// OpenCV `boxFilter(src, -1, (k, k), normalize, border)`, channels independent.
///
/// Sums are exact for u8/u16 (u32) and f64 for f32. Normalised: u8 windows of up to 256
/// pixels use OpenCV's fast division (= `round(S/d)`), larger u8 windows and u16 round
/// `S · (1/d)` half to even in f64, f32 is `(f32)(S · (1/d))`. Unnormalised: the sum saturated
/// to the dtype (OpenCV's int32 sums overflow for huge u16 windows; yam saturates).
/// `Constant` borders use `border.value` saturated to the dtype (OpenCV itself pads with 0).
pub fn box_blur(src: &Image, p: &BoxBlurParams) -> Result<Image, PluginError> {
    box_blur_isa(src, p, Isa::active())
}

/// [`box_blur`] with the u8 path run at `isa`.
pub(crate) fn box_blur_isa(src: &Image, p: &BoxBlurParams, isa: Isa) -> Result<Image, PluginError> {
    let k = p.ksize as usize;
    if k % 2 == 0 || k > 255 {
        return Err(PluginError::invalid(format!(
            "box_blur: ksize {k} must be odd, 1 to 255"
        )));
    }
    let d = (k * k) as u32;
    let inv = 1.0 / f64::from(d);
    let mode = p.border.mode;
    let norm = p.normalize;
    let data = match &src.data {
        PixelData::U8(v) => {
            let c = u8::saturate_from_f64(p.border.value);
            let (scale, delta) = u8_div_constants(d);
            let fast = columns_first::box_u8(plane(src, v), k, norm, mode, c, isa);
            PixelData::U8(fast.unwrap_or_else(|| {
                window_sums(plane(src, v), k, mode, c, false, u32::from, |s| {
                    if !norm {
                        s.min(255) as u8
                    } else if d == 1 {
                        s as u8
                    } else if d <= 256 {
                        (((u64::from(s) + delta) * scale) >> 23) as u8
                    } else {
                        u8::saturate_from_f64(f64::from(s) * inv)
                    }
                })
            }))
        }
        PixelData::U16(v) => {
            // 65535 · 255² < 2³²: the sums fit u32.
            let c = u16::saturate_from_f64(p.border.value);
            PixelData::U16(window_sums(
                plane(src, v),
                k,
                mode,
                c,
                false,
                u32::from,
                |s| {
                    if norm {
                        u16::saturate_from_f64(f64::from(s) * inv)
                    } else {
                        s.min(65535) as u16
                    }
                },
            ))
        }
        PixelData::F32(v) => {
            let c = p.border.value as f32;
            let scale = if norm { inv } else { 1.0 };
            PixelData::F32(window_sums(
                plane(src, v),
                k,
                mode,
                c,
                true,
                f64::from,
                |s| (s * scale) as f32,
            ))
        }
        other => {
            return Err(PluginError::invalid(format!(
                "box_blur: dtype {} is not supported (u8, u16 or f32)",
                other.dtype()
            )))
        }
    };
    Ok(Image {
        width: src.width,
        height: src.height,
        channels: src.channels,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use yam_plugin_api::kernels::Border;

    use crate::ops::border::ALL_MODES as MODES;

    fn params(ksize: u32, normalize: bool, mode: BorderMode, value: f64) -> BoxBlurParams {
        BoxBlurParams {
            ksize,
            normalize,
            border: Border { mode, value },
        }
    }

    /// Direct window sums, one `BorderMode::map` per tap, in f64 (exact for the integer
    /// dtypes), then the normalisation written as plain arithmetic.
    fn naive(img: &Image, p: &BoxBlurParams) -> PixelData {
        let (w, h, c) = (img.width, img.height, img.channels);
        let mode = p.border.mode;
        let v = p.border.value;
        let (constant, max) = match img.dtype() {
            yam_plugin_api::DType::U8 => (v.round_ties_even().clamp(0.0, 255.0), 255.0),
            yam_plugin_api::DType::U16 => (v.round_ties_even().clamp(0.0, 65535.0), 65535.0),
            _ => (f64::from(v as f32), f64::INFINITY),
        };
        let px = |y: isize, x: isize, ch: usize| -> f64 {
            match (mode.map(y, h), mode.map(x, w)) {
                (Some(y), Some(x)) => {
                    let i = (y * w + x) * c + ch;
                    match &img.data {
                        PixelData::U8(v) => f64::from(v[i]),
                        PixelData::U16(v) => f64::from(v[i]),
                        PixelData::F32(v) => f64::from(v[i]),
                        _ => unreachable!(),
                    }
                }
                _ => constant,
            }
        };
        let r = (p.ksize / 2) as isize;
        let d = f64::from(p.ksize * p.ksize);
        let mut sums = Vec::with_capacity(w * h * c);
        for y in 0..h as isize {
            for x in 0..w as isize {
                for ch in 0..c {
                    let mut s = 0.0;
                    for dy in -r..=r {
                        for dx in -r..=r {
                            s += px(y + dy, x + dx, ch);
                        }
                    }
                    sums.push(s);
                }
            }
        }
        let int = |s: f64| {
            if p.normalize {
                // Exact: odd d never gives a tie.
                (s / d).round()
            } else {
                s.min(max)
            }
        };
        match &img.data {
            PixelData::U8(_) => PixelData::U8(sums.iter().map(|&s| int(s) as u8).collect()),
            PixelData::U16(_) => PixelData::U16(sums.iter().map(|&s| int(s) as u16).collect()),
            _ => PixelData::F32(
                sums.iter()
                    .map(|&s| if p.normalize { s / d } else { s } as f32)
                    .collect(),
            ),
        }
    }

    fn assert_matches(got: &PixelData, want: &PixelData) -> Result<(), TestCaseError> {
        match (got, want) {
            (PixelData::F32(g), PixelData::F32(w)) => {
                prop_assert_eq!(g.len(), w.len());
                for (i, (a, b)) in g.iter().zip(w).enumerate() {
                    let tol = 1e-5 * b.abs().max(1.0);
                    prop_assert!((a - b).abs() <= tol, "element {}: {} vs {}", i, a, b);
                }
            }
            _ => prop_assert_eq!(got, want),
        }
        Ok(())
    }

    fn arb_image(max_side: usize) -> impl Strategy<Value = Image> {
        (
            prop_oneof![Just(1usize), 1..=max_side],
            prop_oneof![Just(1usize), 1..=max_side],
            prop::sample::select(vec![1usize, 3, 4]),
            0..3u8,
        )
            .prop_flat_map(|(w, h, c, d)| {
                let n = w * h * c;
                let data = match d {
                    0 => prop::collection::vec(any::<u8>(), n)
                        .prop_map(PixelData::U8)
                        .boxed(),
                    1 => prop::collection::vec(any::<u16>(), n)
                        .prop_map(PixelData::U16)
                        .boxed(),
                    _ => prop::collection::vec(-1000f32..1000.0, n)
                        .prop_map(PixelData::F32)
                        .boxed(),
                };
                data.prop_map(move |d| Image::new(w, h, c, d).unwrap())
            })
    }

    fn arb_params() -> impl Strategy<Value = BoxBlurParams> {
        (
            prop::sample::select(vec![1u32, 3, 5, 7, 9, 15, 17, 21]),
            any::<bool>(),
            prop::sample::select(MODES.to_vec()),
            -20f64..70000.0,
        )
            .prop_map(|(k, n, mode, value)| params(k, n, mode, value))
    }

    proptest! {
        #[test]
        fn optimised_equals_naive(img in arb_image(24), p in arb_params()) {
            let got = box_blur(&img, &p).unwrap();
            prop_assert_eq!(
                (got.width, got.height, got.channels),
                (img.width, img.height, img.channels)
            );
            assert_matches(&got.data, &naive(&img, &p))?;
        }
    }

    #[test]
    fn every_isa_level_equals_naive_u8() {
        // Widths around the vector sizes, every border, normalised and not, windows whose
        // division has a signed multiply (3 to 11) or a widened one (13, 15), the largest
        // window the u16 sums take (15) and one beyond it (17, scalar engine).
        let mut lcg = crate::test_rng::lcg(0xda94_2042_e4dd_58b5);
        let mut next = move || {
            let v = lcg() as u8;
            // Many 255s, so the largest sums occur.
            if v % 2 == 0 {
                255
            } else {
                v
            }
        };
        let sizes = [
            (1, 3, 1),
            (7, 5, 3),
            (16, 2, 1),
            (17, 9, 1),
            (33, 4, 3),
            (64, 6, 1),
        ];
        // Tall ones too: the running column sum carries across many rows of a band.
        for (w, h, c) in sizes
            .into_iter()
            .chain([(1023, 3, 1), (130, 97, 1), (70, 61, 3)])
        {
            let img = Image::new(
                w,
                h,
                c,
                PixelData::U8((0..w * h * c).map(|_| next()).collect()),
            );
            let img = img.unwrap();
            for mode in MODES {
                for k in [1, 3, 5, 7, 13, 15, 17] {
                    for norm in [true, false] {
                        let p = params(k, norm, mode, 250.0);
                        let want = naive(&img, &p);
                        for isa in Isa::available() {
                            let got = box_blur_isa(&img, &p, isa).unwrap();
                            let what = format!("{isa} {w}x{h}x{c} {mode:?} k {k} norm {norm}");
                            assert_eq!(got.data, want, "{what}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn several_bands_equal_naive() {
        for (d, mode, k) in [
            (0u8, BorderMode::Reflect101, 5u32),
            (1, BorderMode::Wrap, 7),
            (2, BorderMode::Constant, 3),
            (0, BorderMode::Replicate, 17),
        ] {
            let (w, h, c) = (29, 211, 3);
            let n = w * h * c;
            let gen = |i: usize| (i * 7919 + i / 13 * 31) % 251;
            let data = match d {
                0 => PixelData::U8((0..n).map(|i| gen(i) as u8).collect()),
                1 => PixelData::U16((0..n).map(|i| (gen(i) * 261) as u16).collect()),
                _ => PixelData::F32((0..n).map(|i| gen(i) as f32 / 7.0).collect()),
            };
            let img = Image::new(w, h, c, data).unwrap();
            for norm in [true, false] {
                let p = params(k, norm, mode, 9.0);
                let got = box_blur(&img, &p).unwrap();
                assert_matches(&got.data, &naive(&img, &p)).unwrap();
            }
        }
    }

    #[test]
    fn u8_fast_division_matches_semantics_table_and_rounding() {
        // SEMANTICS.md §2.
        assert_eq!(u8_div_constants(25), (335544, 13));
        assert_eq!(u8_div_constants(121), (69327, 61));
        // Every reachable sum of every u8 window that uses the fast division.
        for k in (3..=15u64).step_by(2) {
            let d = k * k;
            let (scale, delta) = u8_div_constants(d as u32);
            for s in 0..=255 * d {
                let want = (s + d / 2) / d; // round(s/d); odd d has no ties
                assert_eq!(((s + delta) * scale) >> 23, want, "k {k}, S {s}");
            }
        }
    }

    #[test]
    fn hand_checked_sums() {
        // 3x3 ramp 0..9, 3x3 window at the centre: sum 36, mean 4.
        let img = Image::new(3, 3, 1, PixelData::U8((0..9).collect())).unwrap();
        let reflect = |n| box_blur(&img, &params(3, n, BorderMode::Reflect101, 0.0)).unwrap();
        let PixelData::U8(o) = reflect(true).data else {
            panic!()
        };
        assert_eq!(o[4], 4);
        // Top-left with reflect101: rows 1,0,1 x cols 1,0,1 -> 4+3+4+1+0+1+4+3+4 = 24,
        // 24 / 9 = 2.67 -> 3.
        assert_eq!(o[0], 3);
        // Unnormalised saturates to 255 (36 fits, 24 fits).
        let PixelData::U8(o) = reflect(false).data else {
            panic!()
        };
        assert_eq!((o[0], o[4]), (24, 36));
        let big = Image::new(3, 3, 1, PixelData::U8(vec![200; 9])).unwrap();
        let out = box_blur(&big, &params(3, false, BorderMode::Reflect101, 0.0)).unwrap();
        assert_eq!(out.data, PixelData::U8(vec![255; 9]));
        // Constant border 90 around a single 0 pixel, 3x3: 8·90 / 9 = 80.
        let one = Image::new(1, 1, 1, PixelData::U16(vec![0])).unwrap();
        let out = box_blur(&one, &params(3, true, BorderMode::Constant, 90.0)).unwrap();
        assert_eq!(out.data, PixelData::U16(vec![80]));
    }

    #[test]
    fn rejects_bad_input() {
        let img = Image::new(2, 2, 1, PixelData::I16(vec![0; 4])).unwrap();
        let e = box_blur(&img, &params(3, true, BorderMode::Reflect101, 0.0)).unwrap_err();
        assert!(e.to_string().contains("box_blur"), "{e}");
        let img = Image::new(2, 2, 1, PixelData::U8(vec![0; 4])).unwrap();
        assert!(box_blur(&img, &params(4, true, BorderMode::Reflect101, 0.0)).is_err());
    }
}
