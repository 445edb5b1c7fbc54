//! Errors of the ROCm backend and their mapping onto the ABI's [`PluginError`].

use std::ffi::CStr;

use hip_sys::hiprt::{hipError_t, hipGetErrorString};
use yam_plugin_api::{ErrorKind, PluginError};

/// What can go wrong talking to the HIP runtime or hiprtc.
#[derive(Debug, thiserror::Error)]
pub enum HipError {
    /// A runtime call failed.
    #[error("HIP {what} failed: {text} ({code:?})")]
    Runtime {
        /// The operation, naming the kernel or buffer.
        what: String,
        /// The runtime's code.
        code: hipError_t,
        /// `hipGetErrorString`.
        text: String,
    },
    /// A kernel source did not compile.
    #[error("hiprtc compiling `{program}` ({options}) for {arch} failed: {log}")]
    Compile {
        /// Source name.
        program: &'static str,
        /// Defines and options.
        options: String,
        /// Target architecture (`gfx90a`).
        arch: String,
        /// The compiler's log.
        log: String,
    },
    /// No device.
    #[error("{0}")]
    Unavailable(String),
}

/// Turns a HIP status into a result, naming the operation.
pub fn check(code: hipError_t, what: impl FnOnce() -> String) -> Result<(), HipError> {
    if code == hipError_t::hipSuccess {
        return Ok(());
    }
    // SAFETY: hipGetErrorString returns a static NUL-terminated string for any code.
    let text = unsafe { CStr::from_ptr(hipGetErrorString(code)) }
        .to_string_lossy()
        .into_owned();
    Err(HipError::Runtime {
        what: what(),
        code,
        text,
    })
}

impl From<HipError> for PluginError {
    fn from(e: HipError) -> PluginError {
        let kind = match &e {
            HipError::Compile { .. } => ErrorKind::CompileFailed,
            HipError::Unavailable(_) => ErrorKind::DeviceUnavailable,
            HipError::Runtime { code, .. } => match code {
                hipError_t::hipErrorOutOfMemory => ErrorKind::OutOfMemory,
                hipError_t::hipErrorNoDevice | hipError_t::hipErrorInvalidDevice => {
                    ErrorKind::DeviceUnavailable
                }
                _ => ErrorKind::Internal,
            },
        };
        PluginError::new(kind, e.to_string())
    }
}
