//! The CUDA backend's identity, declarations and probe.

use yam_plugin_api::{
    export::Backend, BackendDescriptor, BackendKind, KernelDeclaration, PluginError, ProbeReport,
};

use crate::{runtime, CudaExecutor};

/// yam's CUDA backend.
#[derive(Debug)]
pub struct CudaBackend;

impl Backend for CudaBackend {
    type Executor = CudaExecutor;

    fn descriptor() -> BackendDescriptor {
        BackendDescriptor::new(
            "cuda",
            "yam project",
            env!("CARGO_PKG_VERSION"),
            BackendKind::Cuda,
            true,
        )
    }

    fn declared_kernels() -> Vec<KernelDeclaration> {
        yam_plugin_api::gpu::declared_kernels()
    }

    fn probe() -> ProbeReport {
        runtime::probe()
    }

    fn create_executor(index: u32) -> Result<CudaExecutor, PluginError> {
        Ok(crate::open_executor(index)?)
    }
}
