//! Derivatives.
use yam_plugin_api::{kernels::SobelParams, Image, PluginError};

/// OpenCV `Sobel`.
pub fn sobel(_src: &Image, _p: &SobelParams) -> Result<Image, PluginError> {
    Err(PluginError::unsupported("sobel: not written yet"))
}
