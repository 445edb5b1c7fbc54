//! The raw OpenCL calls of this crate, each wrapped in a safe function.
//!
//! Most calls go through `ocl::core`, which checks error codes; the ones here are either raw
//! (`clGetPlatformIDs`, because `ocl::core::get_platform_ids` sleeps and retries for ~10 s when
//! no platform exists) or `unsafe` in `ocl::core` because they move bytes between host memory
//! and device memory.

use ocl::core::{
    self, ffi as cl, ArgVal, CommandQueue, Context, Event, Kernel, Mem, MemFlags, PlatformId,
};

/// `CL_PLATFORM_NOT_FOUND_KHR`: what the ICD loader returns when no platform is installed.
const PLATFORM_NOT_FOUND_KHR: i32 = -1001;

/// Every OpenCL platform, asked once with no retry. `Err(code)` for an OpenCL error code other
/// than "no platform" (which is an empty list).
pub fn platform_ids() -> Result<Vec<PlatformId>, i32> {
    let mut count: cl::cl_uint = 0;
    // SAFETY: with a zero-length request only the count is written, into a valid local.
    let code = unsafe { cl::clGetPlatformIDs(0, std::ptr::null_mut(), &mut count) };
    if code == PLATFORM_NOT_FOUND_KHR || (code == 0 && count == 0) {
        return Ok(Vec::new());
    }
    if code != 0 {
        return Err(code);
    }
    let mut ids: Vec<cl::cl_platform_id> = vec![std::ptr::null_mut(); count as usize];
    // SAFETY: `ids` has room for exactly `count` platform ids.
    let code = unsafe { cl::clGetPlatformIDs(count, ids.as_mut_ptr(), &mut count) };
    if code != 0 {
        return Err(code);
    }
    ids.truncate(count as usize);
    Ok(ids
        .into_iter()
        // SAFETY: each id was just returned by clGetPlatformIDs and is valid for the process.
        .map(|p| unsafe { PlatformId::from_raw(p) })
        .collect())
}

/// The bytes of a slice of OpenCL scalars (native endian), as kernels read them.
pub fn as_bytes<T: core::OclPrm>(values: &[T]) -> &[u8] {
    // SAFETY: `OclPrm` types are plain numbers (integers, floats, their vectors) without
    // padding or invalid bit patterns, so all `size_of_val` bytes are initialised `u8`s, and
    // the result borrows `values` for its lifetime.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    }
}

/// A device buffer of `len` bytes (at least 1: OpenCL has no empty buffers).
pub fn create_buffer(context: &Context, len: usize) -> core::Result<Mem> {
    // SAFETY: no host pointer is passed (`None`), so the runtime allocates and owns the
    // memory; the returned `Mem` releases it on drop.
    unsafe { core::create_buffer::<_, u8>(context, MemFlags::new().read_write(), len.max(1), None) }
}

/// Blocking copy of `bytes` into the start of `mem`.
pub fn write(queue: &CommandQueue, mem: &Mem, bytes: &[u8]) -> core::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    // SAFETY: the write is blocking, so `bytes` outlives the transfer; the caller checked that
    // `mem` holds at least `bytes.len()` bytes.
    unsafe {
        core::enqueue_write_buffer(
            queue,
            mem,
            true,
            0,
            bytes,
            None::<Event>,
            None::<&mut Event>,
        )
    }
}

/// Blocking copy of the start of `mem` into `out`.
pub fn read(queue: &CommandQueue, mem: &Mem, out: &mut [u8]) -> core::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    // SAFETY: the read is blocking, so `out` is written before this returns and not aliased
    // meanwhile; the caller checked that `mem` holds at least `out.len()` bytes.
    unsafe {
        core::enqueue_read_buffer(queue, mem, true, 0, out, None::<Event>, None::<&mut Event>)
    }
}

/// Sets argument `index` of `kernel`.
pub fn set_arg(kernel: &Kernel, index: u32, arg: ArgVal) -> core::Result<()> {
    core::set_kernel_arg(kernel, index, arg)
}

/// Enqueues `kernel` over a 2-D range `global` (width, height).
pub fn enqueue_2d(queue: &CommandQueue, kernel: &Kernel, global: [usize; 2]) -> core::Result<()> {
    // SAFETY: every argument was set by the caller (launch.rs sets all of them from the
    // kernel's signature, buffers sized for the ranges the kernel reads and writes — kernels
    // bound-check x/y against the image size), and the queue keeps the kernel alive.
    unsafe {
        core::enqueue_kernel(
            queue,
            kernel,
            2,
            None,
            &[global[0].max(1), global[1].max(1), 1],
            None,
            None::<Event>,
            None::<&mut Event>,
        )
    }
}
