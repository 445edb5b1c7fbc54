//! yam's CUDA backend: the catalogue's filters, morphology, thresholds and connected
//! components as CUDA kernels, bit-exact with the CPU backend (same fixed-point and integer
//! math, no fused multiply-add).
//!
//! Built on cudarc with dynamic loading, so it builds and loads on machines without CUDA and
//! then reports why it cannot run ("libcuda.so not found", "no CUDA device", "libnvrtc.so not
//! found") instead of panicking. Kernels are `kernels/*.cu`, compiled at run time by NVRTC
//! for the device's architecture and cached under `$XDG_CACHE_HOME/yam/cuda/`.

pub mod backend;
pub mod cache;
pub mod dlpack;
pub mod error;
mod executor;
pub mod gpu;
pub mod kernels;
pub mod nvrtc;
pub mod ops;
pub mod runtime;
pub mod view;

pub use backend::CudaBackend;
pub use executor::CudaExecutor;

yam_plugin_api::export_plugin!(CudaBackend);

#[cfg(test)]
mod tests;
