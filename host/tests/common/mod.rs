//! Helpers shared by the CLI tests: run the real `yam` binary in a scratch folder.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Output of one `yam` invocation.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Variables of yam (and of its test doubles) that would make a test depend on the environment
/// it is run in; every run starts without them.
const YAM_VARS: &[&str] = &[
    "YAM_LOG",
    "YAM_BACKENDS",
    "YAM_PLUGIN_PATH",
    "YAM_PLUGINS_SELECT",
    "YAM_PLUGINS_DISABLE",
    "YAM_PLUGIN_ALLOWLIST",
    "YAM_SCAN_TIMEOUT",
    "YAM_FIXTURE_FAILING_PANIC",
];

/// Runs `yam` with `args` in `dir`, with logging at its default level.
pub fn yam(dir: &Path, args: &[&str]) -> Outcome {
    yam_env(dir, args, &[])
}

/// Runs `yam` with `args` in `dir` with no yam variables set but `env`.
pub fn yam_env(dir: &Path, args: &[&str], env: &[(&str, &OsStr)]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yam"));
    cmd.args(args).current_dir(dir);
    for var in YAM_VARS {
        cmd.env_remove(var);
    }
    let out = cmd.envs(env.iter().copied()).output().expect("yam runs");
    Outcome {
        code: out.status.code().expect("exited normally"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The repository's `examples/` folder.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// A scratch folder holding copies of the example pipeline and image.
pub fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["cells.json", "cells.png"] {
        std::fs::copy(examples().join(f), dir.path().join(f)).unwrap();
    }
    dir
}

/// Writes `text` to `dir/name` and returns the name.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

/// Reads a JSON file.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A one-step pipeline file with `params`.
pub fn one_step(dir: &Path, name: &str, step: &str, params: &str) -> String {
    write(
        dir,
        name,
        &format!(r#"{{"steps":[{{"name":"{step}","params":{params}}}]}}"#),
    )
}

/// Makes `dir/plugins` (mode 755) holding `library` (the bytes of a plugin, mode 755) as
/// `file` and the shipped manifest `manifest` (a path under the repository root, mode 644);
/// returns the folder.
pub fn install_plugin(dir: &Path, library: &[u8], file: &str, manifest: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    let plugins = dir.join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    mode(&plugins, 0o755).unwrap();
    let lib = plugins.join(file);
    std::fs::write(&lib, library).unwrap();
    mode(&lib, 0o755).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = plugins.join(Path::new(manifest).file_name().unwrap());
    std::fs::copy(repo.join(manifest), &target).unwrap();
    mode(&target, 0o644).unwrap();
    plugins
}

/// `(status, reason)` of plugin `name` in `yam plugins list --json` over `plugins`, with the
/// registry cache under `cache`.
pub fn plugin_status(dir: &Path, plugins: &Path, cache: &Path, name: &str) -> (String, String) {
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
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not listed: {v}"));
    let text = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    (text("status"), text("reason"))
}

/// Runs `yam conformance --quick` on the plugin library `lib` (kernel cache in `cache`) and
/// asserts it exits 0 with every check passed; returns the checks.
pub fn assert_conformance_passes(dir: &Path, lib: &Path, cache: &Path) -> Vec<serde_json::Value> {
    let report = dir.join("conformance.json");
    let out = yam_env(
        dir,
        &[
            "conformance",
            lib.to_str().unwrap(),
            "--quick",
            "--json",
            report.to_str().unwrap(),
        ],
        &[("XDG_CACHE_HOME", cache.as_os_str())],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let r = json(&report);
    let checks = r["checks"].as_array().unwrap();
    assert!(
        checks.iter().all(|c| c["verdict"] == "pass"),
        "every check passes, none expected to fail"
    );
    checks.clone()
}
