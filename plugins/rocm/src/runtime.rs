//! Finding HIP devices without panicking. The library links libamdhip64.so.5, so on a machine
//! without ROCm it does not load at all, and the host reports "needs libamdhip64.so.5: not
//! found"; with ROCm and no AMD GPU, `hipGetDeviceCount` answers `hipErrorNoDevice` and the
//! plugin reports "no HIP device".

use hip_sys::hiprt::{
    hipDeviceProp_t, hipError_t, hipGetDeviceCount, hipGetDeviceProperties, hipInit,
};
use yam_plugin_api::{dl_device, DeviceInfo, DlDevice, ProbeReport};

use crate::error::check;

/// One usable device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Ordinal.
    pub ordinal: u32,
    /// Marketing name.
    pub name: String,
    /// Total memory in bytes.
    pub memory: u64,
    /// `gcnArchName` (`gfx90a:sramecc+:xnack-`): what hiprtc compiles for.
    pub arch: String,
}

/// How the reason starts when ROCm finds no AMD GPU.
pub const NO_DEVICE: &str = "no HIP device";

fn no_device(call: &str, code: hipError_t) -> String {
    format!("{NO_DEVICE}: ROCm is installed but finds no AMD GPU ({call} answered {code:?})")
}

fn text(chars: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).trim().to_string()
}

/// Every HIP device, or why there is none.
pub fn usable() -> Result<Vec<Found>, String> {
    // SAFETY: plain runtime calls with valid out-pointers.
    let init = unsafe { hipInit(0) };
    // ROCm 5.2 answers hipErrorInvalidDevice here when there is no GPU at all.
    if matches!(
        init,
        hipError_t::hipErrorNoDevice | hipError_t::hipErrorInvalidDevice
    ) {
        return Err(no_device("hipInit", init));
    }
    check(init, || "hipInit".into()).map_err(|e| e.to_string())?;
    let mut count = 0;
    // SAFETY: as above.
    let r = unsafe { hipGetDeviceCount(&mut count) };
    if r == hipError_t::hipErrorNoDevice || (r == hipError_t::hipSuccess && count == 0) {
        return Err(no_device("hipGetDeviceCount", r));
    }
    check(r, || "hipGetDeviceCount".into()).map_err(|e| e.to_string())?;
    (0..count).map(properties).collect()
}

/// Properties of device `ordinal`.
pub fn properties(ordinal: i32) -> Result<Found, String> {
    let mut prop = hipDeviceProp_t::default();
    // SAFETY: `prop` is a valid out-pointer for the struct hip-sys was generated from.
    let r = unsafe { hipGetDeviceProperties(&mut prop, ordinal) };
    check(r, || format!("hipGetDeviceProperties({ordinal})")).map_err(|e| e.to_string())?;
    Ok(Found {
        ordinal: ordinal as u32,
        name: text(&prop.name),
        memory: prop.totalGlobalMem as u64,
        arch: text(&prop.gcnArchName),
    })
}

/// The ABI's view of a device.
pub fn info(d: &Found) -> DeviceInfo {
    DeviceInfo {
        index: d.ordinal,
        name: format!("{} ({})", d.name, d.arch).into(),
        memory_bytes: d.memory,
        dl_device: DlDevice {
            device_type: dl_device::ROCM,
            device_id: d.ordinal as i32,
        },
    }
}

/// Runtime and device discovery for the plugin's `probe`.
pub fn probe() -> ProbeReport {
    ProbeReport::from_search(usable().map(|found| found.iter().map(info).collect()))
}
