//! yam's reference CPU backend: every kernel to OpenCV's semantics.
//!
//! Linked into the `yam` host as its built-in backend, and also built as a cdylib plugin so the
//! loader and the conformance suite exercise it like any other backend.

mod backend;
mod executor;
pub mod isa;
pub mod ops;
pub mod pixel;
pub mod recycle;
mod simd;
#[cfg(test)]
mod test_rng;

pub use backend::{CpuBackend, CpuPlugin};
pub use executor::CpuExecutor;

yam_plugin_api::export_plugin!(CpuPlugin);
