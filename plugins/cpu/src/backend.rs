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

/// The CPU backend packaged as a loadable plugin. Same kernels and executor as [`CpuBackend`],
/// under its own name so it can be installed beside the built-in one; it exists so the loader
/// and the conformance suite exercise the whole plugin path on machines without a GPU.
#[derive(Debug)]
pub struct CpuPlugin;

impl Backend for CpuPlugin {
    type Executor = CpuExecutor;

    fn descriptor() -> BackendDescriptor {
        let mut d = CpuBackend::descriptor();
        d.name = "cpu-plugin".into();
        d
    }

    fn declared_kernels() -> Vec<KernelDeclaration> {
        CpuBackend::declared_kernels()
    }

    fn probe() -> ProbeReport {
        CpuBackend::probe()
    }

    fn create_executor(index: u32) -> Result<CpuExecutor, PluginError> {
        CpuBackend::create_executor(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed manifest must declare exactly what the library declares, or the host
    /// rejects the plugin; this catches the two drifting apart when a kernel is added.
    #[test]
    fn committed_manifest_matches_the_declared_kernels() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/cpu-plugin.json");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let in_manifest: Vec<serde_json::Value> = manifest["kernels"].as_array().unwrap().clone();
        let declared: Vec<serde_json::Value> = CpuPlugin::declared_kernels()
            .iter()
            .map(|k| {
                serde_json::json!({
                    "id": k.id.as_str(),
                    "dtypes": k.dtypes.iter().map(|d| d.name()).collect::<Vec<_>>(),
                    "channels": k.channels.to_vec(),
                    "max_pixels": k.max_pixels,
                    "supports_inplace": k.supports_inplace,
                    "schema_version": k.schema_version,
                })
            })
            .collect();
        assert_eq!(in_manifest, declared, "update plugins/cpu/cpu-plugin.json");
        assert_eq!(manifest["name"], CpuPlugin::descriptor().name.as_str());
        assert_eq!(manifest["api_version"], yam_plugin_api::API_VERSION);
    }
}
