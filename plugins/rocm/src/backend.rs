//! The ROCm backend's identity, declarations and probe.

use yam_plugin_api::{
    export::Backend, BackendDescriptor, BackendKind, KernelDeclaration, PluginError, ProbeReport,
};

use crate::{gpu::HipGpu, runtime, RocmExecutor};

/// yam's ROCm/HIP backend.
#[derive(Debug)]
pub struct RocmBackend;

impl Backend for RocmBackend {
    type Executor = RocmExecutor;

    fn descriptor() -> BackendDescriptor {
        BackendDescriptor::new(
            "rocm",
            "yam project",
            env!("CARGO_PKG_VERSION"),
            BackendKind::Rocm,
            true,
        )
    }

    fn declared_kernels() -> Vec<KernelDeclaration> {
        yam_plugin_api::gpu::declared_kernels()
    }

    fn probe() -> ProbeReport {
        runtime::probe()
    }

    fn create_executor(index: u32) -> Result<RocmExecutor, PluginError> {
        Ok(RocmExecutor::new(HipGpu::open(index)?))
    }
}
