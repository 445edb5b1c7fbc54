//! yam's reference CPU backend: every kernel to OpenCV's semantics.
//!
//! Linked into the `yam` host as its built-in backend. The same backend as a loadable plugin is
//! the `yam-cpu-plugin` crate: this library exports no root module, so that the host and the
//! conformance test doubles, which link it, can each export their own.

mod backend;
mod copy;
mod executor;
pub mod isa;
pub mod ops;
pub mod pixel;
pub mod recycle;
mod simd;
#[cfg(test)]
mod test_rng;

pub use backend::CpuBackend;
pub use executor::CpuExecutor;
