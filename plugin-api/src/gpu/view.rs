//! An image on the device as kernels see it: a base address (offset applied) and strides.

use crate::{gpu::Arg, DType, PluginError, TensorDesc};

/// A strided view of a device allocation.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Address of element (0, 0, 0).
    pub ptr: u64,
    /// Shape and strides (the offset is already in `ptr`).
    pub desc: TensorDesc,
}

impl View {
    /// A view of the allocation at `base` described by `desc`; the offset must be a whole
    /// number of elements (kernels index typed pointers).
    pub fn new(base: u64, desc: TensorDesc) -> Result<View, PluginError> {
        let size = desc.dtype().map_or(1, |d| d.size_bytes()) as u64;
        if desc.byte_offset % size != 0 {
            return Err(PluginError::unsupported(format!(
                "byte_offset {} is not a multiple of the element size {size} (GPU kernels \
                 need aligned elements)",
                desc.byte_offset
            )));
        }
        Ok(View {
            ptr: base + desc.byte_offset,
            desc,
        })
    }

    /// A packed temporary of `dtype` shaped like `like`, at `base`.
    pub fn packed(base: u64, like: &TensorDesc, dtype: DType) -> View {
        View {
            ptr: base,
            desc: TensorDesc::packed(dtype, like.height(), like.width(), like.channels()),
        }
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.desc.dtype().expect("checked by the executor")
    }

    /// `(height, width, channels)` as kernel ints.
    pub fn dims(&self) -> (i32, i32, i32) {
        (
            self.desc.height() as i32,
            self.desc.width() as i32,
            self.desc.channels() as i32,
        )
    }

    /// `T* p, VIEW_ARGS(p)`: the pointer and the three strides.
    pub fn args(&self) -> [Arg; 4] {
        let s = self.desc.strides;
        [
            Arg::Ptr(self.ptr),
            Arg::U64(s[0]),
            Arg::U64(s[1]),
            Arg::U64(s[2]),
        ]
    }
}
