//! Tests that need no GPU: the shipped manifest, and the probe's behaviour on a machine
//! without CUDA (it must say why, never panic). Kernel results are checked on a GPU by
//! `yam conformance` (plugins/cuda/scripts/gpu-check.sh).

use yam_plugin_api::export::Backend;

use crate::{runtime, CudaBackend};

/// The shipped manifest must declare exactly what the library declares, or the host rejects
/// the plugin.
#[test]
fn committed_manifest_matches_the_declared_kernels() {
    let manifest = include_str!("../cuda.json");
    assert_eq!(
        yam_plugin_api::export::check_manifest::<CudaBackend>(manifest, "libyam_cuda.so"),
        Ok(()),
        "update plugins/cuda/cuda.json"
    );
}

fn libcuda_present() -> bool {
    // SAFETY: a presence check only opens and closes the library.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

#[test]
fn probe_names_the_missing_driver_or_lists_devices() {
    let report = CudaBackend::probe();
    let reason = report.unavailable_reason.as_str();
    if libcuda_present() {
        // A driver: either devices, or a reason that is not about the library.
        assert!(
            !report.devices.is_empty() || !reason.is_empty(),
            "no device and no reason"
        );
        assert!(!reason.contains("libcuda.so not found"), "{reason}");
    } else {
        assert!(report.devices.is_empty());
        assert!(
            reason.starts_with("libcuda.so not found (searched libcuda.so, ")
                && reason.contains("libcuda.so.1")
                && reason.ends_with("the NVIDIA driver is not installed"),
            "{reason}"
        );
    }
}

#[test]
fn creating_an_executor_without_a_driver_is_an_error_not_a_panic() {
    if libcuda_present() {
        // With a driver this would open a device; covered by the GPU check instead.
        assert!(runtime::check_driver().is_ok() || CudaBackend::probe().devices.is_empty());
        return;
    }
    let err = crate::open_executor(0).unwrap_err().to_string();
    assert!(err.contains("libcuda.so not found"), "{err}");
    let err = CudaBackend::create_executor(3).unwrap_err();
    assert_eq!(err.kind(), yam_plugin_api::ErrorKind::DeviceUnavailable);
}
