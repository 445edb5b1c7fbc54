//! Edge maps: OpenCV `Canny` on u8 images (SEMANTICS §7), bit-exact.
//!
//! Gradients come from [`sobel`] (replicate border, i16), magnitudes and non-maximum
//! suppression fill a map with OpenCV's three states, and a stack grows the strong pixels
//! through the candidates (hysteresis).

use rayon::prelude::*;
use yam_plugin_api::{
    kernels::{Border, BorderMode, CannyParams, SobelParams},
    DType, Image, PixelData, PluginError,
};

use super::edges::sobel;

/// `tan(22.5°)·2¹⁵`, rounded, as OpenCV uses it.
const TG22: i64 = 13573;

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
    let invalid = |what: String| Err(PluginError::invalid(format!("canny: {what}")));
    if src.channels != 1 {
        return invalid(format!("needs 1 channel, input has {}", src.channels));
    }
    if src.dtype() != DType::U8 {
        return invalid(format!("needs u8 input, got {}", src.dtype()));
    }
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
    let (dx, dy) = gradients(src, p.aperture)?;
    let (low, high) = thresholds(p);

    // Magnitudes with a zero frame one pixel wide.
    let mw = w + 2;
    let mut mag = vec![0i64; mw * (h + 2)];
    mag[mw..mw * (h + 1)]
        .par_chunks_mut(mw)
        .enumerate()
        .for_each(|(y, row)| {
            let (gx, gy) = (&dx[y * w..(y + 1) * w], &dy[y * w..(y + 1) * w]);
            for (m, (&a, &b)) in row[1..=w].iter_mut().zip(gx.iter().zip(gy)) {
                let (a, b) = (i64::from(a), i64::from(b));
                *m = if p.l2_gradient {
                    a * a + b * b
                } else {
                    a.abs() + b.abs()
                };
            }
        });

    // Non-maximum suppression into a map with a NOT_EDGE frame; strong pixels become seeds.
    let mut map = vec![NOT_EDGE; mw * (h + 2)];
    let seeds: Vec<Vec<usize>> = map[mw..mw * (h + 1)]
        .par_chunks_mut(mw)
        .enumerate()
        .map(|(y, row)| {
            let mut seeds = Vec::new();
            let (prev, cur, next) = (
                &mag[y * mw..(y + 1) * mw],
                &mag[(y + 1) * mw..(y + 2) * mw],
                &mag[(y + 2) * mw..(y + 3) * mw],
            );
            for x in 0..w {
                let j = x + 1;
                let m = cur[j];
                if m <= low {
                    continue;
                }
                let (xs, ys) = (dx[y * w + x], dy[y * w + x]);
                let ax = i64::from(xs).abs();
                let ay = i64::from(ys).abs() << 15;
                let tg22x = ax * TG22;
                let keep = if ay < tg22x {
                    m > cur[j - 1] && m >= cur[j + 1]
                } else if ay > tg22x + (ax << 16) {
                    m > prev[j] && m >= next[j]
                } else if (xs ^ ys) < 0 {
                    m > prev[j + 1] && m > next[j - 1]
                } else {
                    m > prev[j - 1] && m > next[j + 1]
                };
                if keep {
                    if m > high {
                        row[j] = EDGE;
                        seeds.push((y + 1) * mw + j);
                    } else {
                        row[j] = CANDIDATE;
                    }
                }
            }
            seeds
        })
        .collect();

    // Hysteresis: grow every edge through 8-connected candidates. The frame is NOT_EDGE, so
    // neighbours never leave the map.
    let mut stack: Vec<usize> = seeds.into_iter().flatten().collect();
    while let Some(i) = stack.pop() {
        for n in [
            i - mw - 1,
            i - mw,
            i - mw + 1,
            i - 1,
            i + 1,
            i + mw - 1,
            i + mw,
            i + mw + 1,
        ] {
            if map[n] == CANDIDATE {
                map[n] = EDGE;
                stack.push(n);
            }
        }
    }

    let mut out = Vec::with_capacity(w * h);
    for row in map[mw..mw * (h + 1)].chunks_exact(mw) {
        out.extend(
            row[1..=w]
                .iter()
                .map(|&s| if s == EDGE { 255u8 } else { 0 }),
        );
    }
    Ok(Image {
        width: w,
        height: h,
        channels: 1,
        data: PixelData::U8(out),
    })
}

/// `dx` and `dy` as OpenCV's Canny computes them: `Sobel(src, CV_16S, 1, 0 | 0, 1, aperture,
/// scale, 0, BORDER_REPLICATE)` with `scale` 1/16 for aperture 7, 1 otherwise.
fn gradients(src: &Image, aperture: u32) -> Result<(Vec<i16>, Vec<i16>), PluginError> {
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
        take(sobel(src, &params(1, 0))?),
        take(sobel(src, &params(0, 1))?),
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
        let mut cand = vec![false; mag.len()];
        let mut queue = VecDeque::new();
        for y in 0..h {
            for x in 0..w {
                let (a, b) = (gx[idx(y, x)], gy[idx(y, x)]);
                let c = m(y, x);
                let (tx, ty) = (a.abs(), b.abs() << 15);
                let keep = if ty < tx * TG22 {
                    c > m(y, x - 1) && c >= m(y, x + 1)
                } else if ty > tx * TG22 + (tx << 16) {
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

    fn arb_image(max_side: usize) -> impl Strategy<Value = Image> {
        (1..=max_side, 1..=max_side, 0..3u8).prop_flat_map(|(w, h, kind)| {
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
            img in arb_image(24),
            aperture in prop::sample::select(vec![3u32, 5, 7]),
            l2 in any::<bool>(),
            low in 0.0f64..3000.0,
            high in 0.0f64..6000.0,
        ) {
            let p = params(low, high, aperture, l2);
            let got = canny(&img, &p).unwrap();
            prop_assert_eq!((got.width, got.height, got.channels), (img.width, img.height, 1));
            prop_assert_eq!(got.data, PixelData::U8(naive(&img, &p)));
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
