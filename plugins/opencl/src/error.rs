//! Errors of the OpenCL backend and their mapping onto the ABI's [`PluginError`].

use yam_plugin_api::{ErrorKind, PluginError};

/// What can go wrong talking to an OpenCL runtime.
#[derive(Debug, thiserror::Error)]
pub enum ClError {
    /// An OpenCL call failed.
    #[error("OpenCL {what} failed: {source}")]
    Api {
        /// The operation, naming the kernel or buffer.
        what: String,
        /// The runtime's error.
        source: ocl::core::Error,
    },
    /// A program did not compile.
    #[error("building OpenCL program `{program}` ({options}) failed: {log}")]
    Build {
        /// Program name.
        program: &'static str,
        /// Build options.
        options: String,
        /// The compiler's log.
        log: String,
    },
    /// No usable device.
    #[error("{0}")]
    NoDevice(String),
}

impl ClError {
    /// Wraps a failed call described by `what`.
    pub fn api(what: impl Into<String>) -> impl FnOnce(ocl::core::Error) -> ClError {
        let what = what.into();
        move |source| ClError::Api { what, source }
    }
}

impl From<ClError> for PluginError {
    fn from(e: ClError) -> PluginError {
        let kind = match &e {
            ClError::Build { .. } => ErrorKind::CompileFailed,
            ClError::NoDevice(_) => ErrorKind::DeviceUnavailable,
            ClError::Api { source, .. } => {
                let text = source.to_string();
                if text.contains("OUT_OF_RESOURCES")
                    || text.contains("MEM_OBJECT_ALLOCATION_FAILURE")
                    || text.contains("OUT_OF_HOST_MEMORY")
                    || text.contains("INVALID_BUFFER_SIZE")
                {
                    ErrorKind::OutOfMemory
                } else {
                    ErrorKind::Internal
                }
            }
        };
        PluginError::new(kind, e.to_string())
    }
}
