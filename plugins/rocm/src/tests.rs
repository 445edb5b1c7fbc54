//! Tests that need no AMD GPU: the shipped manifest and the probe's answer on a machine
//! without one. Kernel results need an AMD GPU (`yam conformance`), which CI does not have.

use yam_plugin_api::export::Backend;

use crate::{runtime, RocmBackend};

/// The shipped manifest must declare exactly what the library declares, or the host rejects
/// the plugin.
#[test]
fn committed_manifest_matches_the_declared_kernels() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/rocm.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let declared: Vec<serde_json::Value> = RocmBackend::declared_kernels()
        .iter()
        .map(|k| {
            serde_json::json!({
                "id": k.id.as_str(),
                "dtypes": k.dtypes.iter().map(|d| d.name()).collect::<Vec<_>>(),
                "channels": k.channels.to_vec(),
                "max_pixels": k.max_pixels,
                "supports_inplace": k.supports_inplace,
                "schema_version": k.schema_version,
            })
        })
        .collect();
    assert_eq!(
        manifest["kernels"].as_array().unwrap(),
        &declared,
        "update plugins/rocm/rocm.json"
    );
    assert_eq!(manifest["name"], RocmBackend::descriptor().name.as_str());
    assert_eq!(manifest["backend"], "rocm");
    assert_eq!(manifest["library"], "libyam_rocm.so");
    assert_eq!(manifest["api_version"], yam_plugin_api::API_VERSION);
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
