//! The CUDA backend plugin end to end. Where a CUDA GPU is present it must pass
//! `yam conformance --quick` and run the GPU example pipeline entirely on the device under
//! `--strict` (the roadmap's milestone M2: preprocessing and segmentation on the GPU), with the
//! CPU backend's labels. Where it is not, the plugin must load, report itself unavailable with
//! the documented reason, make `--strict` runs fail naming that reason, and let other runs fall
//! back to the CPU saying so. Nothing here pretends a kernel ran.

mod common;

use std::path::{Path, PathBuf};

use common::{
    assert_conformance_passes, examples, install_plugin, json, plugin_status, scratch, yam_env,
};
use fixture_support::built_library;

/// The reasons the plugin documents (yam_cuda::runtime and yam_cuda::nvrtc).
const REASONS: [&str; 3] = [
    "libcuda.so not found",
    "no CUDA device",
    "libnvrtc.so not found",
];

/// A plugin folder holding `libyam_cuda.so` and its shipped manifest, and the GPU example.
fn install(dir: &Path) -> PathBuf {
    let lib = std::fs::read(built_library("yam-cuda")).unwrap();
    std::fs::copy(
        examples().join("cells-gpu.json"),
        dir.join("cells-gpu.json"),
    )
    .unwrap();
    install_plugin(dir, &lib, "libyam_cuda.so", "plugins/cuda/cuda.json")
}

fn status(dir: &Path, plugins: &Path, cache: &Path) -> (String, String) {
    plugin_status(dir, plugins, cache, "cuda")
}

fn run_gpu_example(dir: &Path, plugins: &Path, cache: &Path, extra: &[&str]) -> common::Outcome {
    let mut args = vec![
        "run",
        "cells-gpu.json",
        "cells.png",
        "-o",
        "labels.npy",
        "--report",
        "r.json",
        "--plugin-dir",
        plugins.to_str().unwrap(),
    ];
    args.extend(extra);
    yam_env(dir, &args, &[("XDG_CACHE_HOME", cache.as_os_str())])
}

#[test]
fn cuda_plugin_passes_conformance_or_says_why_it_cannot_run() {
    let dir = scratch();
    let cache = tempfile::tempdir().unwrap();
    let plugins = install(dir.path());
    let (status, reason) = status(dir.path(), &plugins, cache.path());
    if status != "ready" {
        assert_eq!(status, "unavailable", "{reason}");
        assert!(
            REASONS.iter().any(|r| reason.contains(r)),
            "undocumented reason: {reason}"
        );
        return;
    }
    assert_conformance_passes(dir.path(), &plugins.join("libyam_cuda.so"), cache.path());
}

#[test]
fn strict_cuda_run_is_all_on_the_gpu_or_fails_naming_the_reason() {
    let dir = scratch();
    let cache = tempfile::tempdir().unwrap();
    let plugins = install(dir.path());
    let (status, reason) = status(dir.path(), &plugins, cache.path());
    let out = run_gpu_example(
        dir.path(),
        &plugins,
        cache.path(),
        &["--backend", "cuda", "--strict"],
    );
    if status != "ready" {
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("--strict forbids falling back to cpu"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&reason),
            "{}\nreason: {reason}",
            out.stderr
        );
        assert!(
            !dir.path().join("labels.npy").exists(),
            "no output on failure"
        );
        return;
    }
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = json(&dir.path().join("r.json"));
    for s in r["images"][0]["steps"].as_array().unwrap() {
        assert_eq!(s["backend"], "cuda", "{s}");
    }
    let cpu = run_gpu_example(dir.path(), &plugins, cache.path(), &["--backend", "cpu"]);
    assert_eq!(cpu.code, 0, "{}", cpu.stderr);
}

#[test]
fn without_a_gpu_the_run_falls_back_to_cpu_and_says_why() {
    let dir = scratch();
    let cache = tempfile::tempdir().unwrap();
    let plugins = install(dir.path());
    let (status, reason) = status(dir.path(), &plugins, cache.path());
    let out = run_gpu_example(
        dir.path(),
        &plugins,
        cache.path(),
        &["--backend", "cuda,cpu"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = json(&dir.path().join("r.json"));
    let steps = r["images"][0]["steps"].as_array().unwrap().clone();
    assert_eq!(steps.len(), 4);
    for s in &steps {
        if status == "ready" {
            assert_eq!(s["backend"], "cuda", "{s}");
        } else {
            assert_eq!(s["backend"], "cpu", "{s}");
            let why = s["fallback_reason"].as_str().unwrap_or_default();
            assert!(
                why.contains("cuda") && why.contains(&reason),
                "{s}\nreason: {reason}"
            );
        }
    }
    let cc = &steps[3];
    assert_eq!(cc["kernel"], "connected_components");
    assert!(cc["info"]["labels"].as_u64().unwrap() > 1, "{cc}");
}
