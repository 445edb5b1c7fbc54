//! Edge maps: OpenCV `Canny` on u8 images (SEMANTICS §7), bit-exact.
//!
//! As OpenCV: bands of rows in parallel, each computing gradients (i16), magnitudes (i32) and
//! non-maximum suppression row by row into a u8 map with three states, and growing its strong
//! pixels through the candidates (hysteresis) as its rows are done; a serial step continues
//! the edges that reach a band's first or last row into the neighbouring bands, and a last
//! pass writes 0/255.

mod band;
mod hysteresis;
mod rows;

use rayon::prelude::*;
use yam_plugin_api::{
    kernels::{Border, BorderMode, CannyParams, SobelParams},
    DType, Image, PixelData, PluginError,
};

use self::band::{Band, Gradients};
use super::blur::band_rows;
use super::edges::sobel_isa;
use crate::isa::Isa;

/// Map states, as OpenCV's `map`: a candidate (passes NMS and `low`), no edge, an edge.
const CANDIDATE: u8 = 0;
const NOT_EDGE: u8 = 1;
const EDGE: u8 = 2;

/// The integer thresholds OpenCV compares magnitudes with: aperture 7 divides both by 16
/// (its Sobel is scaled by 1/16), `low > high` swaps them, the L2 magnitude squares them after
/// clamping to 32767, and both are floored.
pub fn thresholds(p: &CannyParams) -> (i64, i64) {
    let (mut low, mut high) = (p.low, p.high);
    if p.aperture == 7 {
        low /= 16.0;
        high /= 16.0;
    }
    if low > high {
        std::mem::swap(&mut low, &mut high);
    }
    if p.l2_gradient {
        low = low.min(32767.0);
        high = high.min(32767.0);
        if low > 0.0 {
            low *= low;
        }
        if high > 0.0 {
            high *= high;
        }
    }
    (low.floor() as i64, high.floor() as i64)
}

/// OpenCV `Canny(src, low, high, aperture, L2gradient)` on a 1-channel u8 image; the output
/// is 255 on edges and 0 elsewhere.
///
/// 1. `dx`, `dy`: Sobel of order 1 with `aperture` taps, BORDER_REPLICATE, saturated to i16
///    (aperture 7: scaled by 1/16 and rounded half to even, as OpenCV).
/// 2. `m = |dx| + |dy|` or `dx² + dy²`; magnitudes outside the image are 0.
/// 3. Non-maximum suppression with integer tangents, `x = |dx|`, `y = |dy| << 15`:
///    `y < x·TG22` compares left (`>`) and right (`>=`); `y > x·TG22 + (x << 16)` compares up
///    (`>`) and down (`>=`); otherwise the diagonal along the gradient's sign, `>` both ways.
/// 4. Candidates pass NMS with `m > low`; edges are the candidates 8-connected through
///    candidates to one with `m > high`.
pub fn canny(src: &Image, p: &CannyParams) -> Result<Image, PluginError> {
    canny_isa(src, p, Isa::active())
}

/// [`canny`] with the row passes compiled for `isa`.
pub(crate) fn canny_isa(src: &Image, p: &CannyParams, isa: Isa) -> Result<Image, PluginError> {
    let invalid = |what: String| Err(PluginError::invalid(format!("canny: {what}")));
    if src.channels != 1 {
        return invalid(format!("needs 1 channel, input has {}", src.channels));
    }
    let PixelData::U8(pixels) = &src.data else {
        return invalid(format!("needs u8 input, got {}", src.dtype()));
    };
    if ![3, 5, 7].contains(&p.aperture) {
        return invalid(format!("aperture {} must be 3, 5 or 7", p.aperture));
    }
    if !p.low.is_finite() || !p.high.is_finite() {
        return invalid(format!(
            "thresholds low {} / high {} must be finite",
            p.low, p.high
        ));
    }
    let (w, h) = (src.width, src.height);
    if w == 0 || h == 0 {
        return Ok(Image::zeros(w, h, 1, DType::U8));
    }
    // Magnitudes of a u8 image lie in 0..2^29 (|dx|, |dy| <= 12240), so clamping the
    // thresholds to i32 keeps every comparison.
    let (low, high) = thresholds(p);
    let clamp = |t: i64| t.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    let full;
    let grad = if p.aperture == 3 {
        Gradients::Sobel3(pixels)
    } else {
        full = gradients(src, p.aperture, isa)?;
        Gradients::Full {
            dx: &full.0,
            dy: &full.1,
        }
    };

    let band = band_rows(h, 16);
    let mut map = crate::recycle::output_vec::<u8>(w * h);
    map.par_chunks_mut(band * w)
        .enumerate()
        .for_each(|(b, rows)| {
            let pass = Band {
                grad: &grad,
                width: w,
                height: h,
                first: b * band,
                l2: p.l2_gradient,
                low: clamp(low),
                high: clamp(high),
                map: rows,
            };
            band::run(pass, isa);
        });

    // Each band grew its edges within itself; those on its first or last row may continue
    // into the next band.
    let mut stack = Vec::new();
    for first in (0..h).step_by(band) {
        for y in [first, (first + band).min(h) - 1] {
            rows::push_row_edges(&map[y * w..(y + 1) * w], y, &mut stack);
        }
    }
    hysteresis::grow(&mut map, w, &mut stack, &mut Vec::new());

    map.par_chunks_mut(band * w).for_each(|rows| {
        for s in rows {
            *s = if *s == EDGE { 255 } else { 0 };
        }
    });
    Ok(Image {
        width: w,
        height: h,
        channels: 1,
        data: PixelData::U8(map),
    })
}

/// `dx` and `dy` as OpenCV's Canny computes them: `Sobel(src, CV_16S, 1, 0 | 0, 1, aperture,
/// scale, 0, BORDER_REPLICATE)` with `scale` 1/16 for aperture 7, 1 otherwise.
fn gradients(src: &Image, aperture: u32, isa: Isa) -> Result<(Vec<i16>, Vec<i16>), PluginError> {
    let params = |dx, dy| SobelParams {
        dx,
        dy,
        ksize: aperture,
        scale: if aperture == 7 { 1.0 / 16.0 } else { 1.0 },
        delta: 0.0,
        out: DType::I16,
        border: Border {
            mode: BorderMode::Replicate,
            value: 0.0,
        },
    };
    let take = |img: Image| match img.data {
        PixelData::I16(v) => v,
        other => unreachable!("sobel with out: i16 returned {}", other.dtype()),
    };
    Ok((
        take(sobel_isa(src, &params(1, 0), isa)?),
        take(sobel_isa(src, &params(0, 1), isa)?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    fn params(low: f64, high: f64, aperture: u32, l2_gradient: bool) -> CannyParams {
        CannyParams {
            low,
            high,
            aperture,
            l2_gradient,
        }
    }

    /// Taps of `(1+z)^(n-1-order)·(z-1)^order` by polynomial multiplication.
    fn taps(n: usize, order: usize) -> Vec<i64> {
        let mut p = vec![1i64];
        let factors =
            std::iter::repeat_n([1, 1], n - 1 - order).chain(std::iter::repeat_n([-1, 1], order));
        for f in factors {
            let mut q = vec![0; p.len() + 1];
            for (i, &a) in p.iter().enumerate() {
                q[i] += a * f[0];
                q[i + 1] += a * f[1];
            }
            p = q;
        }
        p
    }

    /// Canny written directly from SEMANTICS §7: a 2-D replicate-border correlation per pixel,
    /// magnitudes through a bounds-checked accessor, and a breadth-first flood fill from every
    /// strong pixel through the candidates.
    fn naive(img: &Image, p: &CannyParams) -> Vec<u8> {
        let PixelData::U8(v) = &img.data else {
            unreachable!()
        };
        let (w, h) = (img.width as isize, img.height as isize);
        let n = p.aperture as usize;
        let (smooth, deriv) = (taps(n, 0), taps(n, 1));
        let r = (n / 2) as isize;
        let px =
            |y: isize, x: isize| i64::from(v[(y.clamp(0, h - 1) * w + x.clamp(0, w - 1)) as usize]);
        let grad = |y: isize, x: isize, kx: &[i64], ky: &[i64]| {
            let mut s = 0i64;
            for (j, &b) in ky.iter().enumerate() {
                for (i, &a) in kx.iter().enumerate() {
                    s += a * b * px(y + j as isize - r, x + i as isize - r);
                }
            }
            let s = if n == 7 {
                (s as f64 / 16.0).round_ties_even() as i64
            } else {
                s
            };
            s.clamp(-32768, 32767)
        };
        let idx = |y: isize, x: isize| (y * w + x) as usize;
        let mut gx = vec![0i64; (w * h) as usize];
        let mut gy = gx.clone();
        for y in 0..h {
            for x in 0..w {
                gx[idx(y, x)] = grad(y, x, &deriv, &smooth);
                gy[idx(y, x)] = grad(y, x, &smooth, &deriv);
            }
        }
        let mag: Vec<i64> = gx
            .iter()
            .zip(&gy)
            .map(|(&a, &b)| {
                if p.l2_gradient {
                    a * a + b * b
                } else {
                    a.abs() + b.abs()
                }
            })
            .collect();
        let m = |y: isize, x: isize| {
            if (0..h).contains(&y) && (0..w).contains(&x) {
                mag[idx(y, x)]
            } else {
                0
            }
        };
        let (low, high) = thresholds(p);
        let tg22 = i64::from(rows::TG22);
        let mut cand = vec![false; mag.len()];
        let mut queue = VecDeque::new();
        for y in 0..h {
            for x in 0..w {
                let (a, b) = (gx[idx(y, x)], gy[idx(y, x)]);
                let c = m(y, x);
                let (tx, ty) = (a.abs(), b.abs() << 15);
                let keep = if ty < tx * tg22 {
                    c > m(y, x - 1) && c >= m(y, x + 1)
                } else if ty > tx * tg22 + (tx << 16) {
                    c > m(y - 1, x) && c >= m(y + 1, x)
                } else {
                    let s = if (a < 0) != (b < 0) { -1 } else { 1 };
                    c > m(y - 1, x - s) && c > m(y + 1, x + s)
                };
                if keep && c > low {
                    cand[idx(y, x)] = true;
                    if c > high {
                        queue.push_back((y, x));
                    }
                }
            }
        }
        let mut out = vec![0u8; mag.len()];
        for &(y, x) in &queue {
            out[idx(y, x)] = 255;
        }
        while let Some((y, x)) = queue.pop_front() {
            for (ny, nx) in (-1..=1).flat_map(|j| (-1..=1).map(move |i| (y + j, x + i))) {
                if (0..h).contains(&ny)
                    && (0..w).contains(&nx)
                    && cand[idx(ny, nx)]
                    && out[idx(ny, nx)] == 0
                {
                    out[idx(ny, nx)] = 255;
                    queue.push_back((ny, nx));
                }
            }
        }
        out
    }

    fn arb_image(max_width: usize, max_height: usize) -> impl Strategy<Value = Image> {
        (1..=max_width, 1..=max_height, 0..3u8).prop_flat_map(|(w, h, kind)| {
            let pixels = match kind {
                // Noise: many weak, crossing gradients.
                0 => prop::collection::vec(any::<u8>(), w * h).boxed(),
                // Few levels: plateaus and ties between neighbouring magnitudes.
                1 => prop::collection::vec(prop::sample::select(vec![0u8, 60, 120, 255]), w * h)
                    .boxed(),
                // Blocks of 3×3 with random levels: long straight and diagonal edges.
                _ => prop::collection::vec(any::<u8>(), w.div_ceil(3) * h.div_ceil(3))
                    .prop_map(move |cells| {
                        let cw = w.div_ceil(3);
                        (0..w * h)
                            .map(|i| cells[(i / w / 3) * cw + (i % w) / 3])
                            .collect()
                    })
                    .boxed(),
            };
            pixels.prop_map(move |v| Image::new(w, h, 1, PixelData::U8(v)).unwrap())
        })
    }

    proptest! {
        #[test]
        fn optimised_equals_naive(
            // Wider than a suppression block (32), so whole blocks and tails both run.
            img in arb_image(72, 24),
            aperture in prop::sample::select(vec![3u32, 5, 7]),
            l2 in any::<bool>(),
            low in 0.0f64..3000.0,
            high in 0.0f64..6000.0,
        ) {
            let p = params(low, high, aperture, l2);
            let want = PixelData::U8(naive(&img, &p));
            // Every level this CPU runs, the portable (scalar) one included.
            for isa in Isa::available() {
                let got = canny_isa(&img, &p, isa).unwrap();
                prop_assert_eq!((got.width, got.height, got.channels), (img.width, img.height, 1));
                prop_assert_eq!(&got.data, &want, "isa {}", isa);
            }
        }
    }

    #[test]
    fn vertical_step_keeps_the_first_column_of_the_plateau() {
        // Columns 0-2 are 0, 3-5 are 255: |dx| = 4·255 = 1020 in columns 2 and 3, 0 elsewhere.
        // Column 2 is > its left and >= its right neighbour; column 3 is not > column 2.
        let img = Image::new(6, 5, 1, PixelData::U8([0, 0, 0, 255, 255, 255].repeat(5))).unwrap();
        let got = canny(&img, &params(100.0, 200.0, 3, false)).unwrap();
        assert_eq!(got.data, PixelData::U8([0, 0, 255, 0, 0, 0].repeat(5)));
        // L2: 1020² = 1040400 > 200²; the same column.
        let got = canny(&img, &params(100.0, 200.0, 3, true)).unwrap();
        assert_eq!(got.data, PixelData::U8([0, 0, 255, 0, 0, 0].repeat(5)));
        // Above the magnitude: nothing.
        let got = canny(&img, &params(1020.0, 1020.0, 3, false)).unwrap();
        assert_eq!(got.data, PixelData::U8(vec![0; 30]));
    }

    #[test]
    fn weak_pixels_survive_only_when_connected_to_strong_ones() {
        // Rows 0-1 dark; rows 2-3 are 200 on the left and 40 on the right. Magnitudes in row 1
        // are 800 on the left, 160 on the right: with low 100 / high 500 the weak right part is
        // kept through the diagonal step at the corner. Expected map from cv2.Canny(a, 100, 500).
        let mut v = vec![0u8; 12];
        for _ in 0..2 {
            v.extend([200, 200, 200, 40, 40, 40]);
        }
        let img = Image::new(6, 4, 1, PixelData::U8(v)).unwrap();
        let got = canny(&img, &params(100.0, 500.0, 3, false)).unwrap();
        #[rustfmt::skip]
        let want = vec![
            0, 0, 0, 0, 0, 0,
            255, 255, 0, 0, 255, 255,
            0, 0, 255, 255, 0, 0,
            0, 0, 255, 0, 0, 0,
        ];
        assert_eq!(got.data, PixelData::U8(want));
        // With high above every magnitude nothing is strong, so nothing survives.
        let got = canny(&img, &params(100.0, 5000.0, 3, false)).unwrap();
        assert_eq!(got.data, PixelData::U8(vec![0; 24]));
    }

    #[test]
    fn weak_edges_grow_across_row_bands() {
        // A weak vertical step (|dx| = 160) 200 rows tall, strong (|dx| = 800) only in the
        // last rows: the edge must climb through every band of rows to the top.
        let (w, h) = (12, 200);
        let v: Vec<u8> = (0..w * h)
            .map(|i| match (i / w, i % w) {
                (_, x) if x < 6 => 0,
                (y, _) if y >= h - 3 => 200,
                _ => 40,
            })
            .collect();
        let img = Image::new(w, h, 1, PixelData::U8(v)).unwrap();
        let p = params(100.0, 500.0, 3, false);
        let want = naive(&img, &p);
        assert_eq!(want[5], 255, "the top row is reached");
        for isa in Isa::available() {
            let got = canny_isa(&img, &p, isa).unwrap();
            assert_eq!(got.data, PixelData::U8(want.clone()), "isa {isa}");
        }
    }

    #[test]
    fn thresholds_follow_opencv() {
        assert_eq!(thresholds(&params(100.0, 200.0, 3, false)), (100, 200));
        assert_eq!(thresholds(&params(200.5, 100.7, 3, false)), (100, 200));
        assert_eq!(thresholds(&params(100.0, 200.0, 3, true)), (10000, 40000));
        assert_eq!(
            thresholds(&params(1.0e6, 50000.0, 5, true)),
            (32767 * 32767, 32767 * 32767)
        );
        assert_eq!(thresholds(&params(100.0, 200.0, 7, false)), (6, 12));
        assert_eq!(thresholds(&params(100.0, 200.0, 7, true)), (39, 156));
    }

    #[test]
    fn rejects_bad_input() {
        let rgb = Image::new(2, 2, 3, PixelData::U8(vec![0; 12])).unwrap();
        assert!(canny(&rgb, &params(1.0, 2.0, 3, false)).is_err());
        let f = Image::new(2, 2, 1, PixelData::F32(vec![0.0; 4])).unwrap();
        assert!(canny(&f, &params(1.0, 2.0, 3, false)).is_err());
        let g = Image::new(2, 2, 1, PixelData::U8(vec![0; 4])).unwrap();
        let e = canny(&g, &params(1.0, 2.0, 4, false)).unwrap_err();
        assert!(e.to_string().contains("aperture 4"), "{e}");
        assert!(canny(&g, &params(f64::NAN, 2.0, 3, false)).is_err());
    }
}
