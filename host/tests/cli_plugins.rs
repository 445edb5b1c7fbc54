//! Plugins end to end: the real `yam` binary discovering, scanning, caching, vetting and
//! running real plugin libraries — the CPU backend built as a plugin (`cpu-plugin`) and the
//! fault-injection test doubles of `tests/fixtures/` (panics, crash, hang, lying, wrong ABI,
//! wrong layout, no root module, failing steps, no device), plus a text file posing as a
//! library.
//!
//! Every test gets its own plugin folder (mode 0755), its own `XDG_CACHE_HOME` (so its own
//! registry cache) and passes `--plugin-dir`, so tests neither see each other's plugins nor
//! the machine's.

mod common;

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{json, one_step, scratch, yam_env, Outcome};
use fixture_support::{
    built_library, FAILING_ERROR, FAILING_PANIC, FAILING_PANIC_ENV, FUTURE_API_VERSION,
    PROBE_PANIC, UNAVAILABLE_REASON, VENDOR,
};
use serde_json::Value;
use yam_host::plugins::manifest::{Manifest, ManifestKernel, MANIFEST_VERSION};
use yam_host::plugins::security::sha256_file;
use yam_plugin_api::{DType, API_VERSION};

/// What the tests set `YAM_SCAN_TIMEOUT` to wherever `fixture-hang` is installed.
const SCAN_TIMEOUT_S: &str = "1";

/// Every fixture whose manifest is the standard one (see [`World::install`]).
const STANDARD_FIXTURES: &[&str] = &[
    "fixture-panics",
    "fixture-crash",
    "fixture-hang",
    "fixture-wrong-abi",
    "fixture-wrong-layout",
    "fixture-no-root",
    "fixture-failing",
    "fixture-unavailable",
];

/// One test's private plugin world.
struct World {
    /// Working folder: `cells.json`, `cells.png`, and `plugins/`.
    work: tempfile::TempDir,
    /// Holds the XDG cache and data homes.
    home: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let w = World {
            work: scratch(),
            home: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir(w.plugins()).unwrap();
        set_mode(&w.plugins(), 0o755);
        w
    }

    fn dir(&self) -> &Path {
        self.work.path()
    }

    /// The plugin folder passed as `--plugin-dir`.
    fn plugins(&self) -> PathBuf {
        self.dir().join("plugins")
    }

    /// The registry cache file yam writes.
    fn registry(&self) -> PathBuf {
        self.home.path().join("cache/yam/registry.json")
    }

    /// Copies `library` into `dir` as `file` and writes `manifest` beside it as `<name>.json`.
    fn install_into(&self, dir: &Path, library: &Path, file: &str, manifest: &Manifest) {
        let lib = dir.join(file);
        std::fs::copy(library, &lib).unwrap();
        set_mode(&lib, 0o755);
        let m = dir.join(format!("{}.json", manifest.name));
        std::fs::write(&m, serde_json::to_string_pretty(manifest).unwrap()).unwrap();
        set_mode(&m, 0o644);
    }

    /// Installs test double `name` with its standard manifest: the library cargo built for
    /// the crate of that name, declaring `threshold` on u8 x1 — what the library itself
    /// declares, except for `fixture-lying`, whose manifest declares `threshold` and
    /// `gaussian_blur`.
    fn install(&self, name: &str) {
        let kernels: &[&str] = if name == "fixture-lying" {
            &["threshold", "gaussian_blur"]
        } else {
            &["threshold"]
        };
        let file = lib_file(name);
        let m = manifest(name, &file, kernels);
        self.install_into(&self.plugins(), &built_library(name), &file, &m);
    }

    /// Installs the CPU backend plugin with its shipped manifest.
    fn install_cpu_plugin(&self) {
        self.install_into(
            &self.plugins(),
            &built_library("yam-cpu-plugin"),
            "libyam_cpu_plugin.so",
            &cpu_plugin_manifest(),
        );
    }

    /// Installs `fake`: a text file named `libfake.so`, with a manifest.
    fn install_fake(&self) {
        let lib = self.plugins().join("libfake.so");
        std::fs::write(&lib, "this is a text file, not a shared library\n").unwrap();
        set_mode(&lib, 0o755);
        let m = manifest("fake", "libfake.so", &["threshold"]);
        let path = self.plugins().join("fake.json");
        std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
        set_mode(&path, 0o644);
    }

    /// Runs `yam args --plugin-dir <plugins>` with this world's cache and `env`.
    fn yam(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let plugins = self.plugins();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--plugin-dir", plugins.to_str().unwrap()]);
        self.yam_without_plugin_dir(&all, env)
    }

    /// Runs `yam args` with this world's cache and `env` (no `--plugin-dir`).
    fn yam_without_plugin_dir(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let home = self.home.path();
        let vars: Vec<(&str, OsString)> = [
            ("XDG_CACHE_HOME", home.join("cache").into_os_string()),
            ("XDG_DATA_HOME", home.join("data").into_os_string()),
        ]
        .into_iter()
        .chain(env.iter().map(|(k, v)| (*k, OsString::from(v))))
        .collect();
        let refs: Vec<(&str, &OsStr)> = vars.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        yam_env(self.dir(), args, &refs)
    }

    /// `yam plugins list --json`: the plugin records, after checking the host exited 0.
    fn list(&self, env: &[(&str, &str)]) -> Vec<Value> {
        let out = self.yam(&["plugins", "list", "--json"], env);
        assert_eq!(out.code, 0, "plugins list failed: {}", out.stderr);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        v["plugins"].as_array().unwrap().clone()
    }

    /// Runs the example pipeline on the built-in CPU backend only (every plugin disabled) and
    /// returns the output image's bytes, written as `name`.
    fn builtin_output(&self, name: &str) -> Vec<u8> {
        let report = format!("{name}.report.json");
        let out = self.yam(
            &[
                "run",
                "cells.json",
                "cells.png",
                "-o",
                name,
                "--report",
                &report,
                "--backend",
                "cpu",
            ],
            &[("YAM_PLUGINS_DISABLE", "*")],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        for s in steps(&json(&self.dir().join(&report))) {
            assert_eq!(s["backend"], "cpu", "{s}");
        }
        std::fs::read(self.dir().join(name)).unwrap()
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `fixture-panics` → `libfixture_panics.so`.
fn lib_file(crate_name: &str) -> String {
    format!("lib{}.so", crate_name.replace('-', "_"))
}

/// A manifest of a `cpu`-kind plugin declaring `kernels` on u8 x1.
fn manifest(name: &str, library: &str, kernels: &[&str]) -> Manifest {
    Manifest {
        manifest_version: MANIFEST_VERSION,
        name: name.into(),
        version: "0.1.0".into(),
        library: library.into(),
        api_version: API_VERSION.into(),
        backend: "cpu".into(),
        vendor: VENDOR.into(),
        deterministic: true,
        kernels: kernels
            .iter()
            .map(|id| ManifestKernel {
                id: (*id).into(),
                dtypes: vec![DType::U8],
                channels: vec![1],
                max_pixels: 0,
                supports_inplace: false,
                schema_version: 1,
            })
            .collect(),
    }
}

/// `plugins/cpu-plugin/cpu-plugin.json`, as shipped.
fn cpu_plugin_manifest() -> Manifest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/cpu-plugin/cpu-plugin.json");
    Manifest::load(&path).unwrap()
}

/// The record of plugin `name` in a `plugins list --json` answer.
fn find<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {list:#?}"))
}

/// Asserts that plugin `name` has `status` and a reason containing each of `needles`.
fn expect(list: &[Value], name: &str, status: &str, needles: &[&str]) {
    let p = find(list, name);
    assert_eq!(p["status"], status, "{name}: {p:#}");
    let reason = p["reason"].as_str().unwrap_or("");
    for n in needles {
        assert!(
            reason.contains(n),
            "{name}: expected {n:?} in reason {reason:?}"
        );
    }
}

/// The steps of the first image of a run report.
fn steps(report: &Value) -> Vec<Value> {
    assert_eq!(report["images"][0]["status"], "ok", "{report:#}");
    report["images"][0]["steps"].as_array().unwrap().clone()
}

/// How many plugin libraries yam scanned (it logs each scan at info level).
fn scans(out: &Outcome) -> usize {
    out.stderr.matches("scanning plugin ").count()
}

/// The registry cache file's identity: it is replaced atomically (a new inode) whenever yam
/// writes it.
fn file_identity(path: &Path) -> (u64, i64, i64) {
    let m = std::fs::metadata(path).unwrap();
    (m.ino(), m.mtime(), m.mtime_nsec())
}

#[test]
fn every_broken_plugin_is_listed_with_its_cause_and_the_host_survives() {
    let w = World::new();
    for name in STANDARD_FIXTURES {
        w.install(name);
    }
    w.install("fixture-lying");
    w.install_fake();
    w.install_cpu_plugin();
    let env = [("YAM_SCAN_TIMEOUT", SCAN_TIMEOUT_S)];

    let list = w.list(&env);
    assert_eq!(list.len(), STANDARD_FIXTURES.len() + 3, "{list:#?}");
    expect(&list, "fixture-panics", "rejected", &["probe", PROBE_PANIC]);
    expect(
        &list,
        "fixture-crash",
        "quarantined",
        &["scan crashed: killed by signal 11 (SIGSEGV)"],
    );
    expect(&list, "fixture-hang", "quarantined", &["scan hung"]);
    expect(
        &list,
        "fixture-lying",
        "rejected",
        &[
            "manifest declares gaussian_blur but the library does not implement it",
            "the library implements median_blur but the manifest does not declare it",
            "the library reports \"warp_perspective\", which is not a catalogue kernel",
        ],
    );
    expect(
        &list,
        "fixture-wrong-abi",
        "rejected",
        &[
            &format!("built against yam-plugin-api {FUTURE_API_VERSION}"),
            &format!("this host's {API_VERSION}"),
        ],
    );
    expect(
        &list,
        "fixture-wrong-layout",
        "rejected",
        &["ABI layout mismatch", "fixture-wrong-layout"],
    );
    let layout = find(&list, "fixture-wrong-layout")["reason"]
        .as_str()
        .unwrap();
    assert!(
        layout.len() < 400 && !layout.contains('\n'),
        "abi_stable's report is not summarised: {layout}"
    );
    expect(&list, "fixture-no-root", "rejected", &["not a yam plugin"]);
    expect(
        &list,
        "fake",
        "rejected",
        &["not a loadable library", "libfake.so"],
    );
    expect(
        &list,
        "fixture-unavailable",
        "unavailable",
        &[UNAVAILABLE_REASON],
    );
    expect(&list, "fixture-failing", "ready", &[]);
    expect(&list, "cpu-plugin", "ready", &[]);
    for p in &list {
        let reason = p["reason"].as_str().unwrap_or("");
        assert!(!reason.contains('\n'), "multi-line reason: {p:#}");
    }

    // The table says the same (from the cache this time).
    let out = w.yam(&["plugins", "list"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for p in &list {
        let (name, status) = (p["name"].as_str().unwrap(), p["status"].as_str().unwrap());
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{name} ")) && l.contains(status)),
            "no `{name} ... {status}` row in:\n{}",
            out.stdout
        );
        if let Some(reason) = p["reason"].as_str() {
            assert!(
                out.stdout.contains(reason),
                "{name}'s reason missing from:\n{}",
                out.stdout
            );
        }
    }
    assert!(out.stdout.contains("built-in: cpu"), "{}", out.stdout);

    // A run with all of them installed still works, and says what it passed over.
    let expected = w.builtin_output("reference.png");
    let out = w.yam(
        &[
            "run",
            "cells.json",
            "cells.png",
            "-o",
            "out.png",
            "--report",
            "report.json",
        ],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(std::fs::read(w.dir().join("out.png")).unwrap() == expected);
    for s in steps(&json(&w.dir().join("report.json"))) {
        let why = s["fallback_reason"].as_str().unwrap_or("");
        assert!(
            why.contains("fixture-crash is quarantined") && why.contains("fake is rejected"),
            "{s:#}"
        );
    }
}

#[test]
fn cpu_plugin_is_ready_and_info_lists_its_kernels_and_device() {
    let w = World::new();
    w.install_cpu_plugin();
    let kernels: Vec<String> = cpu_plugin_manifest()
        .kernels
        .into_iter()
        .map(|k| k.id)
        .collect();

    let list = w.list(&[]);
    expect(&list, "cpu-plugin", "ready", &[]);
    assert!(find(&list, "cpu-plugin")["reason"].is_null());

    let out = w.yam(&["plugins", "info", "cpu-plugin"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("status:   ready"), "{}", out.stdout);
    assert!(
        out.stdout.contains("libyam_cpu_plugin.so"),
        "{}",
        out.stdout
    );
    for k in &kernels {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(k.as_str())),
            "kernel {k} missing from:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("[0] host CPU ("), "{}", out.stdout);

    let out = w.yam(&["plugins", "info", "cpu-plugin", "--json"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let reported: Vec<&str> = v["facts"]["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(reported, kernels);
    let device = v["facts"]["devices"][0]["name"].as_str().unwrap();
    assert!(device.starts_with("host CPU"), "{device}");

    let out = w.yam(&["plugins", "info", "cuda"], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no plugin named \"cuda\"") && out.stderr.contains("cpu-plugin"),
        "{}",
        out.stderr
    );
}

#[test]
fn cpu_plugin_runs_every_step_with_the_builtin_backends_results() {
    let w = World::new();
    w.install_cpu_plugin();
    let expected = w.builtin_output("reference.png");
    let out = w.yam(
        &[
            "run",
            "cells.json",
            "cells.png",
            "-o",
            "out.png",
            "--report",
            "report.json",
            "--backend",
            "cpu-plugin,cpu",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = json(&w.dir().join("report.json"));
    assert_eq!(
        report["backend_order"],
        serde_json::json!(["cpu-plugin", "cpu"])
    );
    let steps = steps(&report);
    assert_eq!(steps.len(), 4);
    for s in &steps {
        assert_eq!(s["backend"], "cpu-plugin", "{s:#}");
        assert!(s["device"].as_str().unwrap().starts_with("host CPU"), "{s}");
        assert!(s["fallback_reason"].is_null(), "{s:#}");
    }
    assert!(
        std::fs::read(w.dir().join("out.png")).unwrap() == expected,
        "cpu-plugin's output differs from the built-in cpu backend's"
    );
    assert_eq!(
        json(&w.dir().join("out.region_props.json")),
        json(&w.dir().join("reference.region_props.json"))
    );
}

#[test]
fn listing_again_uses_the_cache_instead_of_rescanning() {
    let w = World::new();
    w.install("fixture-hang");
    w.install_cpu_plugin();
    let env = [("YAM_SCAN_TIMEOUT", SCAN_TIMEOUT_S), ("YAM_LOG", "info")];

    let t = Instant::now();
    let first = w.yam(&["plugins", "list", "--json"], &env);
    let first_took = t.elapsed();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(scans(&first), 2, "{}", first.stderr);
    // The hung scan was waited for, up to the timeout, and no longer.
    assert!(first_took >= Duration::from_secs(1), "{first_took:?}");
    let cached = file_identity(&w.registry());

    let second = w.yam(&["plugins", "list", "--json"], &env);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(scans(&second), 0, "rescanned:\n{}", second.stderr);
    assert_eq!(
        file_identity(&w.registry()),
        cached,
        "registry.json was rewritten"
    );
    // The quarantine is remembered, not forgotten.
    assert_eq!(first.stdout, second.stdout);
    let list: Value = serde_json::from_str(&second.stdout).unwrap();
    expect(
        list["plugins"].as_array().unwrap(),
        "fixture-hang",
        "quarantined",
        &["scan hung"],
    );
}

#[test]
fn quarantine_heals_when_the_library_file_changes() {
    let w = World::new();
    // A plugin whose library crashes in its probe, later replaced by a fixed one.
    let file = lib_file("fixture-unavailable");
    let m = manifest("fixture-unavailable", &file, &["threshold"]);
    w.install_into(&w.plugins(), &built_library("fixture-crash"), &file, &m);
    let env = [("YAM_LOG", "info")];
    let list_and_scans = || {
        let out = w.yam(&["plugins", "list", "--json"], &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        (v["plugins"].as_array().unwrap().clone(), scans(&out))
    };

    let (list, n) = list_and_scans();
    assert_eq!(n, 1);
    expect(&list, "fixture-unavailable", "quarantined", &["SIGSEGV"]);
    let (list, n) = list_and_scans();
    assert_eq!(n, 0, "an unchanged quarantined library was rescanned");
    expect(&list, "fixture-unavailable", "quarantined", &["SIGSEGV"]);

    // Any change to the file (one byte appended here) gets it rescanned.
    let lib = w.plugins().join(&file);
    let mut bytes = std::fs::read(&lib).unwrap();
    bytes.push(0);
    std::fs::write(&lib, &bytes).unwrap();
    let (list, n) = list_and_scans();
    assert_eq!(n, 1, "a changed library was not rescanned");
    expect(&list, "fixture-unavailable", "quarantined", &["SIGSEGV"]);

    // The fixed library replaces the quarantine with its real status.
    std::fs::copy(built_library("fixture-unavailable"), &lib).unwrap();
    let (list, n) = list_and_scans();
    assert_eq!(n, 1);
    expect(
        &list,
        "fixture-unavailable",
        "unavailable",
        &[UNAVAILABLE_REASON],
    );
}

#[test]
fn scan_force_rescans_unchanged_plugins() {
    let w = World::new();
    w.install_cpu_plugin();
    w.install("fixture-crash");
    let env = [("YAM_LOG", "info")];

    let out = w.yam(&["plugins", "list"], &env);
    assert_eq!((out.code, scans(&out)), (0, 2), "{}", out.stderr);
    let cached = file_identity(&w.registry());

    let out = w.yam(&["plugins", "scan"], &env);
    assert_eq!((out.code, scans(&out)), (0, 0), "{}", out.stderr);
    assert_eq!(file_identity(&w.registry()), cached);

    let out = w.yam(&["plugins", "scan", "--force", "--json"], &env);
    assert_eq!((out.code, scans(&out)), (0, 2), "{}", out.stderr);
    assert_ne!(file_identity(&w.registry()), cached, "cache not rewritten");
    let list: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    expect(&list, "cpu-plugin", "ready", &[]);
    expect(&list, "fixture-crash", "quarantined", &["SIGSEGV"]);
}

#[test]
fn world_writable_plugin_file_or_folder_is_rejected() {
    let w = World::new();
    w.install_cpu_plugin();
    let lib = w.plugins().join("libyam_cpu_plugin.so");

    set_mode(&lib, 0o777);
    let list = w.list(&[]);
    expect(
        &list,
        "cpu-plugin",
        "rejected",
        &[&format!("{} is world-writable", lib.display())],
    );

    set_mode(&lib, 0o755);
    set_mode(&w.plugins(), 0o777);
    let list = w.list(&[]);
    expect(
        &list,
        "cpu-plugin",
        "rejected",
        &[&format!("{} is world-writable", w.plugins().display())],
    );

    set_mode(&w.plugins(), 0o755);
    expect(&w.list(&[]), "cpu-plugin", "ready", &[]);
}

#[test]
fn allowlist_admits_only_listed_digests() {
    let w = World::new();
    w.install_cpu_plugin();
    let digest = sha256_file(&w.plugins().join("libyam_cpu_plugin.so")).unwrap();
    let allow = w.home.path().join("allowlist");
    let allow_env = allow.to_str().unwrap();
    let env = [("YAM_PLUGIN_ALLOWLIST", allow_env)];

    std::fs::write(
        &allow,
        format!("# vetted plugins\n{digest}  libyam_cpu_plugin.so\n"),
    )
    .unwrap();
    expect(&w.list(&env), "cpu-plugin", "ready", &[]);

    let other = sha256_file(&built_library("fixture-unavailable")).unwrap();
    std::fs::write(&allow, format!("{other}  libfixture_unavailable.so\n")).unwrap();
    expect(
        &w.list(&env),
        "cpu-plugin",
        "rejected",
        &[&format!("SHA-256 {digest} is not in YAM_PLUGIN_ALLOWLIST")],
    );
}

#[test]
fn disable_and_select_filters_apply_to_plugin_names() {
    let w = World::new();
    w.install_cpu_plugin();
    w.install("fixture-unavailable");

    let env = [("YAM_PLUGINS_DISABLE", "cpu*"), ("YAM_LOG", "info")];
    let out = w.yam(&["plugins", "list", "--json"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // A disabled plugin's code never runs, not even to scan it.
    assert!(
        !out.stderr.contains("libyam_cpu_plugin.so"),
        "{}",
        out.stderr
    );
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    let list = list["plugins"].as_array().unwrap();
    expect(
        list,
        "cpu-plugin",
        "disabled",
        &["disabled by YAM_PLUGINS_DISABLE (cpu*)"],
    );
    expect(list, "fixture-unavailable", "unavailable", &[]);

    let list = w.list(&[("YAM_PLUGINS_SELECT", "fixture-*")]);
    expect(
        &list,
        "cpu-plugin",
        "disabled",
        &["not selected by YAM_PLUGINS_SELECT (fixture-*)"],
    );
    expect(
        &list,
        "fixture-unavailable",
        "unavailable",
        &[UNAVAILABLE_REASON],
    );

    expect(&w.list(&[]), "cpu-plugin", "ready", &[]);
}

#[test]
fn yam_plugin_path_is_searched_like_plugin_dir() {
    let w = World::new();
    w.install_cpu_plugin();
    let second = w.dir().join("more-plugins");
    std::fs::create_dir(&second).unwrap();
    set_mode(&second, 0o755);
    let file = lib_file("fixture-unavailable");
    w.install_into(
        &second,
        &built_library("fixture-unavailable"),
        &file,
        &manifest("fixture-unavailable", &file, &["threshold"]),
    );
    let path = std::env::join_paths([w.plugins(), second.clone()]).unwrap();

    let out = w.yam_without_plugin_dir(
        &["plugins", "list", "--json"],
        &[("YAM_PLUGIN_PATH", path.to_str().unwrap())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let dirs = v["search_path"].as_array().unwrap();
    assert_eq!(dirs[0]["path"], w.plugins().to_str().unwrap());
    assert_eq!(dirs[0]["origin"], "YAM_PLUGIN_PATH");
    assert_eq!(dirs[1]["path"], second.to_str().unwrap());
    assert_eq!(dirs[1]["origin"], "YAM_PLUGIN_PATH");
    let list = v["plugins"].as_array().unwrap();
    expect(list, "cpu-plugin", "ready", &[]);
    expect(
        list,
        "fixture-unavailable",
        "unavailable",
        &[UNAVAILABLE_REASON],
    );

    // Without either, nothing is found.
    let out = w.yam_without_plugin_dir(&["plugins", "list", "--json"], &[]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["plugins"], serde_json::json!([]), "{v:#}");
}

/// Runs the example pipeline with fixture-failing first and returns the threshold step's
/// report, after checking that the run succeeded with the built-in backend's output.
fn run_with_failing_plugin(env: &[(&str, &str)]) -> Value {
    let w = World::new();
    w.install("fixture-failing");
    expect(&w.list(&[]), "fixture-failing", "ready", &[]);
    let expected = w.builtin_output("reference.png");
    let out = w.yam(
        &[
            "run",
            "cells.json",
            "cells.png",
            "-o",
            "out.png",
            "--report",
            "report.json",
            "--backend",
            "fixture-failing,cpu",
        ],
        env,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        std::fs::read(w.dir().join("out.png")).unwrap() == expected,
        "the fallback's output differs from the built-in cpu backend's"
    );
    let steps = steps(&json(&w.dir().join("report.json")));
    for s in &steps {
        assert_eq!(s["backend"], "cpu", "{s:#}");
    }
    let threshold = steps.iter().find(|s| s["kernel"] == "threshold").unwrap();
    threshold.clone()
}

#[test]
fn failing_plugin_step_is_rerun_on_the_builtin_cpu_backend() {
    let step = run_with_failing_plugin(&[]);
    let why = step["fallback_reason"].as_str().unwrap_or("");
    for needle in [
        "rerun on cpu",
        "failed on fixture-failing",
        "internal error",
        FAILING_ERROR,
    ] {
        assert!(why.contains(needle), "{needle:?} not in {why:?}");
    }
}

#[test]
fn panicking_plugin_step_is_rerun_on_the_builtin_cpu_backend() {
    let step = run_with_failing_plugin(&[(FAILING_PANIC_ENV, "1")]);
    let why = step["fallback_reason"].as_str().unwrap_or("");
    for needle in ["failed on fixture-failing", "panicked", FAILING_PANIC] {
        assert!(why.contains(needle), "{needle:?} not in {why:?}");
    }
}

#[test]
fn strict_run_fails_when_a_plugin_step_fails() {
    let w = World::new();
    w.install("fixture-failing");
    let pipeline = one_step(w.dir(), "threshold.json", "threshold", r#"{"thresh": 100}"#);
    let args = |out: &'static str| {
        [
            "run",
            pipeline.as_str(),
            "cells.png",
            "-o",
            out,
            "--backend",
            "fixture-failing,cpu",
        ]
    };

    // Without --strict the same run falls back and succeeds ...
    let out = w.yam(&args("lenient.png"), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // ... with it, the plugin's failure fails the run, named.
    let mut strict = args("strict.png").to_vec();
    strict.push("--strict");
    let out = w.yam(&strict, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    for needle in ["fixture-failing", FAILING_ERROR, "--strict"] {
        assert!(
            out.stderr.contains(needle),
            "{needle:?} not in {}",
            out.stderr
        );
    }
    assert!(!w.dir().join("strict.png").exists());
}

#[test]
fn unavailable_plugin_is_passed_over_with_its_reason() {
    let w = World::new();
    w.install("fixture-unavailable");
    let expected = w.builtin_output("reference.png");
    let out = w.yam(
        &[
            "run",
            "cells.json",
            "cells.png",
            "-o",
            "out.png",
            "--report",
            "report.json",
            "--backend",
            "fixture-unavailable,cpu",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(std::fs::read(w.dir().join("out.png")).unwrap() == expected);
    let steps = steps(&json(&w.dir().join("report.json")));
    assert_eq!(steps.len(), 4);
    for s in &steps {
        assert_eq!(s["backend"], "cpu", "{s:#}");
        let why = s["fallback_reason"].as_str().unwrap_or("");
        assert!(
            why.contains("fixture-unavailable is unavailable") && why.contains(UNAVAILABLE_REASON),
            "{s:#}"
        );
    }
}

#[test]
fn doctor_checks_the_nvrtc_that_yam_nvrtc_names() {
    let w = World::new();
    let missing = w.dir().join("no-such-libnvrtc.so.12");
    let out = w.yam(
        &["doctor", "--json"],
        &[("YAM_NVRTC", missing.to_str().unwrap())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let nvrtc = v["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["runtime"] == "NVRTC")
        .unwrap()
        .clone();
    assert_eq!(nvrtc["found"], false, "{nvrtc}");
    let detail = nvrtc["detail"].as_str().unwrap();
    assert!(
        detail.contains("no-such-libnvrtc.so.12") && detail.ends_with("(YAM_NVRTC)"),
        "{detail}"
    );
}

#[test]
fn doctor_reports_runtimes_the_plugin_its_device_and_kernel_placements() {
    let w = World::new();
    w.install_cpu_plugin();
    let out = w.yam(&["doctor", "--json"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();

    let runtimes = v["runtimes"].as_array().unwrap();
    let names: Vec<&str> = runtimes
        .iter()
        .map(|r| r["runtime"].as_str().unwrap())
        .collect();
    for r in ["CUDA driver", "ROCm/HIP", "OpenCL ICD loader"] {
        assert!(names.contains(&r), "{r} not probed: {names:?}");
    }
    assert!(runtimes.iter().all(|r| r["found"].is_boolean()));

    assert_eq!(v["search_path"][0]["path"], w.plugins().to_str().unwrap());
    let plugins = v["plugins"].as_array().unwrap();
    expect(plugins, "cpu-plugin", "ready", &[]);

    let devices = v["devices"].as_array().unwrap();
    let device = devices
        .iter()
        .find(|d| d["backend"] == "cpu-plugin")
        .unwrap_or_else(|| panic!("no cpu-plugin device: {devices:#?}"));
    assert!(device["name"].as_str().unwrap().starts_with("host CPU"));

    let placements = v["kernels"].as_array().unwrap();
    for k in cpu_plugin_manifest().kernels {
        let p = placements
            .iter()
            .find(|p| p["kernel"] == k.id.as_str())
            .unwrap_or_else(|| panic!("no placement for {}", k.id));
        assert_eq!(p["backend"], "cpu-plugin", "{p}");
    }
}
