//! Errors of the CUDA backend and their mapping onto the ABI's [`PluginError`].

use cudarc::driver::{sys::CUresult, DriverError};
use yam_plugin_api::{ErrorKind, PluginError};

/// What can go wrong talking to the CUDA driver or NVRTC.
#[derive(Debug, thiserror::Error)]
pub enum CuError {
    /// A driver call failed.
    #[error("CUDA {what} failed: {source}")]
    Driver {
        /// The operation, naming the kernel or buffer.
        what: String,
        /// The driver's error.
        source: DriverError,
    },
    /// A kernel source did not compile.
    #[error("NVRTC compiling `{program}` ({options}) for {arch} failed: {log}")]
    Compile {
        /// Source name.
        program: &'static str,
        /// Defines and options.
        options: String,
        /// Target architecture (`sm_90`).
        arch: String,
        /// The compiler's log.
        log: String,
    },
    /// The driver or NVRTC is missing, or there is no device.
    #[error("{0}")]
    Unavailable(String),
}

impl CuError {
    /// Wraps a failed driver call described by `what`.
    pub fn driver(what: impl Into<String>) -> impl FnOnce(DriverError) -> CuError {
        let what = what.into();
        move |source| CuError::Driver { what, source }
    }
}

impl From<CuError> for PluginError {
    fn from(e: CuError) -> PluginError {
        let kind = match &e {
            CuError::Compile { .. } => ErrorKind::CompileFailed,
            CuError::Unavailable(_) => ErrorKind::DeviceUnavailable,
            CuError::Driver { source, .. } => match source.0 {
                CUresult::CUDA_ERROR_OUT_OF_MEMORY => ErrorKind::OutOfMemory,
                CUresult::CUDA_ERROR_NO_DEVICE
                | CUresult::CUDA_ERROR_NOT_INITIALIZED
                | CUresult::CUDA_ERROR_DEINITIALIZED => ErrorKind::DeviceUnavailable,
                _ => ErrorKind::Internal,
            },
        };
        PluginError::new(kind, e.to_string())
    }
}

/// The text of a caught panic.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
