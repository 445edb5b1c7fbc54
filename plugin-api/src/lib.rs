//! # yam plugin API
//!
//! The stable ABI between the `yam` host and its backend plugins (CPU, CUDA, ROCm/HIP, OpenCL,
//! Metal). A backend vendor depends on this crate only.
//!
//! * [`catalogue`]: kernel ids, stages and versioned parameter schemas (the public surface).
//! * [`kernels`]: the same parameters as typed structs ([`KernelCall`]).
//! * [`TensorDesc`]: DLPack-compatible buffer descriptors; [`DLTensor`] is DLPack's C struct.
//! * [`PluginError`]: the one error type that crosses the boundary.
//! * [`PluginModule`]: the root module a plugin exports; [`GpuExecutor`]: its executors.
//! * [`export`]: [`export::Backend`] / [`export::Executor`] and [`export_plugin!`], which
//!   catch every panic.
//! * [`image`]: a plain Rust image container for host-side code and reference kernels.

#![warn(missing_docs)]

pub mod catalogue;
mod descriptor;
mod dtype;
mod error;
pub mod exact;
mod executor;
pub mod export;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod image;
pub mod kernels;
pub mod memory;
mod module;
mod params;
mod tensor;

pub use abi_stable;

pub use catalogue::{kernel, KernelSpec, ParamIssue, Stage, CATALOGUE};
pub use descriptor::{
    BackendDescriptor, BackendKind, BackendKind_NE, DeviceInfo, KernelDeclaration,
    ModuleCapabilities, ProbeReport, StepExecutionMetadata,
};
pub use dtype::{dl_code, DType, DlDataType};
pub use error::{ErrorKind, ErrorKind_NE, PluginError};
pub use executor::{BufferHandle, ExecutorBox, GpuExecutor, GpuExecutor_TO, StepCall, StepOutcome};
pub use image::{Image, PixelData};
pub use kernels::KernelCall;
pub use module::{PluginModule, PluginModule_Ref, API_VERSION};
pub use params::{Param, ParamSet, ParamValue};
pub use tensor::{
    desc_from_dltensor, dl_device, DLTensor, DlDevice, DlpackError, DlpackView, TensorDesc,
};
