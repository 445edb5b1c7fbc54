//! Connected components.
use yam_plugin_api::{Image, PluginError};

/// OpenCV `connectedComponents`; returns i32 labels and the label count (background included).
pub fn connected_components(_src: &Image, _connectivity: u8) -> Result<(Image, u32), PluginError> {
    Err(PluginError::unsupported(
        "connected_components: not written yet",
    ))
}
