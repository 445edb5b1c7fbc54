//! The OpenCL backend plugin end to end: `yam plugins list` reports it ready (with a device)
//! or unavailable with the documented reason; when ready, it passes `yam conformance --quick`
//! against the CPU backend and runs the example pipeline's OpenCL-capable steps on its device.
//! On a machine without an OpenCL platform only the unavailable path is checked; nothing here
//! pretends a kernel ran.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_conformance_passes, install_plugin, json, plugin_status, scratch, yam_env};
use fixture_support::built_library;

/// A plugin folder holding `libyam_opencl.so` and its shipped manifest.
fn install(dir: &Path) -> PathBuf {
    let lib = std::fs::read(built_library("yam-opencl")).unwrap();
    install_plugin(dir, &lib, "libyam_opencl.so", "plugins/opencl/opencl.json")
}

fn status(dir: &Path, plugins: &Path, cache: &Path) -> (String, String) {
    plugin_status(dir, plugins, cache, "opencl")
}

/// What the plugin says when the ICD loader finds no platform (yam_opencl::device::NO_PLATFORM).
const NO_PLATFORM: &str = "no OpenCL platform found (is an ICD installed in /etc/OpenCL/vendors?)";

#[test]
fn opencl_plugin_passes_conformance_or_says_why_it_cannot_run() {
    let dir = scratch();
    let cache = tempfile::tempdir().unwrap();
    let plugins = install(dir.path());
    let (status, reason) = status(dir.path(), &plugins, cache.path());
    if status != "ready" {
        assert_eq!(status, "unavailable", "{reason}");
        assert!(
            reason.contains(NO_PLATFORM)
                || reason.contains("OpenCL platforms found but no devices"),
            "undocumented reason: {reason}"
        );
        return;
    }
    let checks =
        assert_conformance_passes(dir.path(), &plugins.join("libyam_opencl.so"), cache.path());
    assert!(checks.iter().any(|c| c["id"]
        .as_str()
        .unwrap()
        .starts_with("correctness/gaussian_blur/u8/")));
}

#[test]
fn example_pipeline_runs_its_opencl_steps_on_the_device() {
    let dir = scratch();
    let cache = tempfile::tempdir().unwrap();
    let plugins = install(dir.path());
    let (status, _) = status(dir.path(), &plugins, cache.path());
    if status != "ready" {
        // The unavailable reason is asserted by the test above.
        return;
    }
    let out = yam_env(
        dir.path(),
        &[
            "run",
            "cells.json",
            "cells.png",
            "-o",
            "o.png",
            "--report",
            "r.json",
            "--plugin-dir",
            plugins.to_str().unwrap(),
            "--backend",
            "opencl,cpu",
        ],
        &[("XDG_CACHE_HOME", cache.path().as_os_str())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = json(&dir.path().join("r.json"));
    let image = &r["images"][0];
    let steps = image["steps"].as_array().unwrap();
    let by_kernel = |k: &str| steps.iter().find(|s| s["kernel"] == k).unwrap().clone();
    for k in ["gaussian_blur", "threshold", "morphology"] {
        let s = by_kernel(k);
        assert_eq!(s["backend"], "opencl", "{s}");
        assert!(s["device"].as_str().unwrap().contains(": "), "{s}");
        assert!(s["fallback_reason"].is_null(), "{s}");
    }
    assert!(by_kernel("threshold")["info"]["otsu_threshold"].is_number());
    let props = by_kernel("region_props");
    assert_eq!(props["backend"], "cpu");
    assert!(
        props["fallback_reason"]
            .as_str()
            .unwrap()
            .contains("opencl does not implement region_props"),
        "{props}"
    );
    // The three OpenCL steps form one segment: one upload, one download for it.
    assert!(image["transfers"]["uploads"].as_u64().unwrap() >= 1);
    // Same output as the CPU backend alone.
    let cpu = yam_env(
        dir.path(),
        &[
            "run",
            "cells.json",
            "cells.png",
            "-o",
            "cpu.png",
            "--backend",
            "cpu",
        ],
        &[("XDG_CACHE_HOME", cache.path().as_os_str())],
    );
    assert_eq!(cpu.code, 0, "{}", cpu.stderr);
    assert_eq!(
        std::fs::read(dir.path().join("o.png")).unwrap(),
        std::fs::read(dir.path().join("cpu.png")).unwrap()
    );
}
