//! The ROCm backend's identity, declarations and probe.

use yam_plugin_api::{
    export::Backend, gpu::ops, kernel, BackendDescriptor, BackendKind, KernelDeclaration,
    PluginError, ProbeReport,
};

use crate::{gpu::HipGpu, runtime, RocmExecutor};

/// Kernels whose output has the input's shape and dtype: safe to run in place (the executor
/// reads from a device copy of the input).
const INPLACE: &[&str] = &[
    "gaussian_blur",
    "median_blur",
    "erode",
    "dilate",
    "morphology",
    "threshold",
];

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
        ops::IMPLEMENTED
            .iter()
            .map(|id| {
                let spec = kernel(id).expect("implemented kernels are catalogue kernels");
                KernelDeclaration {
                    id: spec.id.into(),
                    schema_version: spec.schema_version,
                    dtypes: spec.dtypes.to_vec().into(),
                    channels: spec.channels.to_vec().into(),
                    max_pixels: 0,
                    supports_inplace: INPLACE.contains(id),
                }
            })
            .collect()
    }

    fn probe() -> ProbeReport {
        runtime::probe()
    }

    fn create_executor(index: u32) -> Result<RocmExecutor, PluginError> {
        Ok(RocmExecutor::new(HipGpu::open(index)?))
    }
}
