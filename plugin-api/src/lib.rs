//! # yam plugin API
//!
//! The stable ABI between the `yam` host and its backend plugins (CPU, CUDA, ROCm/HIP, OpenCL,
//! Metal). A backend vendor depends on this crate only.
//!
//! * [`catalogue`]: kernel ids, stages and versioned parameter schemas (the public surface).
//! * [`kernels`]: the same parameters as typed structs ([`KernelCall`]).
//! * [`TensorDesc`]: DLPack-compatible buffer descriptors; [`DLTensor`] is DLPack's C struct.
//! * [`PluginError`]: the one error type that crosses the boundary.
//! * [`image`]: a plain Rust image container for host-side code and reference kernels.

#![warn(missing_docs)]

pub mod catalogue;
mod dtype;
mod error;
pub mod image;
pub mod kernels;
mod params;
mod tensor;

pub use catalogue::{kernel, KernelSpec, ParamIssue, Stage, CATALOGUE};
pub use dtype::{dl_code, DType, DlDataType};
pub use error::{ErrorKind, PluginError};
pub use image::{Image, PixelData};
pub use kernels::KernelCall;
pub use params::{Param, ParamSet, ParamValue};
pub use tensor::{
    desc_from_dltensor, dl_device, DLTensor, DlDevice, DlpackError, DlpackView, TensorDesc,
};
