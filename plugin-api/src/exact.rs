//! Exact arithmetic that OpenCV's semantics depend on, shared by every backend: a backend that
//! builds its Gaussian taps or picks its Otsu threshold with these functions is bit-exact with
//! the CPU reference (and with OpenCV) by construction, whatever it computes on its device.

use crate::{
    kernels::{GaussianBlurParams, MorphShape},
    DType, PluginError,
};

/// [`gaussian_kernel`] cast to f32, as OpenCV filters f32 images with it.
pub fn gaussian_kernel_f32(n: usize, sigma: f64) -> Vec<f32> {
    gaussian_kernel(n, sigma)
        .into_iter()
        .map(|t| t as f32)
        .collect()
}

/// OpenCV `getGaussianKernel` (the bit-exact double version): `n` odd taps summing to 1.
/// `sigma <= 0` uses OpenCV's fixed tables for n = 1, 3, 5, 7, 9, else
/// `sigma = 0.15·n + 0.35` (= `0.3·((n-1)/2 - 1) + 0.8`, computed with a fused multiply-add
/// as OpenCV's softfloat `mulAdd` does).
pub fn gaussian_kernel(n: usize, sigma: f64) -> Vec<f64> {
    if sigma <= 0.0 {
        let table: Option<&[f64]> = match n {
            1 => Some(&[1.0]),
            3 => Some(&[0.25, 0.5, 0.25]),
            5 => Some(&[0.0625, 0.25, 0.375, 0.25, 0.0625]),
            7 => Some(&[
                0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125,
            ]),
            9 => Some(&[4.0, 13.0, 30.0, 51.0, 60.0, 51.0, 30.0, 13.0, 4.0]),
            _ => None,
        };
        if let Some(t) = table {
            let div = if n == 9 { 256.0 } else { 1.0 };
            return t.iter().map(|v| v / div).collect();
        }
    }
    let sigma = if sigma > 0.0 {
        sigma
    } else {
        (n as f64).mul_add(0.15, 0.35)
    };
    let scale2x = -0.125 / (sigma * sigma);
    let half = n / 2;
    // x runs over 2·(i - centre), hence the -0.125 (= -0.5 / 4).
    let t: Vec<f64> = (0..half)
        .map(|i| {
            let x = 2 * i as i64 + 1 - n as i64;
            ((x * x) as f64 * scale2x).exp()
        })
        .collect();
    let mut sum = 0.0;
    for &v in &t {
        sum += v;
    }
    let mul1 = 1.0 / (sum * 2.0 + 1.0);
    let mut k = vec![mul1; n];
    for (i, &v) in t.iter().enumerate() {
        k[i] = v * mul1;
        k[n - 1 - i] = v * mul1;
    }
    k
}

/// OpenCV `getGaussianKernelFixedPoint_ED`: [`gaussian_kernel`] in fixed point with `bits`
/// fraction bits, rounded by error diffusion from the outside in; the centre tap takes the
/// remainder so the taps sum to exactly `1 << bits`.
pub fn gaussian_kernel_fixed(n: usize, sigma: f64, bits: u32) -> Vec<u32> {
    let k = gaussian_kernel(n, sigma);
    let one = 1i64 << bits;
    let mult = one as f64;
    let mut out = vec![0i64; n];
    let mut err = 0.0;
    for i in 0..n / 2 {
        let adj = k[i] * mult + err;
        let v = adj.round_ties_even();
        err = adj - v;
        out[i] = v as i64;
        out[n - 1 - i] = v as i64;
    }
    out[n / 2] = one - 2 * out[..n / 2].iter().sum::<i64>();
    out.into_iter()
        .map(|v| u32::try_from(v).expect("Gaussian taps are non-negative"))
        .collect()
}

/// OpenCV `getThreshVal_Otsu` over a full-range histogram, with its exact operation order (in
/// f64) so that the threshold is bit-identical: the first bin of strictly largest
/// between-class variance.
pub fn otsu_threshold(h: &[u64]) -> f64 {
    let total: u64 = h.iter().sum();
    let scale = 1.0 / total as f64;
    let mut mu = 0.0f64;
    for (i, &n) in h.iter().enumerate() {
        mu += i as f64 * n as f64;
    }
    mu *= scale;
    let eps = f64::from(f32::EPSILON);
    let (mut mu1, mut q1) = (0.0f64, 0.0f64);
    let (mut max_sigma, mut max_val) = (0.0f64, 0.0f64);
    for (i, &n) in h.iter().enumerate() {
        let p_i = n as f64 * scale;
        mu1 *= q1;
        q1 += p_i;
        let q2 = 1.0 - q1;
        if q1.min(q2) < eps || q1.max(q2) > 1.0 - eps {
            continue;
        }
        mu1 = (mu1 + i as f64 * p_i) / q1;
        let mu2 = (mu - q1 * mu1) / q2;
        let sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
        if sigma > max_sigma {
            max_sigma = sigma;
            max_val = i as f64;
        }
    }
    max_val
}

/// OpenCV `getDerivKernels` (unnormalised) for one axis: the taps of `(1+z)^(n-1-order)·(z-1)^order`
/// with `n = ksize`, except that `ksize` 1 means no smoothing: `[1]` for order 0, 3 taps
/// (`[-1 0 1]` or `[1 -2 1]`) otherwise. Needs `order < n`.
pub fn deriv_kernel(ksize: usize, order: usize) -> Vec<i32> {
    let n = if ksize == 1 && order > 0 { 3 } else { ksize };
    let mut k = vec![0i32; n];
    k[0] = 1;
    // Multiply by (1 + z), n-1-order times, then by (z - 1), order times.
    for _ in 0..n - order - 1 {
        for j in (1..n).rev() {
            k[j] += k[j - 1];
        }
    }
    for _ in 0..order {
        for j in (1..n).rev() {
            k[j] = k[j - 1] - k[j];
        }
        k[0] = -k[0];
    }
    k
}

/// OpenCV's u8 fast division (`ColumnSum<ushort, uchar>`, used when the window has 2 to 256
/// pixels; a 1×1 window is a copy): `(divScale, divDelta)` with `dst = ((S + divDelta) · divScale) >> 23`, which
/// equals `round(S / d)` for every reachable sum `S` (SEMANTICS.md §2).
pub fn u8_div_constants(d: u32) -> (u64, u64) {
    let scalef = f64::from(1u32 << 23) / f64::from(d);
    let mut scale = scalef.floor() as u64;
    let mut delta = u64::from(d / 2);
    if scalef - (scale as f64) < 0.5 {
        delta += 1;
    } else {
        scale += 1;
    }
    (scale, delta)
}

/// Largest Gaussian kernel size (explicit or derived from sigma).
const MAX_KSIZE: usize = 65535;

/// Size and sigma of the Gaussian along one axis.
pub type Axis = (usize, f64);

/// Kernel sizes and sigmas for a blur of `dtype` (OpenCV `createGaussianKernels`), with the
/// y sigma replaced by the x one when OpenCV reuses the x kernel.
pub fn gaussian_sizes(p: &GaussianBlurParams, dtype: DType) -> Result<(Axis, Axis), PluginError> {
    let invalid = |what: String| Err(PluginError::invalid(format!("gaussian_blur: {what}")));
    if !p.sigma.is_finite() || !p.sigma_y.is_finite() {
        return invalid(format!(
            "sigma {} / sigma_y {} must be finite",
            p.sigma, p.sigma_y
        ));
    }
    let sigma_x = p.sigma;
    let sigma_y = if p.sigma_y <= 0.0 { sigma_x } else { p.sigma_y };
    let (nx, ny) = if p.ksize == 0 {
        if sigma_x <= 0.0 {
            return invalid("ksize 0 needs sigma > 0 (the size comes from sigma)".into());
        }
        let per_side = if dtype == DType::U8 { 3.0 } else { 4.0 };
        let size = |s: f64| (s * per_side * 2.0 + 1.0).round_ties_even();
        let (fx, fy) = (size(sigma_x), size(sigma_y));
        if fx.max(fy) > MAX_KSIZE as f64 {
            return invalid(format!(
                "sigma {sigma_x} / sigma_y {sigma_y} give a kernel above {MAX_KSIZE} taps"
            ));
        }
        (fx as usize | 1, fy as usize | 1)
    } else {
        let k = p.ksize as usize;
        if k % 2 == 0 || k > MAX_KSIZE {
            return invalid(format!(
                "ksize {k} must be odd and at most {MAX_KSIZE}, or 0"
            ));
        }
        (k, k)
    };
    let (sx, sy) = (sigma_x.max(0.0), sigma_y.max(0.0));
    let sy = if nx == ny && (sx - sy).abs() < f64::EPSILON {
        sx
    } else {
        sy
    };
    Ok(((nx, sx), (ny, sy)))
}

/// One half-open column run `[a, b)` per row of OpenCV's `getStructuringElement(shape, (k, k))`.
pub fn element_runs(shape: MorphShape, k: usize) -> Vec<(usize, usize)> {
    let c = k / 2;
    (0..k)
        .map(|i| match shape {
            MorphShape::Rect => (0, k),
            MorphShape::Cross if i == c => (0, k),
            MorphShape::Cross => (c, c + 1),
            MorphShape::Ellipse => {
                let r = c as i64;
                let inv_r2 = if r > 0 { 1.0 / (r * r) as f64 } else { 0.0 };
                let dy = i as i64 - r;
                let dx = (c as f64 * (((r * r - dy * dy) as f64) * inv_r2).sqrt()).round_ties_even()
                    as i64;
                let j1 = (c as i64 - dx).max(0) as usize;
                let j2 = (c as i64 + dx + 1).min(k as i64) as usize;
                (j1, j2)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_taps_match_semantics_md() {
        assert_eq!(gaussian_kernel_fixed(5, 1.5, 8), [31, 60, 74, 60, 31]);
        assert_eq!(
            gaussian_kernel_fixed(5, 1.5, 16),
            [7869, 15328, 19142, 15328, 7869]
        );
        let q8_19 = [
            0, 1, 3, 4, 9, 14, 20, 28, 32, 34, 32, 28, 20, 14, 9, 4, 3, 1, 0,
        ];
        assert_eq!(gaussian_kernel_fixed(19, 3.0, 8), q8_19);
        assert_eq!(gaussian_kernel(5, 0.0), [0.0625, 0.25, 0.375, 0.25, 0.0625]);
    }

    #[test]
    fn otsu_picks_the_first_best_split() {
        // Two well-separated clusters: any threshold between them separates them equally well,
        // and OpenCV takes the first bin of the largest between-class variance.
        let mut h = vec![0u64; 256];
        h[10] = 100;
        h[200] = 100;
        assert_eq!(otsu_threshold(&h), 10.0);
        let mut h = vec![0u64; 256];
        h[50] = 30;
        h[51] = 10;
        h[120] = 40;
        assert_eq!(otsu_threshold(&h), 51.0);
    }
}
