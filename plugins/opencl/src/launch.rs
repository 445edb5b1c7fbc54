//! Kernel launch: typed arguments, strided views, and one call that sets them and enqueues.

use ocl::core::{ArgVal, Mem};
use yam_plugin_api::{DType, PluginError, TensorDesc};

use crate::{device::Gpu, error::ClError, ffi, kernels::Source};

/// One kernel argument.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// A buffer.
    Mem(&'a Mem),
    /// `uchar`.
    U8(u8),
    /// `ushort`.
    U16(u16),
    /// `int`.
    I32(i32),
    /// `long`.
    I64(i64),
    /// `ulong`.
    U64(u64),
    /// `float`.
    F32(f32),
    /// `real`: `double` on fp64 devices, else `float`.
    Real(f64),
}

/// A value of an image's element type, as a kernel argument (`T cval`).
pub fn elem_arg(dtype: DType, v: f64) -> Arg<'static> {
    match dtype {
        DType::U8 => Arg::U8(v.round_ties_even().clamp(0.0, 255.0) as u8),
        DType::U16 => Arg::U16(v.round_ties_even().clamp(0.0, 65535.0) as u16),
        _ => Arg::F32(v as f32),
    }
}

/// OpenCL C name of an element type.
pub fn cl_type(dtype: DType) -> &'static str {
    match dtype {
        DType::U8 => "uchar",
        DType::U16 => "ushort",
        DType::I16 => "short",
        DType::I32 => "int",
        DType::F32 => "float",
    }
}

/// An image on the device: a buffer and the view of it a kernel reads or writes.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The allocation.
    pub mem: &'a Mem,
    /// Shape, strides and offset.
    pub desc: TensorDesc,
}

impl<'a> View<'a> {
    /// A view, checking that the offset is a whole number of elements.
    pub fn new(mem: &'a Mem, desc: TensorDesc) -> Result<View<'a>, PluginError> {
        let size = desc.dtype().map_or(1, |d| d.size_bytes()) as u64;
        if desc.byte_offset % size != 0 {
            return Err(PluginError::unsupported(format!(
                "byte_offset {} is not a multiple of the element size {size} (OpenCL needs \
                 aligned elements)",
                desc.byte_offset
            )));
        }
        Ok(View { mem, desc })
    }

    /// `(height, width, channels)` as kernel ints.
    pub fn dims(&self) -> (i32, i32, i32) {
        (
            self.desc.height() as i32,
            self.desc.width() as i32,
            self.desc.channels() as i32,
        )
    }

    /// The buffer followed by offset (elements) and the three strides: `__global T* p,
    /// VIEW_ARGS(p)`.
    pub fn args(&self) -> [Arg<'a>; 5] {
        let size = self.desc.dtype().map_or(1, |d| d.size_bytes()) as u64;
        let s = self.desc.strides;
        [
            Arg::Mem(self.mem),
            Arg::U64(self.desc.byte_offset / size),
            Arg::U64(s[0]),
            Arg::U64(s[1]),
            Arg::U64(s[2]),
        ]
    }
}

/// Sets `args` on kernel `name` of `source` (built with `defines`) and enqueues it over
/// `global` = (width, height).
pub fn launch(
    gpu: &mut Gpu,
    source: Source,
    defines: &str,
    name: &'static str,
    args: &[Arg<'_>],
    global: [usize; 2],
) -> Result<(), ClError> {
    let fp64 = gpu.found.fp64;
    let kernel = gpu.kernel(source, defines, name)?.clone();
    for (i, a) in args.iter().enumerate() {
        let what = || format!("set argument {i} of kernel {name}");
        let r = match *a {
            Arg::Mem(m) => ffi::set_arg(&kernel, i as u32, ArgVal::mem(m)),
            Arg::U8(v) => ffi::set_arg(&kernel, i as u32, ArgVal::scalar(&v)),
            Arg::U16(v) => ffi::set_arg(&kernel, i as u32, ArgVal::scalar(&v)),
            Arg::I32(v) => ffi::set_arg(&kernel, i as u32, ArgVal::scalar(&v)),
            Arg::I64(v) => ffi::set_arg(&kernel, i as u32, ArgVal::scalar(&v)),
            Arg::U64(v) => ffi::set_arg(&kernel, i as u32, ArgVal::scalar(&v)),
            Arg::F32(v) => ffi::set_arg(&kernel, i as u32, ArgVal::scalar(&v)),
            Arg::Real(v) if fp64 => ffi::set_arg(&kernel, i as u32, ArgVal::scalar(&v)),
            Arg::Real(v) => ffi::set_arg(&kernel, i as u32, ArgVal::scalar(&(v as f32))),
        };
        r.map_err(ClError::api(what()))?;
    }
    ffi::enqueue_2d(&gpu.queue, &kernel, global).map_err(ClError::api(format!(
        "enqueue kernel {name} of {}",
        source.name()
    )))
}
