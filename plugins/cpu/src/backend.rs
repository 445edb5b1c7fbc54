//! The CPU backend's identity, declarations and probe.

use yam_plugin_api::{
    export::Backend, kernel, BackendDescriptor, BackendKind, KernelDeclaration, PluginError,
    ProbeReport,
};

use crate::{executor::host_device, ops, CpuExecutor};

/// Kernels whose output has the input's shape and dtype: safe to run in place.
const INPLACE: &[&str] = &[
    "gaussian_blur",
    "median_blur",
    "erode",
    "dilate",
    "morphology",
    "threshold",
];

/// yam's reference CPU backend.
#[derive(Debug)]
pub struct CpuBackend;

impl Backend for CpuBackend {
    type Executor = CpuExecutor;

    fn descriptor() -> BackendDescriptor {
        BackendDescriptor::new(
            "cpu",
            "yam project",
            env!("CARGO_PKG_VERSION"),
            BackendKind::Cpu,
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
        ProbeReport {
            devices: vec![host_device()].into(),
            unavailable_reason: "".into(),
        }
    }

    fn create_executor(index: u32) -> Result<CpuExecutor, PluginError> {
        if index != 0 {
            return Err(PluginError::invalid(format!(
                "cpu backend has one device (0), not {index}"
            )));
        }
        Ok(CpuExecutor::new())
    }
}
