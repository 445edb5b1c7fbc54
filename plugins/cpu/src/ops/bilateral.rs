//! Bilateral filter (OpenCV `bilateralFilter`), u8 and f32, 1 or 3 channels.
//!
//! SEMANTICS.md §4: a disc window of radius `d/2`, spatial weights `exp(r²·(−0.5/σs²))`,
//! colour weights from a table indexed by the L1 distance over the channels, float32
//! accumulation. u8 tables cover every distance; the f32 table is sampled over the image's
//! value range and interpolated, and the centre pixel enters with weight 1.

use rayon::prelude::*;
use yam_plugin_api::{
    kernels::{BilateralParams, BorderMode},
    Image, PixelData, PluginError,
};

use super::blur::band_rows;
use super::border::{index_table, RowPadder};
use crate::isa::Isa;
use crate::pixel::Pixel;
use crate::recycle::{output_vec, Recyclable};

mod lookup;
mod u8_band;

/// Largest `d` accepted (KERNELS.md).
const MAX_D: i32 = 64;
/// f32 colour table bins per channel (OpenCV `kExpNumBinsPerChannel`).
const F32_BINS_PER_CHANNEL: usize = 1 << 12;

/// The window: tap offsets `(dy, dx)` in row-major order and their spatial weights.
#[derive(Debug, Clone, PartialEq)]
struct Window {
    radius: usize,
    taps: Vec<(isize, isize)>,
    space: Vec<f32>,
}

/// `sigma <= 0` means 1, as in OpenCV.
fn sigma_or_one(s: f64) -> f64 {
    if s <= 0.0 {
        1.0
    } else {
        s
    }
}

/// OpenCV's radius and disc: `radius = d/2` (`d <= 0`: `cvRound(1.5·σs)`), at least 1; taps
/// with `√(i² + j²) <= radius`, optionally without the centre. `coeff` is `−0.5/σs²` as the
/// caller's path rounds it (float32 for u8, double for f32).
fn window(d: i32, sigma_space: f64, coeff: f64, skip_centre: bool) -> Window {
    let radius = if d <= 0 {
        (sigma_space * 1.5).round_ties_even().max(0.0) as usize
    } else {
        (d / 2) as usize
    }
    .max(1);
    let r = radius as isize;
    let (mut taps, mut space) = (Vec::new(), Vec::new());
    for i in -r..=r {
        for j in -r..=r {
            let dist = ((i * i) as f64 + (j * j) as f64).sqrt();
            if dist > radius as f64 || (skip_centre && i == 0 && j == 0) {
                continue;
            }
            taps.push((i, j));
            space.push((dist * dist * coeff).exp() as f32);
        }
    }
    Window {
        radius,
        taps,
        space,
    }
}

/// u8 colour weights `exp(k²·coeff)` in float32 for k = 0 … 255·cn.
fn u8_color_table(sigma_color: f64, cn: usize) -> Vec<f32> {
    let coeff = (-0.5 / (sigma_color * sigma_color)) as f32;
    (0..256 * cn)
        .map(|k| ((k * k) as f32 * coeff).exp())
        .collect()
}

/// The f32 colour table: `scale_index` (bins per unit of L1 distance) and
/// `LUT[i] = exp((i/scale_index)²·(−0.5/σc²))`, 0 after the first underflow. OpenCV has
/// `4096·cn + 2` entries; `max_dist` (the largest distance the padded image can produce)
/// extends it when a constant border lies outside the image's range (OpenCV reads past its
/// table there).
fn f32_color_table(sigma_color: f64, cn: usize, range: f64, max_dist: f64) -> (f32, Vec<f32>) {
    let coeff = -0.5 / (sigma_color * sigma_color);
    let nbins = F32_BINS_PER_CHANNEL * cn;
    let len = range as f32 * cn as f32;
    let scale_index = nbins as f32 / len;
    let needed = (max_dist * f64::from(scale_index)).ceil();
    // Past exp's f32 underflow (|v²·coeff| > ~104) every entry is 0 and lookups beyond the
    // table also give 0, so a huge constant border (±3.4e38) needs no larger table than that.
    let underflow = ((110.0 / -coeff).sqrt() * f64::from(scale_index)).ceil() + 2.0;
    let n = if needed.is_finite() && needed > nbins as f64 {
        needed.min(underflow).max(nbins as f64) as usize + 2
    } else {
        nbins + 2
    };
    let mut lut = vec![0f32; n];
    let mut last = 1f32;
    for (i, e) in lut.iter_mut().enumerate() {
        if last <= 0.0 {
            break;
        }
        let v = i as f64 / f64::from(scale_index);
        *e = (v * v * coeff).exp() as f32;
        last = *e;
    }
    (scale_index, lut)
}

/// Interpolated f32 colour weight for an L1 distance. NaN distances (a NaN pixel), for which
/// OpenCV indexes its table out of bounds, get weight 0.
fn f32_color_weight(dist: f32, scale_index: f32, lut: &[f32]) -> f32 {
    let alpha = dist * scale_index;
    // NaN, or past the table (whose tail is already 0): weight 0.
    if alpha.is_nan() || alpha >= lut.len() as f32 {
        return 0.0;
    }
    let idx = alpha as usize;
    let alpha = alpha - idx as f32;
    match (lut.get(idx), lut.get(idx + 1)) {
        (Some(&a), Some(&b)) => a * (1.0 - alpha) + b * alpha,
        _ => 0.0,
    }
}

/// The source padded by `ry` rows above and below and `rx` pixels left and right:
/// `(height + 2ry)` rows of `(width + 2rx)·channels` elements.
#[allow(clippy::too_many_arguments)]
fn pad_image<T: Copy>(
    src: &[T],
    w: usize,
    h: usize,
    c: usize,
    ry: usize,
    rx: usize,
    mode: BorderMode,
    constant: T,
) -> Vec<T> {
    let padder = RowPadder::new(mode, w, c, rx, rx);
    let plen = padder.padded_len();
    let rows = index_table(mode, h, ry, ry);
    let mut out = vec![constant; plen * rows.len()];
    for (dst, sy) in out.chunks_mut(plen).zip(&rows) {
        if let Some(sy) = *sy {
            padder.pad(&src[sy * w * c..(sy + 1) * w * c], constant, dst);
        }
    }
    out
}

/// The taps' index offsets in a padded image of `plen` elements a row.
fn tap_offsets(win: &Window, plen: usize, c: usize) -> Vec<isize> {
    win.taps
        .iter()
        .map(|&(i, j)| i * plen as isize + j * c as isize)
        .collect()
}

/// Runs `pixel(padded, centre_index, offsets, out_pixel)` for every pixel, rows in parallel.
fn for_each_pixel<T: Copy + Sync, O: Recyclable>(
    padded: &[T],
    w: usize,
    h: usize,
    c: usize,
    win: &Window,
    pixel: impl Fn(&[T], usize, &[isize], &mut [O]) + Sync,
) -> Vec<O> {
    let r = win.radius;
    let plen = (w + 2 * r) * c;
    let ofs = tap_offsets(win, plen, c);
    let row_len = w * c;
    let mut out = output_vec::<O>(row_len * h);
    let band = band_rows(h, 4);
    out.par_chunks_mut(band * row_len)
        .enumerate()
        .for_each(|(b, chunk)| {
            for (i, out_row) in chunk.chunks_mut(row_len).enumerate() {
                let y = b * band + i;
                for (x, o) in out_row.chunks_mut(c).enumerate() {
                    let centre = (y + r) * plen + (x + r) * c;
                    pixel(padded, centre, &ofs, o);
                }
            }
        });
    out
}

/// Index of the tap at offset `ofs` from `centre` (offsets stay inside the padded image).
fn at(centre: usize, ofs: isize) -> usize {
    centre.wrapping_add_signed(ofs)
}

fn bilateral_u8(src: &Image, v: &[u8], p: &BilateralParams, win: &Window, isa: Isa) -> Vec<u8> {
    let (w, h, c) = (src.width, src.height, src.channels);
    if !u8_band::fits(win.taps.len(), win.radius) {
        return bilateral_u8_per_pixel(src, v, p, win);
    }
    let color = u8_color_table(sigma_or_one(p.sigma_color), c);
    let constant = u8::saturate_from_f64(p.border.value);
    let r = win.radius;
    // 2r columns a side: the kept weights cover r pixels beyond the strip.
    let padded = pad_image(v, w, h, c, r, 2 * r, p.border.mode, constant);
    let plan = u8_band::Plan {
        padded: &padded,
        plen: (w + 4 * r) * c,
        width: w,
        channels: c,
        radius: r,
        taps: &win.taps,
        space: &win.space,
        color: &color,
    };
    let row_len = w * c;
    let mut out = output_vec::<u8>(row_len * h);
    let band = band_rows(h, 16);
    out.par_chunks_mut(band * row_len)
        .enumerate()
        .for_each(|(b, chunk)| u8_band::u8_band(isa, &plan, b * band, chunk));
    out
}

/// The per-pixel loop, for windows too large for [`u8_band`]'s kept weights (which grow
/// as r³).
fn bilateral_u8_per_pixel(src: &Image, v: &[u8], p: &BilateralParams, win: &Window) -> Vec<u8> {
    let (w, h, c) = (src.width, src.height, src.channels);
    let color = u8_color_table(sigma_or_one(p.sigma_color), c);
    let constant = u8::saturate_from_f64(p.border.value);
    let padded = pad_image(v, w, h, c, win.radius, win.radius, p.border.mode, constant);
    let space = &win.space;
    if c == 1 {
        for_each_pixel(&padded, w, h, 1, win, |s, centre, ofs, o: &mut [u8]| {
            let v0 = i32::from(s[centre]);
            let (mut sum, mut wsum) = (0f32, 0f32);
            for (&of, &sw) in ofs.iter().zip(space) {
                let v = i32::from(s[at(centre, of)]);
                let wt = sw * color[(v - v0).unsigned_abs() as usize];
                sum += v as f32 * wt;
                wsum += wt;
            }
            o[0] = (sum / wsum).round_ties_even() as u8;
        })
    } else {
        for_each_pixel(&padded, w, h, 3, win, |s, centre, ofs, o: &mut [u8]| {
            let p0 = [s[centre], s[centre + 1], s[centre + 2]].map(i32::from);
            let (mut sum, mut wsum) = ([0f32; 3], 0f32);
            for (&of, &sw) in ofs.iter().zip(space) {
                let q = at(centre, of);
                let px = [s[q], s[q + 1], s[q + 2]].map(i32::from);
                let dist: u32 = (0..3).map(|ch| (px[ch] - p0[ch]).unsigned_abs()).sum();
                let wt = sw * color[dist as usize];
                for ch in 0..3 {
                    sum[ch] += px[ch] as f32 * wt;
                }
                wsum += wt;
            }
            let inv = 1.0 / wsum;
            for ch in 0..3 {
                o[ch] = (sum[ch] * inv).round_ties_even() as u8;
            }
        })
    }
}

fn bilateral_f32(src: &Image, v: &[f32], p: &BilateralParams, win: &Window) -> Vec<f32> {
    let (w, h, c) = (src.width, src.height, src.channels);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &x in v.iter().filter(|x| !x.is_nan()) {
        lo = lo.min(f64::from(x));
        hi = hi.max(f64::from(x));
    }
    // OpenCV copies a (nearly) constant image unchanged.
    if hi - lo < f64::from(f32::EPSILON) {
        return v.to_vec();
    }
    let constant = p.border.value as f32;
    let (mut plo, mut phi) = (lo, hi);
    if p.border.mode == BorderMode::Constant {
        plo = plo.min(f64::from(constant));
        phi = phi.max(f64::from(constant));
    }
    let (scale_index, lut) = f32_color_table(
        sigma_or_one(p.sigma_color),
        c,
        hi - lo,
        (phi - plo) * c as f64,
    );
    let padded = pad_image(v, w, h, c, win.radius, win.radius, p.border.mode, constant);
    let space = &win.space;
    for_each_pixel(&padded, w, h, c, win, |s, centre, ofs, o: &mut [f32]| {
        let (mut sum, mut wsum) = ([0f32; 3], 0f32);
        for (&of, &sw) in ofs.iter().zip(space) {
            let q = at(centre, of);
            let mut dist = 0f32;
            for ch in 0..c {
                dist += (s[q + ch] - s[centre + ch]).abs();
            }
            let wt = sw * f32_color_weight(dist, scale_index, &lut);
            if wt == 0.0 {
                continue;
            }
            for ch in 0..c {
                sum[ch] += s[q + ch] * wt;
            }
            wsum += wt;
        }
        for ch in 0..c {
            o[ch] = (sum[ch] + s[centre + ch]) / (wsum + 1.0);
        }
    })
}

/// OpenCV `bilateralFilter(src, d, sigma_color, sigma_space, border)` for u8 and f32 with 1
/// or 3 channels (SEMANTICS.md §4). Within 1 LSB (u8) / 1e-4 (f32) of OpenCV, whose own
/// code paths differ by that much. `sigma <= 0` means 1; `Constant` borders use
/// `border.value` (OpenCV itself pads with 0).
pub fn bilateral_filter(src: &Image, p: &BilateralParams) -> Result<Image, PluginError> {
    bilateral_filter_isa(src, p, Isa::active())
}

/// [`bilateral_filter`] with the u8 rows run at `isa`.
pub(crate) fn bilateral_filter_isa(
    src: &Image,
    p: &BilateralParams,
    isa: Isa,
) -> Result<Image, PluginError> {
    let invalid = |what: String| Err(PluginError::invalid(format!("bilateral_filter: {what}")));
    if p.d > MAX_D {
        return invalid(format!("d {} is above {MAX_D}", p.d));
    }
    if !p.sigma_color.is_finite() || !p.sigma_space.is_finite() {
        return invalid(format!(
            "sigma_color {} / sigma_space {} must be finite",
            p.sigma_color, p.sigma_space
        ));
    }
    if src.channels != 1 && src.channels != 3 {
        return invalid(format!(
            "{} channels are not supported (1 or 3)",
            src.channels
        ));
    }
    let sigma_space = sigma_or_one(p.sigma_space);
    let coeff = -0.5 / (sigma_space * sigma_space);
    let data = match &src.data {
        PixelData::U8(v) => {
            let win = window(p.d, sigma_space, f64::from(coeff as f32), false);
            PixelData::U8(bilateral_u8(src, v, p, &win, isa))
        }
        PixelData::F32(v) => {
            let win = window(p.d, sigma_space, coeff, true);
            PixelData::F32(bilateral_f32(src, v, p, &win))
        }
        other => {
            return invalid(format!(
                "dtype {} is not supported (u8 or f32)",
                other.dtype()
            ))
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

    fn params(d: i32, sc: f64, ss: f64, mode: BorderMode, value: f64) -> BilateralParams {
        BilateralParams {
            d,
            sigma_color: sc,
            sigma_space: ss,
            border: Border { mode, value },
        }
    }

    /// The filter written out per pixel: every offset of the square tested against the disc,
    /// one `BorderMode::map` per tap, weights from the formulas (the same tables and the
    /// same float32 accumulation order as OpenCV's scalar code).
    fn naive(img: &Image, p: &BilateralParams) -> PixelData {
        let (w, h, c) = (img.width, img.height, img.channels);
        let ss = sigma_or_one(p.sigma_space);
        let radius = if p.d <= 0 {
            (ss * 1.5).round() as isize
        } else {
            (p.d / 2) as isize
        }
        .max(1);
        let mode = p.border.mode;
        let get = |data: &dyn Fn(usize) -> f32, constant: f32, y: isize, x: isize, ch: usize| match (
            mode.map(y, h),
            mode.map(x, w),
        ) {
            (Some(y), Some(x)) => data((y * w + x) * c + ch),
            _ => constant,
        };
        match &img.data {
            PixelData::U8(v) => {
                let coeff_s = (-0.5 / (ss * ss)) as f32;
                let sc = sigma_or_one(p.sigma_color);
                let coeff_c = (-0.5 / (sc * sc)) as f32;
                let constant = f32::from(u8::saturate_from_f64(p.border.value));
                let data = |i: usize| f32::from(v[i]);
                let mut out = vec![0u8; v.len()];
                for y in 0..h as isize {
                    for x in 0..w as isize {
                        let (mut sum, mut wsum) = ([0f32; 3], 0f32);
                        for i in -radius..=radius {
                            for j in -radius..=radius {
                                let r = ((i * i + j * j) as f64).sqrt();
                                if r > radius as f64 {
                                    continue;
                                }
                                let sw = (r * r * f64::from(coeff_s)).exp() as f32;
                                let mut dist = 0usize;
                                for ch in 0..c {
                                    let q = get(&data, constant, y + i, x + j, ch);
                                    let p0 = get(&data, constant, y, x, ch);
                                    dist += (q - p0).abs() as usize;
                                }
                                let cw = ((dist * dist) as f32 * coeff_c).exp();
                                let wt = sw * cw;
                                for (ch, s) in sum.iter_mut().enumerate().take(c) {
                                    *s += get(&data, constant, y + i, x + j, ch) * wt;
                                }
                                wsum += wt;
                            }
                        }
                        let base = (y as usize * w + x as usize) * c;
                        for ch in 0..c {
                            let val = if c == 1 {
                                sum[ch] / wsum
                            } else {
                                sum[ch] * (1.0 / wsum)
                            };
                            out[base + ch] = val.round_ties_even() as u8;
                        }
                    }
                }
                PixelData::U8(out)
            }
            PixelData::F32(v) => {
                let lo = v.iter().fold(f64::INFINITY, |a, &b| a.min(f64::from(b)));
                let hi = v
                    .iter()
                    .fold(f64::NEG_INFINITY, |a, &b| a.max(f64::from(b)));
                if hi - lo < f64::from(f32::EPSILON) {
                    return PixelData::F32(v.clone());
                }
                let constant = p.border.value as f32;
                let coeff_s = -0.5 / (ss * ss);
                let sc = sigma_or_one(p.sigma_color);
                let coeff_c = -0.5 / (sc * sc);
                let len = (hi - lo) as f32 * c as f32;
                let scale_index = (F32_BINS_PER_CHANNEL * c) as f32 / len;
                // The table entry formula, evaluated on demand (0 once it underflows).
                let entry = |i: usize| -> f32 {
                    let t = i as f64 / f64::from(scale_index);
                    (t * t * coeff_c).exp() as f32
                };
                let data = |i: usize| v[i];
                let mut out = vec![0f32; v.len()];
                for y in 0..h as isize {
                    for x in 0..w as isize {
                        let (mut sum, mut wsum) = ([0f32; 3], 0f32);
                        for i in -radius..=radius {
                            for j in -radius..=radius {
                                let r = ((i * i + j * j) as f64).sqrt();
                                if r > radius as f64 || (i == 0 && j == 0) {
                                    continue;
                                }
                                let sw = (r * r * coeff_s).exp() as f32;
                                let mut dist = 0f32;
                                for ch in 0..c {
                                    let q = get(&data, constant, y + i, x + j, ch);
                                    dist += (q - get(&data, constant, y, x, ch)).abs();
                                }
                                let a = dist * scale_index;
                                let idx = a as usize;
                                let frac = a - idx as f32;
                                let wt = sw * (entry(idx) * (1.0 - frac) + entry(idx + 1) * frac);
                                if wt == 0.0 {
                                    continue;
                                }
                                for (ch, s) in sum.iter_mut().enumerate().take(c) {
                                    *s += get(&data, constant, y + i, x + j, ch) * wt;
                                }
                                wsum += wt;
                            }
                        }
                        let base = (y as usize * w + x as usize) * c;
                        for ch in 0..c {
                            let p0 = get(&data, constant, y, x, ch);
                            out[base + ch] = (sum[ch] + p0) / (wsum + 1.0);
                        }
                    }
                }
                PixelData::F32(out)
            }
            _ => unreachable!(),
        }
    }

    fn arb_image(max_side: usize) -> impl Strategy<Value = Image> {
        (
            prop_oneof![Just(1usize), 1..=max_side],
            prop_oneof![Just(1usize), 1..=max_side],
            prop::sample::select(vec![1usize, 3]),
            any::<bool>(),
        )
            .prop_flat_map(|(w, h, c, float)| {
                let n = w * h * c;
                let data = if float {
                    prop::collection::vec(-2f32..3.0, n)
                        .prop_map(PixelData::F32)
                        .boxed()
                } else {
                    prop::collection::vec(any::<u8>(), n)
                        .prop_map(PixelData::U8)
                        .boxed()
                };
                data.prop_map(move |d| Image::new(w, h, c, d).unwrap())
            })
    }

    fn arb_params() -> impl Strategy<Value = BilateralParams> {
        (
            prop::sample::select(vec![-1i32, 0, 1, 3, 5, 8, 9]),
            prop_oneof![Just(0.0), 0.05f64..200.0],
            prop_oneof![Just(0.0), 0.3f64..4.0],
            prop::sample::select(MODES.to_vec()),
            -1f64..2.5,
        )
            .prop_map(|(d, sc, ss, mode, value)| params(d, sc, ss, mode, value))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(120))]
        #[test]
        fn optimised_equals_naive(img in arb_image(14), p in arb_params()) {
            let want = naive(&img, &p);
            for isa in Isa::available() {
                let got = bilateral_filter_isa(&img, &p, isa).unwrap();
                match (&got.data, &want) {
                    (PixelData::F32(g), PixelData::F32(w)) => {
                        for (i, (a, b)) in g.iter().zip(w).enumerate() {
                            prop_assert!((a - b).abs() <= 1e-5, "{} element {}: {} vs {}", isa, i, a, b);
                        }
                    }
                    _ => prop_assert_eq!(&got.data, &want, "{}", isa),
                }
            }
        }
    }

    #[test]
    fn large_radius_equals_naive() {
        // d 0 with σs 12: radius 18, past what the kept weights hold (the per-pixel loop).
        assert!(!u8_band::fits(window(0, 12.0, -1.0, false).taps.len(), 18));
        for c in [1, 3] {
            let v: Vec<u8> = (0..23 * 9 * c).map(|i| (i * 7919 % 251) as u8).collect();
            let img = Image::new(23, 9, c, PixelData::U8(v)).unwrap();
            let p = params(0, 40.0, 12.0, BorderMode::Reflect101, 0.0);
            let want = naive(&img, &p);
            for isa in Isa::available() {
                assert_eq!(
                    bilateral_filter_isa(&img, &p, isa).unwrap().data,
                    want,
                    "{isa} {c}"
                );
            }
        }
    }

    #[test]
    fn wide_rows_and_bands_equal_naive() {
        // Rows longer than one accumulator chunk, more rows than one band.
        let mut seed = 0x9e37_79b9u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        // Values in 0..70 too: neighbours then mostly differ by under 64, which AVX-512 looks
        // up in registers (with a gather only where a lane is farther).
        for (w, h, c, range) in [
            (1100, 9, 1, 256),
            (530, 5, 3, 256),
            (600, 40, 1, 256),
            (700, 12, 1, 70),
            (300, 7, 3, 70),
        ] {
            let v: Vec<u8> = (0..w * h * c).map(|_| (next() % range) as u8).collect();
            let img = Image::new(w, h, c, PixelData::U8(v)).unwrap();
            for (d, sc, mode) in [
                (9, 75.0, BorderMode::Reflect101),
                (5, 10.0, BorderMode::Wrap),
            ] {
                let p = params(d, sc, 3.0, mode, 7.0);
                let want = naive(&img, &p);
                for isa in Isa::available() {
                    let got = bilateral_filter_isa(&img, &p, isa).unwrap();
                    assert_eq!(got.data, want, "{isa} {w}x{h}x{c} d {d}");
                }
            }
        }
    }

    #[test]
    fn disc_sizes_match_opencv() {
        // Taps with i² + j² <= radius²: 49 for d = 9 (radius 4). SEMANTICS.md §4 says 69,
        // which would be i² + j² <= 20; OpenCV 5.0.0's impulse response (an isolated pixel,
        // σ 1e6) has 5, 13, 29, 49 and 149 nonzero pixels for d = 3, 5, 7, 9 and 15.
        for (d, n) in [(3, 5), (5, 13), (7, 29), (9, 49), (15, 149)] {
            let w = window(d, 75.0, -0.5 / (75.0 * 75.0), false);
            assert_eq!((w.radius, w.taps.len()), (d as usize / 2, n), "d {d}");
        }
        // f32 leaves the centre out.
        assert_eq!(window(9, 75.0, -1e-4, true).taps.len(), 48);
        // d <= 0: radius = cvRound(1.5·σs) (1.5·3 = 4.5 -> 4), at least 1.
        assert_eq!(window(0, 3.0, -0.1, false).radius, 4);
        assert_eq!(window(-1, 0.2, -0.1, false).radius, 1);
        // radius 1: the 3x3 disc is the plus shape.
        let w = window(3, 1.0, -0.5, false);
        assert_eq!(w.taps, [(-1, 0), (0, -1), (0, 0), (0, 1), (1, 0)]);
        assert_eq!(w.space[2], 1.0);
        assert_eq!(w.space[0], (-0.5f64).exp() as f32);
    }

    #[test]
    fn flat_regions_stay_flat_and_edges_survive() {
        // A step 10 | 200 with small sigma_color: the 190 jump gets weight ~0.
        let mut v = vec![10u8; 10 * 6];
        for y in 0..6 {
            for x in 5..10 {
                v[y * 10 + x] = 200;
            }
        }
        let img = Image::new(10, 6, 1, PixelData::U8(v.clone())).unwrap();
        let out = bilateral_filter(&img, &params(5, 20.0, 3.0, BorderMode::Reflect101, 0.0));
        assert_eq!(out.unwrap().data, PixelData::U8(v));
    }

    #[test]
    fn constant_f32_image_is_copied() {
        let img = Image::new(4, 3, 1, PixelData::F32(vec![0.25; 12])).unwrap();
        let out = bilateral_filter(&img, &params(5, 0.3, 2.0, BorderMode::Constant, 9.0)).unwrap();
        assert_eq!(out.data, img.data);
    }

    #[test]
    fn rejects_bad_input() {
        let p = params(9, 75.0, 75.0, BorderMode::Reflect101, 0.0);
        let img = Image::new(2, 2, 4, PixelData::U8(vec![0; 16])).unwrap();
        assert!(bilateral_filter(&img, &p).is_err());
        let img = Image::new(2, 2, 1, PixelData::U16(vec![0; 4])).unwrap();
        let e = bilateral_filter(&img, &p).unwrap_err();
        assert!(e.to_string().contains("bilateral_filter"), "{e}");
        let img = Image::new(2, 2, 1, PixelData::U8(vec![0; 4])).unwrap();
        assert!(
            bilateral_filter(&img, &params(65, 75.0, 75.0, BorderMode::Reflect101, 0.0)).is_err()
        );
    }
}
