//! Loading failures at the library level: `yam_host::plugins::scan::scan_here` (what the
//! `yam __scan` child runs) on real libraries, in this process — the CPU backend built as a
//! plugin and the fault-injection test doubles of `tests/fixtures/`.
//!
//! One test per way a library can fail to load (missing file, not a library, missing root
//! module, incompatible ABI version, incompatible layout, an entry point that panics, one that
//! returns an error), plus what a good plugin and a plugin without a device report. The
//! fixtures that crash or hang their scanner are only scanned in a child process, by
//! `host/tests/cli_plugins.rs`; how the host compares these answers with the manifests is
//! tested there too.

use std::path::Path;

use fixture_support::{
    built_library, FAILING_ERROR, FUTURE_API_VERSION, PROBE_PANIC, UNAVAILABLE_REASON,
};
use yam_host::backends::{Backend, Source};
use yam_host::plugins::scan::{load_module, scan_here, ScanFacts, ScanOutcome};
use yam_plugin_api::{
    abi_stable::std_types::{RSlice, RSliceMut},
    DType, ErrorKind, StepCall, TensorDesc, API_VERSION,
};

/// The reason of a rejection; panics on any other outcome.
fn rejected(path: &Path) -> String {
    match scan_here(path) {
        ScanOutcome::Rejected { reason } => reason,
        other => panic!("{}: expected a rejection, got {other:?}", path.display()),
    }
}

/// The facts of a successful scan; panics on any other outcome.
fn scanned(path: &Path) -> ScanFacts {
    match scan_here(path) {
        ScanOutcome::Scanned(facts) => *facts,
        other => panic!("{}: expected a scan, got {other:?}", path.display()),
    }
}

fn kernel_ids(facts: &ScanFacts) -> Vec<&str> {
    facts.kernels.iter().map(|k| k.id.as_str()).collect()
}

/// Loads `crate_name`'s library into this process as a backend.
fn load(crate_name: &str) -> Backend {
    let path = built_library(crate_name);
    let module = load_module(&path).unwrap_or_else(|o| panic!("{crate_name}: {o:?}"));
    Backend::from_module(module, Source::Plugin(path)).unwrap()
}

#[test]
fn missing_file_is_rejected_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libyam_gone.so");
    let reason = rejected(&path);
    assert!(reason.starts_with("not a loadable library"), "{reason}");
    assert!(reason.contains(&path.display().to_string()), "{reason}");
    assert!(reason.contains("No such file"), "{reason}");
}

#[test]
fn text_file_is_rejected_as_not_a_loadable_library() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libfake.so");
    std::fs::write(&path, "this is a text file, not a shared library\n").unwrap();
    let reason = rejected(&path);
    assert!(reason.starts_with("not a loadable library"), "{reason}");
    assert!(reason.contains("libfake.so"), "{reason}");
    assert!(!reason.contains('\n'), "one line, please: {reason:?}");
}

#[test]
fn library_without_a_root_module_is_not_a_yam_plugin() {
    let reason = rejected(&built_library("fixture-no-root"));
    assert!(reason.starts_with("not a yam plugin"), "{reason}");
    assert!(reason.contains("export_plugin!"), "{reason}");
}

#[test]
fn library_of_an_incompatible_abi_version_is_rejected_naming_both_versions() {
    let reason = rejected(&built_library("fixture-wrong-abi"));
    assert!(
        reason.contains(&format!(
            "built against yam-plugin-api {FUTURE_API_VERSION}"
        )),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("this host's {API_VERSION}")),
        "{reason}"
    );
}

#[test]
fn root_module_of_another_layout_is_rejected_with_a_short_summary() {
    let reason = rejected(&built_library("fixture-wrong-layout"));
    assert!(
        reason.starts_with(&format!(
            "ABI layout mismatch with this host's yam-plugin-api {API_VERSION}"
        )),
        "{reason}"
    );
    assert!(
        reason.contains("mismatched package: expected yam-plugin-api, found fixture-wrong-layout"),
        "{reason}"
    );
    assert!(reason.len() < 400 && !reason.contains('\n'), "{reason}");
}

#[test]
fn panic_in_an_entry_point_comes_back_as_a_rejection_with_its_message() {
    let reason = rejected(&built_library("fixture-panics"));
    assert!(
        reason.starts_with("probe(): panic: probe panicked"),
        "{reason}"
    );
    assert!(reason.contains(PROBE_PANIC), "{reason}");
}

#[test]
fn errors_from_entry_points_come_back_as_values() {
    let failing = load("fixture-failing");
    let e = failing
        .create_executor(1)
        .err()
        .expect("device 1 does not exist");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message.contains("no device 1"), "{e}");

    let mut ex = failing.create_executor(0).unwrap();
    let desc = TensorDesc::packed(DType::U8, 2, 2, 1);
    let input = ex.allocate(desc).unwrap();
    ex.upload(input, RSlice::from_slice(&[1, 2, 3, 4])).unwrap();
    let output = ex.allocate(desc).unwrap();
    let step = StepCall {
        name: "t".into(),
        kernel: "threshold".into(),
        schema_version: 1,
        params: Default::default(),
        metadata: Default::default(),
    };
    let e = ex
        .execute(&step, RSlice::from_slice(&[input]), Some(output).into())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Internal);
    assert!(e.message.contains(FAILING_ERROR), "{e}");
    // The executor is still usable after the error.
    let mut back = [0u8; 4];
    ex.download(input, RSliceMut::from_mut_slice(&mut back))
        .unwrap();
    assert_eq!(back, [1, 2, 3, 4]);
    ex.free(input).unwrap();
    ex.free(output).unwrap();

    let lying = load("fixture-lying");
    let e = lying.create_executor(0).err().expect("no executor");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
}

#[test]
fn lying_library_reports_its_own_kernels_for_the_host_to_compare() {
    let facts = scanned(&built_library("fixture-lying"));
    assert_eq!(
        kernel_ids(&facts),
        ["threshold", "median_blur", "warp_perspective"]
    );
}

#[test]
fn plugin_without_a_device_scans_with_its_reason() {
    let facts = scanned(&built_library("fixture-unavailable"));
    assert!(facts.devices.is_empty());
    assert_eq!(facts.unavailable.as_deref(), Some(UNAVAILABLE_REASON));
}

#[test]
fn cpu_plugin_scans_as_the_cpu_backend_under_its_own_name() {
    let facts = scanned(&built_library("yam-cpu-plugin"));
    assert_eq!(facts.name, "cpu-plugin");
    assert_eq!(facts.kind, "cpu");
    assert_eq!(facts.api_version, API_VERSION);
    assert!(facts.unavailable.is_none());
    assert_eq!(facts.devices.len(), 1);
    assert!(facts.devices[0].name.starts_with("host CPU"));
    let builtin = Backend::builtin_cpu();
    let builtin_ids: Vec<&str> = builtin
        .facts
        .kernels
        .iter()
        .map(|k| k.id.as_str())
        .collect();
    assert_eq!(kernel_ids(&facts), builtin_ids);
}

#[test]
fn each_library_loaded_in_one_process_is_its_own_plugin() {
    // abi_stable's `RootModule::load_from_file` would hand back the first library for the
    // second; the host's loader must not.
    let names: Vec<String> = ["yam-cpu-plugin", "fixture-failing", "fixture-unavailable"]
        .into_iter()
        .map(|c| load(c).name().to_string())
        .collect();
    assert_eq!(
        names,
        ["cpu-plugin", "fixture-failing", "fixture-unavailable"]
    );
}
