//! Morphology.
use yam_plugin_api::{
    kernels::{MorphParams, MorphologyParams},
    Image, PluginError,
};

/// OpenCV `erode`.
pub fn erode(_src: &Image, _p: &MorphParams) -> Result<Image, PluginError> {
    Err(PluginError::unsupported("erode: not written yet"))
}

/// OpenCV `dilate`.
pub fn dilate(_src: &Image, _p: &MorphParams) -> Result<Image, PluginError> {
    Err(PluginError::unsupported("dilate: not written yet"))
}

/// OpenCV `morphologyEx`.
pub fn morphology(_src: &Image, _p: &MorphologyParams) -> Result<Image, PluginError> {
    Err(PluginError::unsupported("morphology: not written yet"))
}
