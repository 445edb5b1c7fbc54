//! DLPack for GPU buffers: a yam device buffer exported as a `kDLCUDA` / `kDLROCM` tensor
//! other libraries (CuPy, PyTorch) can use without a copy, and a foreign tensor on the same
//! device imported as a yam buffer. The conversions are pure functions over addresses, so
//! they are tested without a GPU; the executor applies them to its allocations.

use std::ffi::c_void;

use crate::{desc_from_dltensor, dl_device, DLTensor, DlDevice, DlpackView, TensorDesc};

/// The DLPack device of CUDA device `ordinal`.
pub fn cuda_device(ordinal: usize) -> DlDevice {
    DlDevice {
        device_type: dl_device::CUDA,
        device_id: ordinal as i32,
    }
}

/// A DLPack view of the allocation at device address `base` described by `desc`, on
/// `device`. The tensor's `data` is the allocation start and `byte_offset` the view's offset,
/// as DLPack recommends.
pub fn export(desc: TensorDesc, base: u64, device: DlDevice) -> DlpackView {
    DlpackView::new(desc.on(device), base as usize as *mut c_void)
}

fn type_name(device_type: i32) -> &'static str {
    match device_type {
        dl_device::CPU => "kDLCPU",
        dl_device::CUDA => "kDLCUDA",
        dl_device::ROCM => "kDLROCM",
        dl_device::OPENCL => "kDLOpenCL",
        dl_device::METAL => "kDLMetal",
        _ => "an unknown device type",
    }
}

/// A foreign tensor accepted as a yam buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// Its descriptor (on the executor's device).
    pub desc: TensorDesc,
    /// Device address of the allocation start.
    pub base: u64,
    /// Bytes from `base` the view reaches.
    pub bytes: usize,
}

/// Reads a tensor on `device` as a yam buffer, or says why it cannot be.
///
/// # Safety
/// `t` must satisfy the DLPack contract (`shape`, and `strides` unless null, point at `ndim`
/// readable values).
pub unsafe fn import(t: &DLTensor, device: DlDevice) -> Result<Imported, String> {
    if t.device.device_type != device.device_type {
        return Err(format!(
            "DLPack tensor is on device type {}, this executor takes {} ({})",
            t.device.device_type,
            type_name(device.device_type),
            device.device_type
        ));
    }
    if t.device.device_id != device.device_id {
        return Err(format!(
            "DLPack tensor is on {} device {}, this executor runs on device {}",
            type_name(device.device_type),
            t.device.device_id,
            device.device_id
        ));
    }
    if t.data.is_null() {
        return Err("DLPack tensor has a null data pointer".into());
    }
    // SAFETY: forwarded from the caller.
    let (desc, data) = unsafe { desc_from_dltensor(t) }.map_err(|e| e.to_string())?;
    if desc.strides[2] == 0 || desc.strides[1] < desc.shape[2] * desc.strides[2] {
        return Err(format!(
            "DLPack tensor strides {:?} overlap for shape {:?}",
            desc.strides, desc.shape
        ));
    }
    let bytes = desc
        .required_bytes()
        .ok_or_else(|| "DLPack tensor dtype is not supported".to_string())?;
    Ok(Imported {
        desc,
        base: data as usize as u64,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DType;

    #[test]
    fn exported_padded_view_imports_back_unchanged() {
        let mut desc = TensorDesc::packed(DType::U16, 480, 641, 3);
        desc.strides[0] = 2048;
        desc.byte_offset = 64;
        let base = 0x7f00_0000_1000u64;
        let mut view = export(desc, base, cuda_device(1));
        let t = view.as_dltensor();
        assert_eq!(t.device.device_type, dl_device::CUDA);
        assert_eq!(t.device.device_id, 1);
        assert_eq!(t.data as usize as u64, base);
        assert_eq!(t.byte_offset, 64);
        // SAFETY: `t` points into `view`, which is alive.
        let back = unsafe { import(&t, cuda_device(1)) }.unwrap();
        assert_eq!(back.base, base);
        assert_eq!(back.desc, desc.on(cuda_device(1)));
        // Offset plus 479 padded rows plus one packed row of 641 RGB u16 pixels.
        assert_eq!(back.bytes, 64 + (479 * 2048 + 641 * 3) * 2);
    }

    #[test]
    fn host_tensors_and_other_devices_are_refused_with_the_reason() {
        let desc = TensorDesc::packed(DType::U8, 4, 4, 1);
        let mut view = DlpackView::new(desc, 0x1000 as *mut c_void);
        let t = view.as_dltensor();
        // SAFETY: as above.
        let err = unsafe { import(&t, cuda_device(0)) }.unwrap_err();
        assert!(
            err.contains("device type 1") && err.contains("kDLCUDA"),
            "{err}"
        );
        let mut on_two = export(desc, 0x1000, cuda_device(2));
        let t = on_two.as_dltensor();
        // SAFETY: as above.
        let err = unsafe { import(&t, cuda_device(0)) }.unwrap_err();
        assert!(
            err.contains("CUDA device 2") && err.contains("device 0"),
            "{err}"
        );
    }

    #[test]
    fn null_data_and_overlapping_strides_are_refused() {
        let desc = TensorDesc::packed(DType::F32, 8, 8, 1);
        let mut view = export(desc, 0, cuda_device(0));
        let t = view.as_dltensor();
        // SAFETY: as above.
        assert!(unsafe { import(&t, cuda_device(0)) }
            .unwrap_err()
            .contains("null"));
        let mut bad = TensorDesc::packed(DType::F32, 8, 8, 3);
        bad.strides[1] = 1;
        let mut view = export(bad, 0x2000, cuda_device(0));
        let t = view.as_dltensor();
        // SAFETY: as above.
        assert!(unsafe { import(&t, cuda_device(0)) }
            .unwrap_err()
            .contains("overlap"));
    }
}
