//! The one error type that crosses the ABI.
#![allow(
    non_local_definitions,
    reason = "abi_stable derives (StableAbi non-exhaustive enums, sabi_trait) emit impls inside consts"
)]

use abi_stable::{nonexhaustive_enum::NonExhaustive, std_types::RString, StableAbi};

/// What kind of failure a plugin reports.
///
/// Non-exhaustive across the ABI: it travels as [`ErrorKind_NE`], so a plugin built against a
/// newer minor version may send a kind this host does not know; [`PluginError::kind`] maps such
/// a kind to [`ErrorKind::Internal`] instead of misreading it.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[sabi(kind(WithNonExhaustive(size = [u32; 1], traits(Debug, Clone, PartialEq, Eq))))]
#[non_exhaustive]
pub enum ErrorKind {
    /// Parameters or buffers do not fit the kernel (caller's fault).
    InvalidArgument = 1,
    /// The kernel, dtype or channel count is not implemented by this backend.
    Unsupported = 2,
    /// Device memory or host memory ran out.
    OutOfMemory = 3,
    /// The device or its runtime is missing or was lost.
    DeviceUnavailable = 4,
    /// Compiling a device program failed.
    CompileFailed = 5,
    /// An unknown or already-freed buffer handle.
    InvalidBuffer = 6,
    /// The plugin panicked; the export wrapper caught it.
    Panic = 7,
    /// Anything else inside the plugin.
    Internal = 8,
}

impl ErrorKind {
    /// Short lowercase name for reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::OutOfMemory => "out of memory",
            ErrorKind::DeviceUnavailable => "device unavailable",
            ErrorKind::CompileFailed => "compile failed",
            ErrorKind::InvalidBuffer => "invalid buffer",
            ErrorKind::Panic => "panic",
            ErrorKind::Internal => "internal error",
        }
    }
}

/// An error returned by a plugin: a kind and a message that names what failed.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// What kind of failure (read it with [`PluginError::kind`]).
    pub raw_kind: ErrorKind_NE,
    /// Human-readable detail (names the kernel, buffer, parameter or device).
    pub message: RString,
}

impl PluginError {
    /// Builds an error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> PluginError {
        PluginError {
            raw_kind: NonExhaustive::new(kind),
            message: RString::from(message.into()),
        }
    }

    /// The kind; [`ErrorKind::Internal`] for a kind added after this host was built.
    pub fn kind(&self) -> ErrorKind {
        self.raw_kind
            .as_enum()
            .copied()
            .unwrap_or(ErrorKind::Internal)
    }

    /// [`ErrorKind::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::InvalidArgument, message)
    }

    /// [`ErrorKind::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::Unsupported, message)
    }

    /// [`ErrorKind::InvalidBuffer`].
    pub fn invalid_buffer(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::InvalidBuffer, message)
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind().name(), self.message)
    }
}

impl std::error::Error for PluginError {}

impl From<crate::catalogue::ParamIssue> for PluginError {
    fn from(issue: crate::catalogue::ParamIssue) -> PluginError {
        PluginError::invalid(issue.to_string())
    }
}
