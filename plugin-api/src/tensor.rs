//! Buffer descriptors in DLPack's terms, and the DLPack C layout itself.
//!
//! Images are 3-D tensors `[height, width, channels]` with strides counted in elements, as
//! DLPack counts them. A [`TensorDesc`] crosses the ABI; [`DLTensor`] is the exact C struct
//! from `dlpack.h` (v0.8+ layout) so other libraries can consume yam buffers without a copy.

use abi_stable::StableAbi;
use std::ffi::c_void;

use crate::{DType, DlDataType};

/// DLPack device types (`DLDeviceType`).
pub mod dl_device {
    /// `kDLCPU`
    pub const CPU: i32 = 1;
    /// `kDLCUDA`
    pub const CUDA: i32 = 2;
    /// `kDLCUDAHost` (pinned host memory)
    pub const CUDA_HOST: i32 = 3;
    /// `kDLOpenCL`
    pub const OPENCL: i32 = 4;
    /// `kDLMetal`
    pub const METAL: i32 = 8;
    /// `kDLROCM`
    pub const ROCM: i32 = 10;
}

/// DLPack's `DLDevice` (`int32_t device_type; int32_t device_id`).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DlDevice {
    /// One of [`dl_device`].
    pub device_type: i32,
    /// Ordinal of the device within its type.
    pub device_id: i32,
}

impl DlDevice {
    /// Host memory.
    pub const CPU: DlDevice = DlDevice {
        device_type: dl_device::CPU,
        device_id: 0,
    };
}

/// Describes one image buffer: dtype, shape `[height, width, channels]`, strides in elements,
/// a byte offset from the start of the allocation and the device that holds it.
///
/// A tightly packed image has strides `[width * channels, channels, 1]`; a padded-row image has
/// a larger row stride. Negative or overlapping strides are not supported by yam kernels.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TensorDesc {
    /// Element type (encoded as DLPack).
    pub dtype: DlDataType,
    /// `[height, width, channels]`.
    pub shape: [u64; 3],
    /// Strides in elements for each axis of `shape`.
    pub strides: [u64; 3],
    /// Offset in bytes of element `(0, 0, 0)` from the start of the allocation.
    pub byte_offset: u64,
    /// Where the bytes live.
    pub device: DlDevice,
}

impl TensorDesc {
    /// A tightly packed host tensor.
    pub fn packed(dtype: DType, height: usize, width: usize, channels: usize) -> TensorDesc {
        TensorDesc {
            dtype: dtype.to_dlpack(),
            shape: [height as u64, width as u64, channels as u64],
            strides: [(width * channels) as u64, channels as u64, 1],
            byte_offset: 0,
            device: DlDevice::CPU,
        }
    }

    /// The yam dtype, `None` if the DLPack type is not one yam handles.
    pub fn dtype(&self) -> Option<DType> {
        DType::from_dlpack(self.dtype)
    }

    /// Rows.
    pub fn height(&self) -> usize {
        self.shape[0] as usize
    }

    /// Pixels per row.
    pub fn width(&self) -> usize {
        self.shape[1] as usize
    }

    /// Elements per pixel.
    pub fn channels(&self) -> usize {
        self.shape[2] as usize
    }

    /// Number of elements (`height * width * channels`).
    pub fn element_count(&self) -> usize {
        self.shape.iter().product::<u64>() as usize
    }

    /// True when rows follow each other with no padding and channels are interleaved.
    pub fn is_packed(&self) -> bool {
        let [_, w, c] = self.shape;
        self.strides == [w * c, c, 1]
    }

    /// Bytes an allocation must hold for this view (offset included), or `None` for an unknown
    /// dtype. A zero-sized tensor needs only its offset.
    pub fn required_bytes(&self) -> Option<usize> {
        let size = self.dtype()?.size_bytes() as u64;
        if self.shape.contains(&0) {
            return Some(self.byte_offset as usize);
        }
        let last: u64 = (0..3).map(|i| (self.shape[i] - 1) * self.strides[i]).sum();
        Some((self.byte_offset + (last + 1) * size) as usize)
    }

    /// The same tensor on another device.
    pub fn on(self, device: DlDevice) -> TensorDesc {
        TensorDesc { device, ..self }
    }
}

/// DLPack's `DLTensor`, bit for bit. `shape` and `strides` point into the [`TensorDesc`] it was
/// made from, so it must not outlive it.
#[repr(C)]
#[derive(Debug)]
pub struct DLTensor {
    /// Start of the allocation (device pointer for device tensors).
    pub data: *mut c_void,
    /// Device of the data.
    pub device: DlDevice,
    /// Number of dimensions (3 for yam images).
    pub ndim: i32,
    /// Element type.
    pub dtype: DlDataType,
    /// `ndim` extents.
    pub shape: *mut i64,
    /// `ndim` strides in elements (may be null for packed tensors in DLPack; yam always sets them).
    pub strides: *mut i64,
    /// Byte offset of the first element from `data`.
    pub byte_offset: u64,
}

/// Why a `DLTensor` cannot be read as a yam image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DlpackError {
    /// yam images are 2-D (`[h, w]`, one channel) or 3-D (`[h, w, c]`).
    Rank(i32),
    /// A negative extent or stride.
    Negative,
    /// A dtype yam does not handle.
    DType(DlDataType),
}

impl std::fmt::Display for DlpackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DlpackError::Rank(n) => write!(f, "DLPack tensor has {n} dimensions, expected 2 or 3"),
            DlpackError::Negative => f.write_str("DLPack tensor has a negative extent or stride"),
            DlpackError::DType(t) => write!(
                f,
                "DLPack dtype (code {}, bits {}, lanes {}) is not u8/u16/i16/i32/f32",
                t.code, t.bits, t.lanes
            ),
        }
    }
}

impl std::error::Error for DlpackError {}

/// Owns the shape and stride arrays a [`DLTensor`] points at.
#[derive(Debug)]
pub struct DlpackView {
    shape: [i64; 3],
    strides: [i64; 3],
    desc: TensorDesc,
    data: *mut c_void,
}

impl DlpackView {
    /// Wraps `desc` for the allocation at `data` (a host or device pointer).
    pub fn new(desc: TensorDesc, data: *mut c_void) -> DlpackView {
        DlpackView {
            shape: desc.shape.map(|x| x as i64),
            strides: desc.strides.map(|x| x as i64),
            desc,
            data,
        }
    }

    /// The C struct; valid while `self` lives and is not moved.
    pub fn as_dltensor(&mut self) -> DLTensor {
        DLTensor {
            data: self.data,
            device: self.desc.device,
            ndim: 3,
            dtype: self.desc.dtype,
            shape: self.shape.as_mut_ptr(),
            strides: self.strides.as_mut_ptr(),
            byte_offset: self.desc.byte_offset,
        }
    }
}

/// Reads a `DLTensor` produced by another library as a yam descriptor and data pointer.
///
/// # Safety
/// `t.shape` must point at `t.ndim` readable `i64`s, and `t.strides` either be null or point
/// at `t.ndim` readable `i64`s, as the DLPack contract requires.
pub unsafe fn desc_from_dltensor(t: &DLTensor) -> Result<(TensorDesc, *mut c_void), DlpackError> {
    if !(t.ndim == 2 || t.ndim == 3) {
        return Err(DlpackError::Rank(t.ndim));
    }
    DType::from_dlpack(t.dtype).ok_or(DlpackError::DType(t.dtype))?;
    let n = t.ndim as usize;
    // SAFETY: the caller guarantees `shape` holds `ndim` elements.
    let shape_in = unsafe { std::slice::from_raw_parts(t.shape, n) };
    let mut shape = [1u64; 3];
    for (dst, &src) in shape.iter_mut().zip(shape_in) {
        *dst = u64::try_from(src).map_err(|_| DlpackError::Negative)?;
    }
    let strides = if t.strides.is_null() {
        [shape[1] * shape[2], shape[2], 1]
    } else {
        // SAFETY: the caller guarantees a non-null `strides` holds `ndim` elements.
        let s = unsafe { std::slice::from_raw_parts(t.strides, n) };
        let mut out = [1u64; 3];
        for (dst, &src) in out.iter_mut().zip(s) {
            *dst = u64::try_from(src).map_err(|_| DlpackError::Negative)?;
        }
        if n == 2 {
            out[2] = 1;
        }
        out
    };
    let desc = TensorDesc {
        dtype: t.dtype,
        shape,
        strides,
        byte_offset: t.byte_offset,
        device: t.device,
    };
    Ok((desc, t.data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_desc_round_trips_through_dltensor() {
        let desc = TensorDesc::packed(DType::U16, 17, 1031, 3).on(DlDevice {
            device_type: dl_device::CUDA,
            device_id: 1,
        });
        let mut buf = vec![0u16; 17 * 1031 * 3];
        let mut view = DlpackView::new(desc, buf.as_mut_ptr().cast());
        let t = view.as_dltensor();
        assert_eq!(t.ndim, 3);
        // SAFETY: `t` points into `view`, which is alive.
        let (back, ptr) = unsafe { desc_from_dltensor(&t) }.unwrap();
        assert_eq!(back, desc);
        assert_eq!(ptr, buf.as_mut_ptr().cast());
        assert_eq!(back.required_bytes(), Some(17 * 1031 * 3 * 2));
    }

    #[test]
    fn two_dimensional_tensor_without_strides_is_one_channel_packed() {
        let mut shape = [5i64, 7];
        let t = DLTensor {
            data: std::ptr::null_mut(),
            device: DlDevice::CPU,
            ndim: 2,
            dtype: DType::F32.to_dlpack(),
            shape: shape.as_mut_ptr(),
            strides: std::ptr::null_mut(),
            byte_offset: 0,
        };
        // SAFETY: shape holds 2 elements; strides is null.
        let (d, _) = unsafe { desc_from_dltensor(&t) }.unwrap();
        assert_eq!(d, TensorDesc::packed(DType::F32, 5, 7, 1));
    }

    #[test]
    fn padded_rows_need_more_bytes_and_are_not_packed() {
        let mut d = TensorDesc::packed(DType::U8, 4, 5, 1);
        d.strides[0] = 8;
        assert!(!d.is_packed());
        assert_eq!(d.required_bytes(), Some(3 * 8 + 5));
    }

    #[test]
    fn foreign_dtype_and_rank_are_rejected() {
        let mut shape = [2i64, 2, 1, 1];
        let mut t = DLTensor {
            data: std::ptr::null_mut(),
            device: DlDevice::CPU,
            ndim: 4,
            dtype: DType::U8.to_dlpack(),
            shape: shape.as_mut_ptr(),
            strides: std::ptr::null_mut(),
            byte_offset: 0,
        };
        // SAFETY: shape holds 4 elements.
        assert_eq!(
            unsafe { desc_from_dltensor(&t) }.unwrap_err(),
            DlpackError::Rank(4)
        );
        t.ndim = 2;
        t.dtype = DlDataType {
            code: 2,
            bits: 64,
            lanes: 1,
        };
        // SAFETY: as above.
        assert!(matches!(
            unsafe { desc_from_dltensor(&t) },
            Err(DlpackError::DType(_))
        ));
    }
}
