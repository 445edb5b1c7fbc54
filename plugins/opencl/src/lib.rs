//! yam's OpenCL backend: the catalogue's filters, morphology and thresholds as OpenCL C
//! kernels, bit-exact with the CPU backend (same fixed-point and integer math).
//!
//! Runs on any OpenCL 1.2 device; CI runs it on PoCL (CPU OpenCL). Discovery never blocks
//! or panics: without an ICD the probe reports why. `YAM_OPENCL_DEVICE` picks a device by
//! index or name. Program binaries are cached per device and driver under
//! `$XDG_CACHE_HOME/yam/opencl/`.

pub mod backend;
pub mod device;
pub mod error;
mod executor;
mod ffi;
pub mod kernels;
pub mod launch;
pub mod ops;
pub mod taps;

pub use backend::OpenClBackend;
pub use executor::OclExecutor;

yam_plugin_api::export_plugin!(OpenClBackend);

#[cfg(test)]
mod tests;
