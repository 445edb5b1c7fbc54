//! The one place where ABI (`R*`) types become std types; the rest of the host never sees them.

use abi_stable::std_types::RResult;
use yam_plugin_api::{
    BackendKind, DType, DeviceInfo, KernelDeclaration, PluginError, PluginModule_Ref,
};

/// A kernel a backend implements.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeclaredKernel {
    /// Catalogue id.
    pub id: String,
    /// Parameter schema version.
    pub schema_version: u32,
    /// Input dtypes.
    pub dtypes: Vec<DType>,
    /// Input channel counts.
    pub channels: Vec<u32>,
    /// Largest input in pixels, 0 = unlimited.
    pub max_pixels: u64,
    /// May run in place.
    pub supports_inplace: bool,
}

impl DeclaredKernel {
    /// True when this kernel accepts an input of this dtype, channel count and pixel count.
    pub fn accepts(&self, dtype: DType, channels: u32, pixels: u64) -> bool {
        self.dtypes.contains(&dtype)
            && self.channels.contains(&channels)
            && (self.max_pixels == 0 || pixels <= self.max_pixels)
    }
}

impl From<&KernelDeclaration> for DeclaredKernel {
    fn from(k: &KernelDeclaration) -> DeclaredKernel {
        DeclaredKernel {
            id: k.id.to_string(),
            schema_version: k.schema_version,
            dtypes: k.dtypes.to_vec(),
            channels: k.channels.to_vec(),
            max_pixels: k.max_pixels,
            supports_inplace: k.supports_inplace,
        }
    }
}

/// A device of a backend.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Device {
    /// Index for `create_executor`.
    pub index: u32,
    /// Human-readable name.
    pub name: String,
    /// Memory in bytes (0 = unknown/shared).
    pub memory_bytes: u64,
}

impl From<&DeviceInfo> for Device {
    fn from(d: &DeviceInfo) -> Device {
        Device {
            index: d.index,
            name: d.name.to_string(),
            memory_bytes: d.memory_bytes,
        }
    }
}

/// Everything a backend's root module says about itself, in std types.
#[derive(Debug, Clone)]
pub struct ModuleFacts {
    /// plugin-api version the plugin was built with.
    pub api_version: String,
    /// Unique name.
    pub name: String,
    /// Vendor.
    pub vendor: String,
    /// Plugin version.
    pub version: String,
    /// Kind.
    pub kind: BackendKind,
    /// Bit-identical results run to run.
    pub deterministic: bool,
    /// Kernels implemented.
    pub kernels: Vec<DeclaredKernel>,
    /// Devices found by the probe.
    pub devices: Vec<Device>,
    /// Why no device is usable (`None` when devices were found).
    pub unavailable: Option<String>,
}

fn ok<T>(r: RResult<T, PluginError>, what: &str) -> Result<T, String> {
    r.into_result().map_err(|e| format!("{what}: {e}"))
}

/// Asks a root module for its descriptor, kernels and devices.
pub fn module_facts(module: PluginModule_Ref) -> Result<ModuleFacts, String> {
    let api_version = (module.api_version())().to_string();
    let desc = ok((module.descriptor())(), "descriptor()")?;
    let kind = desc.kind().ok_or_else(|| {
        format!(
            "backend kind unknown to this host (yam-plugin-api {})",
            yam_plugin_api::API_VERSION
        )
    })?;
    let kernels = ok((module.declared_kernels())(), "declared_kernels()")?;
    let probe = ok((module.probe())(), "probe()")?;
    let devices: Vec<Device> = probe.devices.iter().map(Device::from).collect();
    let unavailable = if devices.is_empty() {
        let reason = probe.unavailable_reason.to_string();
        Some(if reason.is_empty() {
            "no device found (the plugin gave no reason)".into()
        } else {
            reason
        })
    } else {
        None
    };
    Ok(ModuleFacts {
        api_version,
        name: desc.name.to_string(),
        vendor: desc.vendor.to_string(),
        version: desc.version.to_string(),
        kind,
        deterministic: desc.deterministic,
        kernels: kernels.iter().map(DeclaredKernel::from).collect(),
        devices,
        unavailable,
    })
}
