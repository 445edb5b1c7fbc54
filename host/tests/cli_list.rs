//! `yam kernels` and `yam modules`, as tables and as JSON.

mod common;

use common::yam;

#[test]
fn kernels_json_lists_the_whole_catalogue_with_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let out = yam(dir.path(), &["kernels", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), yam_plugin_api::CATALOGUE.len());
    let g = list.iter().find(|k| k["id"] == "gaussian_blur").unwrap();
    assert_eq!(g["stage"], "preprocessing");
    assert_eq!(g["dtypes"], serde_json::json!(["u8", "u16", "f32"]));
    assert_eq!(g["channels"], serde_json::json!([1, 3, 4]));
    assert_eq!(g["backends"], serde_json::json!(["cpu"]));
    let ksize = g["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ksize")
        .unwrap();
    assert_eq!(ksize["default"], 5);
    assert_eq!(ksize["kind"]["type"], "int");
    assert_eq!(ksize["kind"]["odd"], true);
    let canny = list.iter().find(|k| k["id"] == "canny").unwrap();
    assert_eq!(canny["backends"], serde_json::json!(["cpu"]));
}

#[test]
fn kernels_table_shows_parameters_with_ranges_and_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let out = yam(dir.path(), &["kernels"]);
    assert_eq!(out.code, 0);
    let line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("iterations"))
        .unwrap();
    assert!(
        line.contains("int in [1, 100]") && line.contains("default 1"),
        "{line}"
    );
}

#[test]
fn modules_are_listed_by_stage_with_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let out = yam(dir.path(), &["modules", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let stages: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["preprocessing", "segmentation", "analysis"]);
    let denoise = v[0]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "denoise")
        .unwrap();
    assert_eq!(denoise["capabilities"]["requires_gpu"], true);
    let text = yam(dir.path(), &["modules"]).stdout;
    assert!(
        text.contains("analysis:") && text.contains("region_props"),
        "{text}"
    );
}

#[test]
fn a_closed_stdout_ends_yam_quietly_without_a_panic() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    // `yam kernels | true`, deterministically: stdout is a pipe whose read end is closed
    // before yam starts, so its first write fails.
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe() returns.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned here.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    let out = Command::new(env!("CARGO_BIN_EXE_yam"))
        .args(["kernels", "--json"])
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    // Ended by SIGPIPE, as `cat` or `ls` would be.
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
}
