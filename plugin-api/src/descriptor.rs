//! What a backend says about itself: identity, devices, kernels, and the pipeline metadata
#![allow(
    non_local_definitions,
    reason = "abi_stable derives (StableAbi non-exhaustive enums, sabi_trait) emit impls inside consts"
)]
//! (`ModuleCapabilities`, `StepExecutionMetadata`) kept from `yam_processor`.

use abi_stable::{
    nonexhaustive_enum::NonExhaustive,
    std_types::{RString, RVec},
    StableAbi,
};
use serde::{Deserialize, Serialize};

use crate::{DType, DlDevice};

/// The family of a backend. Non-exhaustive across the ABI (travels as [`BackendKind_NE`]).
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[sabi(kind(WithNonExhaustive(size = [u32; 1], traits(Debug, Clone, PartialEq, Eq))))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum BackendKind {
    /// Host CPU.
    Cpu = 1,
    /// NVIDIA CUDA.
    Cuda = 2,
    /// AMD ROCm/HIP.
    Rocm = 3,
    /// OpenCL (any vendor, including PoCL on CPUs).
    Opencl = 4,
    /// Apple Metal.
    Metal = 5,
}

impl BackendKind {
    /// Lowercase name as used in `--backend` and manifests.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Cuda => "cuda",
            BackendKind::Rocm => "rocm",
            BackendKind::Opencl => "opencl",
            BackendKind::Metal => "metal",
        }
    }

    /// Parses a name as produced by [`BackendKind::name`].
    pub fn from_name(name: &str) -> Option<BackendKind> {
        [Self::Cpu, Self::Cuda, Self::Rocm, Self::Opencl, Self::Metal]
            .into_iter()
            .find(|k| k.name() == name)
    }

    /// True for accelerators (everything but the CPU).
    pub fn is_gpu(self) -> bool {
        self != BackendKind::Cpu
    }
}

/// Identity of a backend.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct BackendDescriptor {
    /// Unique plugin name (`"cpu"`, `"cuda"`, ...); must equal the manifest's `name`.
    pub name: RString,
    /// Who makes it.
    pub vendor: RString,
    /// The plugin's own version (semver).
    pub version: RString,
    /// Family (read with [`BackendDescriptor::kind`]).
    pub raw_kind: BackendKind_NE,
    /// Same inputs always give bit-identical outputs.
    pub deterministic: bool,
}

impl BackendDescriptor {
    /// Builds a descriptor.
    pub fn new(
        name: &str,
        vendor: &str,
        version: &str,
        kind: BackendKind,
        deterministic: bool,
    ) -> Self {
        BackendDescriptor {
            name: name.into(),
            vendor: vendor.into(),
            version: version.into(),
            raw_kind: NonExhaustive::new(kind),
            deterministic,
        }
    }

    /// The kind, `None` when the plugin uses a kind this host does not know.
    pub fn kind(&self) -> Option<BackendKind> {
        self.raw_kind.as_enum().ok().copied()
    }
}

/// One device a backend can run on.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Index to pass to `create_executor`.
    pub index: u32,
    /// Human-readable name (`"NVIDIA H100 80GB HBM3"`, `"host CPU (2 threads)"`).
    pub name: RString,
    /// Device memory in bytes (0 when unknown or shared with the host).
    pub memory_bytes: u64,
    /// DLPack device of buffers allocated there.
    pub dl_device: DlDevice,
}

/// Result of probing a backend's runtime and devices.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// Devices found; empty when the backend cannot run here.
    pub devices: RVec<DeviceInfo>,
    /// Why no device is usable (`"libcuda.so.1 not found"`), empty when devices were found.
    pub unavailable_reason: RString,
}

impl ProbeReport {
    /// The report of a device search: the devices found, or why none is usable.
    pub fn from_search(found: Result<Vec<DeviceInfo>, String>) -> ProbeReport {
        match found {
            Ok(devices) => ProbeReport {
                devices: devices.into(),
                unavailable_reason: "".into(),
            },
            Err(reason) => ProbeReport {
                devices: Default::default(),
                unavailable_reason: reason.into(),
            },
        }
    }
}

/// A kernel a backend implements, with the inputs it accepts.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelDeclaration {
    /// Catalogue id.
    pub id: RString,
    /// Parameter schema version implemented.
    pub schema_version: u32,
    /// Input dtypes accepted.
    pub dtypes: RVec<DType>,
    /// Input channel counts accepted.
    pub channels: RVec<u32>,
    /// Largest input in pixels (`width * height`); 0 = no limit.
    pub max_pixels: u64,
    /// Output may alias the input buffer.
    pub supports_inplace: bool,
}

impl KernelDeclaration {
    /// True when an input of this dtype, channel count and pixel count is accepted.
    pub fn accepts(&self, dtype: DType, channels: u32, pixels: u64) -> bool {
        self.dtypes.contains(&dtype)
            && self.channels.contains(&channels)
            && (self.max_pixels == 0 || pixels <= self.max_pixels)
    }
}

/// What a module (a family of pipeline steps) needs and promises (`yam_processor`'s
/// `ModuleCapabilities`).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModuleCapabilities {
    /// Can process several images in one call.
    pub supports_batch: bool,
    /// Must run on an accelerator to meet its purpose.
    pub requires_gpu: bool,
    /// Same input gives the same output on every run.
    pub is_deterministic: bool,
}

/// How one pipeline step may be executed (`yam_processor`'s `StepExecutionMetadata`).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StepExecutionMetadata {
    /// The step may overwrite its input.
    pub supports_inplace: bool,
    /// The step wants an accelerator (GPU backends are preferred for it).
    pub requires_gpu: bool,
}
