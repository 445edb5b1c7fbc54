//! Host-side kernel construction, identical to the CPU backend's (same integer math, same
//! floating-point operation order), so device results are bit-exact with it. The Gaussian taps
//! and Otsu come from `yam_plugin_api::exact`; tests compare the rest with `yam_cpu`'s.

use yam_plugin_api::{kernels::GaussianBlurParams, DType, PluginError};

/// Largest Gaussian kernel size (explicit or derived from sigma).
const MAX_KSIZE: usize = 65535;

pub use yam_plugin_api::exact::{
    deriv_kernel, gaussian_kernel, gaussian_kernel_fixed, otsu_threshold, u8_div_constants,
};

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
pub fn element_runs(shape: yam_plugin_api::kernels::MorphShape, k: usize) -> Vec<(usize, usize)> {
    use yam_plugin_api::kernels::MorphShape;
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
