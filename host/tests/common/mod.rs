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
