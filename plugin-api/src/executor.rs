//! The executor every backend implements, as an ABI-stable trait object.
#![allow(
    non_local_definitions,
    reason = "abi_stable derives (StableAbi non-exhaustive enums, sabi_trait) emit impls inside consts"
)]
//!
//! A host runs a *segment* of consecutive steps on one device like this:
//!
//! 1. `allocate` a buffer for the input and `upload` the image once;
//! 2. for each step, `allocate` its output (shape from [`KernelCall::output`]) and `execute`
//!    the step from the previous buffer into it — data stays on the device;
//! 3. `download` the last buffer once, `free` every buffer.
//!
//! Plugin authors do not implement [`GpuExecutor`] directly: they implement
//! [`Executor`](crate::export::Executor) and let [`export_plugin!`](crate::export_plugin) wrap
//! it, which catches panics in every method.
//!
//! [`KernelCall::output`]: crate::KernelCall::output

use abi_stable::{
    sabi_trait,
    std_types::{RBox, ROption, RResult, RSlice, RSliceMut, RString},
    StableAbi,
};

use crate::{DeviceInfo, ParamSet, PluginError, StepExecutionMetadata, TensorDesc};

/// Opaque handle of a device-resident buffer, chosen by the plugin. 0 is never valid.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BufferHandle(pub u64);

/// One step as the host hands it to a backend.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct StepCall {
    /// The step's name in the pipeline (for messages).
    pub name: RString,
    /// Catalogue kernel id.
    pub kernel: RString,
    /// Parameter schema version the host validated against.
    pub schema_version: u32,
    /// Validated parameters, defaults filled in.
    pub params: ParamSet,
    /// The step's execution metadata.
    pub metadata: StepExecutionMetadata,
}

/// What a step reports besides its output image.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Default)]
pub struct StepOutcome {
    /// A JSON object of values for the run report (`{"otsu_threshold": 102}`,
    /// `{"histogram": {...}}`), or empty.
    pub info_json: RString,
}

/// Executes catalogue kernels on one device with device-resident buffers.
///
/// Every method returns an error value instead of panicking. Buffers are described by the
/// [`TensorDesc`] given to `allocate`; `upload` and `download` move exactly
/// `desc.required_bytes()` bytes laid out as that descriptor says (row stride included).
#[sabi_trait]
pub trait GpuExecutor: Send {
    /// The device this executor runs on.
    fn device(&self) -> DeviceInfo;

    /// Allocates a buffer able to hold `desc`.
    fn allocate(&mut self, desc: TensorDesc) -> RResult<BufferHandle, PluginError>;

    /// Copies host bytes (laid out as the buffer's descriptor says) into the buffer.
    fn upload(&mut self, buffer: BufferHandle, bytes: RSlice<'_, u8>) -> RResult<(), PluginError>;

    /// Copies the buffer into `out`, which must be exactly the buffer's byte size.
    fn download(
        &mut self,
        buffer: BufferHandle,
        out: RSliceMut<'_, u8>,
    ) -> RResult<(), PluginError>;

    /// Releases a buffer. Freeing an unknown or already-freed handle is an error, not a crash.
    fn free(&mut self, buffer: BufferHandle) -> RResult<(), PluginError>;

    /// Runs `step` reading `inputs[0]` (and, for kernels that take it, `inputs[1]`: the
    /// pipeline's original image) and writing `output` (absent for analysis kernels, whose
    /// result is in [`StepOutcome::info_json`]). `output` may equal `inputs[0]` only when the
    /// kernel declares `supports_inplace`.
    fn execute(
        &mut self,
        step: &StepCall,
        inputs: RSlice<'_, BufferHandle>,
        output: ROption<BufferHandle>,
    ) -> RResult<StepOutcome, PluginError>;

    /// Waits for all queued work; errors raised by asynchronous work surface here.
    fn synchronize(&mut self) -> RResult<(), PluginError>;

    /// Bytes of device memory currently held by this executor's buffers.
    #[sabi(last_prefix_field)]
    fn memory_in_use(&self) -> u64;
}

/// An owned executor trait object, as returned by a plugin.
pub type ExecutorBox = GpuExecutor_TO<'static, RBox<()>>;
