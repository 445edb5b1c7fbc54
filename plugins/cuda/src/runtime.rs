//! Finding the CUDA driver and devices without panicking or aborting.
//!
//! cudarc (with dynamic loading) panics when libcuda is missing, so presence is checked
//! first with its own `is_culib_present`, and every call that could still panic runs under
//! `catch_unwind`: the plugin reports "unavailable" with the reason instead.

use std::panic::catch_unwind;

use cudarc::driver::{result, sys};
use yam_plugin_api::{dl_device, DeviceInfo, DlDevice, ProbeReport};

use crate::{error::panic_text, nvrtc};

/// One usable device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Ordinal.
    pub ordinal: u32,
    /// Name.
    pub name: String,
    /// Total memory in bytes.
    pub memory: u64,
    /// `(major, minor)` compute capability.
    pub capability: (i32, i32),
}

/// Checks that libcuda loads and initialises; the reason when it does not.
pub fn check_driver() -> Result<(), String> {
    // SAFETY: a presence check only opens and closes the library.
    let present = catch_unwind(|| unsafe { sys::is_culib_present() }).unwrap_or(false);
    if !present {
        let names: Vec<String> = cudarc::get_lib_name_candidates("cuda")
            .into_iter()
            .filter(|n| n.starts_with("libcuda.so"))
            .collect();
        return Err(format!(
            "libcuda.so not found (searched {}): the NVIDIA driver is not installed",
            names.join(", ")
        ));
    }
    match catch_unwind(result::init) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if e.0 == sys::CUresult::CUDA_ERROR_NO_DEVICE => {
            Err("no CUDA device (the driver is installed but reports no GPU)".into())
        }
        Ok(Err(e)) => Err(format!("cuInit failed: {e}")),
        Err(p) => Err(format!("cuInit panicked: {}", panic_text(&*p))),
    }
}

/// Every CUDA device, or why there is none usable (driver, devices, then NVRTC, since
/// kernels are compiled at run time).
pub fn usable() -> Result<Vec<Found>, String> {
    check_driver()?;
    let found = catch_unwind(enumerate)
        .unwrap_or_else(|p| Err(format!("enumerating devices panicked: {}", panic_text(&*p))))?;
    if found.is_empty() {
        return Err("no CUDA device".into());
    }
    nvrtc::ensure_loaded()?;
    Ok(found)
}

fn enumerate() -> Result<Vec<Found>, String> {
    let count = result::device::get_count().map_err(|e| format!("cuDeviceGetCount: {e}"))?;
    let mut out = Vec::new();
    for ordinal in 0..count {
        let dev = result::device::get(ordinal).map_err(|e| format!("cuDeviceGet: {e}"))?;
        let name = result::device::get_name(dev).map_err(|e| format!("cuDeviceGetName: {e}"))?;
        // SAFETY: `dev` is a valid device handle.
        let memory = unsafe { result::device::total_mem(dev) }
            .map_err(|e| format!("cuDeviceTotalMem: {e}"))? as u64;
        let attr = |a| {
            // SAFETY: as above.
            unsafe { result::device::get_attribute(dev, a) }
                .map_err(|e| format!("cuDeviceGetAttribute: {e}"))
        };
        use sys::CUdevice_attribute as A;
        let major = attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
        let minor = attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
        out.push(Found {
            ordinal: ordinal as u32,
            name,
            memory,
            capability: (major, minor),
        });
    }
    Ok(out)
}

/// The ABI's view of a device.
pub fn info(d: &Found) -> DeviceInfo {
    DeviceInfo {
        index: d.ordinal,
        name: format!("{} (sm_{}{})", d.name, d.capability.0, d.capability.1).into(),
        memory_bytes: d.memory,
        dl_device: DlDevice {
            device_type: dl_device::CUDA,
            device_id: d.ordinal as i32,
        },
    }
}

/// Runtime and device discovery for the plugin's `probe`.
pub fn probe() -> ProbeReport {
    ProbeReport::from_search(usable().map(|found| found.iter().map(info).collect()))
}
