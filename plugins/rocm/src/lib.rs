//! yam's ROCm/HIP backend: the same kernels as the CUDA backend, from the same sources
//! (`plugin-api/kernels/*.cu`, which HIP compiles unchanged) and the same host-side code
//! (`yam_plugin_api::gpu`), so the two cannot drift. Only the device layer differs: hip-sys
//! for the runtime, hiprtc (inside libamdhip64 on ROCm 5) compiling each kernel variant at
//! run time for the device's gfx architecture, cached under `$XDG_CACHE_HOME/yam/rocm/`.
//!
//! The library links libamdhip64.so.5: without ROCm it does not load and the host reports
//! "needs libamdhip64.so.5: not found"; with ROCm and no AMD GPU the probe reports
//! "no HIP device". Never a panic.

pub mod backend;
pub mod error;
pub mod gpu;
pub mod hiprtc;
pub mod runtime;

pub use backend::RocmBackend;

/// The ROCm executor: the shared GPU executor over a HIP device.
pub type RocmExecutor = yam_plugin_api::gpu::DeviceExecutor<gpu::HipGpu>;

yam_plugin_api::export_plugin!(RocmBackend);

#[cfg(test)]
mod tests;
