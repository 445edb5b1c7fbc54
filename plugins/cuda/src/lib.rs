//! yam's CUDA backend: the catalogue's filters, morphology, thresholds and connected
//! components as CUDA kernels, bit-exact with the CPU backend (same fixed-point and integer
//! math, no fused multiply-add).
//!
//! Built on cudarc with dynamic loading, so it builds and loads on machines without CUDA and
//! then reports why it cannot run ("libcuda.so not found", "no CUDA device", "libnvrtc.so not
//! found") instead of panicking. Kernels are `plugin-api/kernels/*.cu` (shared with the ROCm
//! backend, as is everything above the device: `yam_plugin_api::gpu`), compiled at run time by NVRTC
//! for the device's architecture and cached under `$XDG_CACHE_HOME/yam/cuda/`.

pub mod backend;
pub mod error;
pub mod gpu;
pub mod nvrtc;
pub mod runtime;

pub use backend::CudaBackend;

use error::{panic_text, CuError};

/// The CUDA executor: the shared GPU executor over a CUDA [`gpu::Gpu`].
pub type CudaExecutor = yam_plugin_api::gpu::DeviceExecutor<gpu::Gpu>;

/// Opens CUDA device `ordinal` for execution, or says why it cannot (never panics: cudarc
/// panics without libcuda, so the driver is checked first and any panic is contained).
pub fn open_executor(ordinal: u32) -> Result<CudaExecutor, CuError> {
    runtime::check_driver().map_err(CuError::Unavailable)?;
    let gpu =
        std::panic::catch_unwind(|| gpu::Gpu::open(ordinal as usize)).unwrap_or_else(|p| {
            Err(CuError::Unavailable(format!(
                "opening CUDA device {ordinal} panicked: {}",
                panic_text(&*p)
            )))
        })?;
    Ok(CudaExecutor::new(gpu))
}

yam_plugin_api::export_plugin!(CudaBackend);

#[cfg(test)]
mod tests;
