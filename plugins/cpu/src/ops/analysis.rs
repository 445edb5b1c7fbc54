//! Measurements written as JSON.
use serde_json::Value;
use yam_plugin_api::{kernels::HistogramParams, Image, PluginError};

/// OpenCV `calcHist` as JSON.
pub fn histogram(_src: &Image, _p: &HistogramParams) -> Result<Value, PluginError> {
    Err(PluginError::unsupported("histogram: not written yet"))
}

/// Per-label area, bbox, centroid, mean intensity as JSON.
pub fn region_props(
    _src: &Image,
    _intensity: Option<&Image>,
    _connectivity: u8,
) -> Result<Value, PluginError> {
    Err(PluginError::unsupported("region_props: not written yet"))
}
