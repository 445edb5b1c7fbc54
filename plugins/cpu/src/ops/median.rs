//! Median filter.
use yam_plugin_api::{kernels::MedianBlurParams, Image, PluginError};

/// OpenCV `medianBlur`.
pub fn median_blur(_src: &Image, _p: &MedianBlurParams) -> Result<Image, PluginError> {
    Err(PluginError::unsupported("median_blur: not written yet"))
}
