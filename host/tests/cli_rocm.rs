//! The ROCm backend plugin as the host sees it. Without an AMD GPU (CI has ROCm's runtime but
//! no GPU) it must be listed `unavailable: no HIP device ...` and runs fall back to the CPU
//! saying so; without ROCm's runtime at all its library cannot load, which must read as
//! "needs libamdhip64.so.5: not found" (unavailable), never as a corrupt plugin. That second
//! case is simulated on a copy of the library whose dependency name is changed to one that
//! does not exist.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{json, scratch, yam_env};
use fixture_support::built_library;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A plugin folder holding `bytes` as `libyam_rocm.so` and the shipped manifest.
fn install(dir: &Path, bytes: &[u8]) -> PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::set_permissions(&plugins, std::fs::Permissions::from_mode(0o755)).unwrap();
    let lib = plugins.join("libyam_rocm.so");
    std::fs::write(&lib, bytes).unwrap();
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o755)).unwrap();
    let manifest = plugins.join("rocm.json");
    std::fs::copy(repo().join("plugins/rocm/rocm.json"), &manifest).unwrap();
    std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o644)).unwrap();
    plugins
}

/// `(status, reason)` of the rocm plugin in `yam plugins list --json`.
fn status(dir: &Path, plugins: &Path, cache: &Path) -> (String, String) {
    let out = yam_env(
        dir,
        &[
            "plugins",
            "list",
            "--json",
            "--plugin-dir",
            plugins.to_str().unwrap(),
        ],
        &[("XDG_CACHE_HOME", cache.as_os_str())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let list = v
        .as_array()
        .cloned()
        .or_else(|| v["plugins"].as_array().cloned())
        .expect("a list of plugins");
    let p = list
        .iter()
        .find(|p| p["name"] == "rocm")
        .unwrap_or_else(|| panic!("rocm is not listed: {v}"));
    let text = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    (text("status"), text("reason"))
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
