//! The ROCm backend plugin as the host sees it. Without an AMD GPU (CI has ROCm's runtime but
//! no GPU) it must be listed `unavailable: no HIP device ...` and runs fall back to the CPU
//! saying so; without ROCm's runtime at all its library cannot load, which must read as
//! "needs libamdhip64.so.5: not found" (unavailable), never as a corrupt plugin. That second
//! case is simulated on a copy of the library whose dependency name is changed to one that
//! does not exist.

mod common;

use std::path::{Path, PathBuf};

use common::{install_plugin, json, plugin_status, scratch, yam_env};
use fixture_support::built_library;

/// A plugin folder holding `bytes` as `libyam_rocm.so` and the shipped manifest.
fn install(dir: &Path, bytes: &[u8]) -> PathBuf {
    install_plugin(dir, bytes, "libyam_rocm.so", "plugins/rocm/rocm.json")
}

fn status(dir: &Path, plugins: &Path, cache: &Path) -> (String, String) {
    plugin_status(dir, plugins, cache, "rocm")
}

#[test]
fn without_an_amd_gpu_rocm_is_unavailable_and_runs_fall_back_to_cpu() {
    let dir = scratch();
    let cache = tempfile::tempdir().unwrap();
    let lib = std::fs::read(built_library("yam-rocm")).unwrap();
    let plugins = install(dir.path(), &lib);
    let (status, reason) = status(dir.path(), &plugins, cache.path());
    if Path::new("/dev/kfd").exists() {
        // An AMD GPU node: the plugin must be ready (or say why); nothing more is asserted
        // here, conformance covers a ready device.
        assert!(status == "ready" || !reason.is_empty(), "{status}");
        return;
    }
    assert_eq!(status, "unavailable", "{reason}");
    assert!(reason.starts_with("no HIP device"), "{reason}");
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
            "rocm,cpu",
        ],
        &[("XDG_CACHE_HOME", cache.path().as_os_str())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = json(&dir.path().join("r.json"));
    let first = &r["images"][0]["steps"][0];
    assert_eq!(first["backend"], "cpu", "{first}");
    let why = first["fallback_reason"].as_str().unwrap_or_default();
    assert!(
        why.contains("rocm") && why.contains("no HIP device"),
        "{first}"
    );
}

/// The library with its dependency on `libamdhip64.so.5` renamed to a library that does not
/// exist (same length, so the ELF string table stays valid).
fn with_missing_runtime(lib: &[u8]) -> Vec<u8> {
    let (from, to) = (b"libamdhip64.so.5\0", b"libamdhip00.so.5\0");
    let mut out = lib.to_vec();
    let mut replaced = 0;
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            replaced += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(
        replaced > 0,
        "libyam_rocm.so does not name libamdhip64.so.5"
    );
    out
}

#[test]
fn simulated_missing_rocm_runtime_is_unavailable_not_a_corrupt_plugin() {
    let dir = scratch();
    let cache = tempfile::tempdir().unwrap();
    let lib = std::fs::read(built_library("yam-rocm")).unwrap();
    let plugins = install(dir.path(), &with_missing_runtime(&lib));
    let (status, reason) = status(dir.path(), &plugins, cache.path());
    assert_eq!(status, "unavailable", "{reason}");
    assert_eq!(reason, "needs libamdhip00.so.5: not found");
}
