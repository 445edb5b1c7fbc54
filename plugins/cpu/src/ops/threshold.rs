//! Thresholds.
use yam_plugin_api::{kernels::ThresholdParams, Image, PluginError};

/// OpenCV `threshold`; returns the image and, with Otsu, the chosen threshold.
pub fn threshold(_src: &Image, _p: &ThresholdParams) -> Result<(Image, Option<f64>), PluginError> {
    Err(PluginError::unsupported("threshold: not written yet"))
}
