//! Gaussian blur.
use yam_plugin_api::{kernels::GaussianBlurParams, Image, PluginError};

/// OpenCV `GaussianBlur`.
pub fn gaussian_blur(_src: &Image, _p: &GaussianBlurParams) -> Result<Image, PluginError> {
    Err(PluginError::unsupported("gaussian_blur: not written yet"))
}
