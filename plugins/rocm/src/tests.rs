//! Tests that need no AMD GPU: the shipped manifest and the probe's answer on a machine
//! without one. Kernel results need an AMD GPU (`yam conformance`), which CI does not have.

use yam_plugin_api::export::Backend;

use crate::{runtime, RocmBackend};

/// The shipped manifest must declare exactly what the library declares, or the host rejects
/// the plugin.
#[test]
fn committed_manifest_matches_the_declared_kernels() {
    let manifest = include_str!("../rocm.json");
    assert_eq!(
        yam_plugin_api::export::check_manifest::<RocmBackend>(manifest, "libyam_rocm.so"),
        Ok(()),
        "update plugins/rocm/rocm.json"
    );
}

/// Whether this machine has an AMD GPU, read from the kernel driver's node (the plugin's
/// answer is checked against it, not against itself).
fn kfd_present() -> bool {
    std::path::Path::new("/dev/kfd").exists()
}

#[test]
fn probe_without_an_amd_gpu_says_no_hip_device() {
    let report = RocmBackend::probe();
    if kfd_present() {
        // A GPU node: devices, or a reason that is not "no device".
        assert!(!report.devices.is_empty() || !report.unavailable_reason.is_empty());
        return;
    }
    assert!(report.devices.is_empty());
    let reason = report.unavailable_reason.as_str();
    assert!(
        reason.starts_with(runtime::NO_DEVICE) && reason.contains("finds no AMD GPU"),
        "{reason}"
    );
    let err = RocmBackend::create_executor(0).unwrap_err();
    assert_eq!(err.kind(), yam_plugin_api::ErrorKind::DeviceUnavailable);
    assert!(err.message.contains("no HIP device"), "{}", err.message);
}
