//! The CUDA backend's identity, declarations and probe.

use yam_plugin_api::{
    export::Backend, kernel, BackendDescriptor, BackendKind, KernelDeclaration, PluginError,
    ProbeReport,
};

use yam_plugin_api::gpu::ops;

use crate::{runtime, CudaExecutor};

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

    fn create_executor(index: u32) -> Result<CudaExecutor, PluginError> {
        Ok(crate::open_executor(index)?)
    }
}
