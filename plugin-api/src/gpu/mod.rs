//! What every GPU backend shares, written once: the kernel sources (CUDA C++ that HIP
//! compiles unchanged), the list of kernel variants, the host-side set-up of each catalogue
//! kernel ([`ops`]), and a complete executor ([`DeviceExecutor`]) over any [`Device`].
//!
//! A GPU backend implements [`Device`] for its runtime (allocation, copies, compiling and
//! launching a kernel variant); everything else, and so the results, are the same on every
//! vendor. yam's CUDA and ROCm plugins are built this way; the host never uses this module.

pub mod cache;
pub mod dlpack;
mod executor;
pub mod kernels;
pub mod ops;
pub mod staging;
pub mod view;

pub use executor::DeviceExecutor;
pub use kernels::Source;
pub use view::View;

use crate::{kernel, DeviceInfo, DlDevice, KernelDeclaration, PluginError};

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

/// What a backend built on this module declares: every kernel of [`ops::IMPLEMENTED`] with
/// the catalogue's dtypes and channel counts, no size limit.
pub fn declared_kernels() -> Vec<KernelDeclaration> {
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

/// One kernel argument, by value; pointers are device addresses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg {
    /// A device pointer (`T*`).
    Ptr(u64),
    /// `u8`.
    U8(u8),
    /// `u16`.
    U16(u16),
    /// `int`.
    I32(i32),
    /// `long long`.
    I64(i64),
    /// `unsigned long long`.
    U64(u64),
    /// `float`.
    F32(f32),
    /// `double`.
    F64(f64),
}

/// Grid, block and dynamic shared memory of one launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    /// Blocks in x, y, z.
    pub grid: (u32, u32, u32),
    /// Threads per block in x, y, z.
    pub block: (u32, u32, u32),
    /// Dynamic shared memory per block, in bytes.
    pub shared_bytes: u32,
}

/// Threads per block of the 2-D kernels: 32 wide (a CUDA warp, half an AMD wavefront), so
/// neighbouring threads read neighbouring pixels.
pub const BLOCK_2D: (u32, u32) = (32, 8);

impl Launch {
    /// A 2-D launch covering `w` x `h` threads.
    pub fn grid_2d(w: usize, h: usize) -> Launch {
        Launch {
            grid: (
                (w as u32).div_ceil(BLOCK_2D.0),
                (h as u32).div_ceil(BLOCK_2D.1),
                1,
            ),
            block: (BLOCK_2D.0, BLOCK_2D.1, 1),
            shared_bytes: 0,
        }
    }

    /// A 1-D launch covering `n` threads in blocks of `block`.
    pub fn grid_1d(n: usize, block: u32) -> Launch {
        Launch {
            grid: ((n as u32).div_ceil(block), 1, 1),
            block: (block, 1, 1),
            shared_bytes: 0,
        }
    }

    /// True when the launch has no blocks (an empty image): nothing to queue.
    pub fn is_empty(&self) -> bool {
        self.grid.0 == 0 || self.grid.1 == 0 || self.grid.2 == 0
    }
}

/// One GPU as the shared code drives it. Work is queued in order (one stream or queue);
/// only [`Device::download`] and [`Device::synchronize`] wait for it.
pub trait Device: Send + 'static {
    /// An owned device allocation, released in queue order when dropped.
    type Buffer: Send;

    /// Backend name for messages (`"cuda"`).
    fn backend(&self) -> &'static str;

    /// The device as the ABI describes it.
    fn info(&self) -> DeviceInfo;

    /// DLPack device of this device's buffers (`kDLCUDA` or `kDLROCM`, and the ordinal).
    fn dl_device(&self) -> DlDevice;

    /// Allocates at least `bytes` bytes (contents undefined).
    fn alloc(&mut self, bytes: usize) -> Result<Self::Buffer, PluginError>;

    /// Allocates `bytes` bytes set to zero.
    fn alloc_zeroed(&mut self, bytes: usize) -> Result<Self::Buffer, PluginError>;

    /// The device address of `buf`.
    fn address(buf: &Self::Buffer) -> u64;

    /// Copies host `bytes` to device address `dst`.
    fn upload(&mut self, dst: u64, bytes: &[u8]) -> Result<(), PluginError>;

    /// Copies `out.len()` bytes from device address `src`, waiting for queued work.
    fn download(&mut self, src: u64, out: &mut [u8]) -> Result<(), PluginError>;

    /// Queues a device-to-device copy of `bytes` bytes.
    fn copy(&mut self, src: u64, dst: u64, bytes: usize) -> Result<(), PluginError>;

    /// Queues kernel `name` of `source` compiled with `defines`, which must be one of
    /// [`kernels::variants`] (compile-checked in CI).
    fn launch(
        &mut self,
        source: Source,
        defines: &str,
        name: &'static str,
        args: &[Arg],
        launch: Launch,
    ) -> Result<(), PluginError>;

    /// Waits for everything queued.
    fn synchronize(&mut self) -> Result<(), PluginError>;
}
