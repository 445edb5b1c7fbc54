//! `yam conformance` end to end: the real binary run on the CPU backend built as a plugin
//! (which must pass) and on the conformance mutants of `tests/fixtures/mutant-*` — the CPU
//! backend with one deliberate defect each (test doubles) — which must each fail, with check
//! ids and messages that name the defect, while the checks the defect does not touch still
//! pass. Also `--json`, `--junit`, `--expect-fail`, `--filter` and `--seed`.
//!
//! Every run uses `--quick` (the full suite adds 4096x4096 images and timings). Each test
//! installs its plugin in its own folder, with the manifest the test writes, and gets its own
//! `XDG_CACHE_HOME`.

mod common;

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{json, yam_env, Outcome};
use fixture_support::{built_library, VENDOR};
use serde_json::Value;
use yam_host::plugins::manifest::{Manifest, ManifestKernel, MANIFEST_VERSION};
use yam_plugin_api::API_VERSION;

/// One plugin installed in a private folder.
struct Installed {
    /// Holds `plugins/` (the library and its manifest), the cache and the outputs.
    dir: tempfile::TempDir,
    /// The installed library.
    library: PathBuf,
}

/// What one `yam conformance` run printed and wrote.
struct Run {
    out: Outcome,
    /// The `--json` report.
    report: Value,
}

impl Run {
    fn checks(&self) -> &[Value] {
        self.report["checks"].as_array().expect("checks is a list")
    }

    /// Checks whose id starts with `prefix`.
    fn with_prefix(&self, prefix: &str) -> Vec<&Value> {
        self.checks()
            .iter()
            .filter(|c| id(c).starts_with(prefix))
            .collect()
    }

    /// Checks that failed (unexpectedly).
    fn failures(&self) -> Vec<&Value> {
        self.with_verdict("fail")
    }

    fn with_verdict(&self, verdict: &str) -> Vec<&Value> {
        self.checks()
            .iter()
            .filter(|c| c["verdict"] == verdict)
            .collect()
    }

    /// Asserts that there are checks starting with each of `prefixes` and that they all pass.
    fn assert_pass(&self, prefixes: &[&str]) {
        for prefix in prefixes {
            let checks = self.with_prefix(prefix);
            assert!(
                !checks.is_empty(),
                "no {prefix} checks ran\n{}",
                self.out.stdout
            );
            for c in checks {
                assert_eq!(c["verdict"], "pass", "{prefix} should pass: {c}");
            }
        }
    }
}

fn id(check: &Value) -> &str {
    check["id"].as_str().expect("every check has an id")
}

fn message(check: &Value) -> &str {
    check["message"].as_str().unwrap_or("")
}

/// `mutant-blur-border` → `libmutant_blur_border.so`.
fn lib_file(crate_name: &str) -> String {
    format!("lib{}.so", crate_name.replace('-', "_"))
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Copies the library cargo built for `crate_name` into a fresh plugin folder, with
/// `manifest` beside it.
fn install(crate_name: &str, manifest: &Manifest) -> Installed {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    set_mode(&plugins, 0o755);
    let library = plugins.join(&manifest.library);
    std::fs::copy(built_library(crate_name), &library).unwrap();
    set_mode(&library, 0o755);
    let m = plugins.join(format!("{}.json", manifest.name));
    std::fs::write(&m, serde_json::to_string_pretty(manifest).unwrap()).unwrap();
    set_mode(&m, 0o644);
    Installed { dir, library }
}

/// Installs mutant `name` with a manifest declaring what it declares (`mutants-support`'s
/// kernels, as the CPU backend declares them), deterministic.
fn install_mutant(name: &str) -> Installed {
    let kernels = mutants_support::declared_kernels()
        .into_iter()
        .map(|k| ManifestKernel {
            id: k.id.into(),
            dtypes: k.dtypes.to_vec(),
            channels: k.channels.to_vec(),
            max_pixels: k.max_pixels,
            supports_inplace: k.supports_inplace,
            schema_version: k.schema_version,
        })
        .collect();
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        name: name.into(),
        version: "0.1.0".into(),
        library: lib_file(name),
        api_version: API_VERSION.into(),
        backend: "cpu".into(),
        vendor: VENDOR.into(),
        deterministic: true,
        kernels,
    };
    install(name, &manifest)
}

/// Installs the CPU backend plugin with its shipped manifest.
fn install_cpu_plugin() -> Installed {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/cpu-plugin/cpu-plugin.json");
    install("yam-cpu-plugin", &Manifest::load(&path).unwrap())
}

impl Installed {
    /// Runs `yam conformance <library> --quick --json report.json args` in the plugin's folder.
    fn conformance(&self, args: &[&str]) -> Run {
        let dir = self.dir.path();
        let report = dir.join("report.json");
        let _ = std::fs::remove_file(&report);
        let mut all = vec![
            "conformance",
            self.library.to_str().unwrap(),
            "--quick",
            "--json",
            report.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let out = self.yam(&all);
        assert!(
            report.is_file(),
            "no report written (exit {}): {}",
            out.code,
            out.stderr
        );
        Run {
            report: json(&report),
            out,
        }
    }

    /// Runs `yam args` in the plugin's folder with a private cache.
    fn yam(&self, args: &[&str]) -> Outcome {
        let home = self.dir.path();
        let vars: Vec<(&str, OsString)> = vec![
            ("XDG_CACHE_HOME", home.join("cache").into_os_string()),
            ("XDG_DATA_HOME", home.join("data").into_os_string()),
        ];
        let refs: Vec<(&str, &OsStr)> = vars.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        yam_env(home, args, &refs)
    }

    /// Writes `text` to `name` in the plugin's (scratch) folder; returns its path.
    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }
}

/// `WxH` of a correctness check id (`correctness/<kernel>/<dtype>/c<N>/<W>x<H>/<params>`).
fn size_of(check_id: &str) -> (usize, usize) {
    let part = check_id
        .split('/')
        .nth(4)
        .expect("correctness ids have a size");
    let (w, h) = part.split_once('x').expect("WxH");
    (w.parse().unwrap(), h.parse().unwrap())
}

#[test]
fn cpu_plugin_passes_with_json_and_junit_reports() {
    let p = install_cpu_plugin();
    let junit = p.dir.path().join("junit.xml");
    let run = p.conformance(&["--junit", junit.to_str().unwrap()]);
    let failures: Vec<String> = run
        .failures()
        .iter()
        .take(10)
        .map(|c| format!("{}: {}", id(c), message(c)))
        .collect();
    assert_eq!(
        run.out.code,
        0,
        "the CPU backend must pass its own conformance suite; first failures:\n{}\n{}",
        failures.join("\n"),
        run.out.stderr
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(run.report["plugin"], "cpu-plugin");
    let checks = run.checks().len();
    assert!(checks > 1000, "only {checks} checks ran");
    for group in [
        "packaging/",
        "declared/",
        "correctness/",
        "device/",
        "errors/",
        "robustness/",
    ] {
        assert!(!run.with_prefix(group).is_empty(), "no {group} checks");
    }
    assert!(
        run.out
            .stdout
            .contains(&format!("{checks} passed, 0 failed")),
        "{}",
        run.out.stdout
    );

    // JUnit: well formed enough for CI, one test case per check, nothing failed.
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml:.200}");
    assert!(xml.trim_end().ends_with("</testsuites>"));
    let root = xml.lines().nth(1).unwrap();
    assert!(root.starts_with("<testsuites "), "{root}");
    assert!(root.contains(&format!("tests=\"{checks}\"")), "{root}");
    assert!(root.contains("failures=\"0\""), "{root}");
    assert_eq!(xml.matches("<testcase ").count(), checks);
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
    assert!(!xml.contains("<failure"));
}

#[test]
fn blur_off_by_one_at_the_right_border_fails_gaussian_blur_naming_the_last_column() {
    let run = install_mutant("mutant-blur-border").conformance(&[]);
    assert_eq!(run.out.code, 1, "{}", run.out.stdout);
    assert!(run.out.stdout.contains("  FAIL correctness gaussian_blur"));

    let blur = run.with_prefix("correctness/gaussian_blur/");
    let failed: Vec<_> = blur.iter().filter(|c| c["verdict"] == "fail").collect();
    assert!(
        failed.len() > blur.len() / 2,
        "{} of {}",
        failed.len(),
        blur.len()
    );
    for c in &failed {
        // The first wrong pixel is the last of the first row, with both values given.
        let (w, _) = size_of(id(c));
        let m = message(c);
        assert!(
            m.contains(&format!("first at x={} y=0 ", w - 1))
                && m.contains("expected ")
                && m.contains(", got "),
            "{}: {m}",
            id(c)
        );
    }
    // Integer outputs are exact, so every u8 and u16 case sees the extra 1. (f32 cases whose
    // constant border is ±3.4e38 do not: 1 is below the precision of values that large.)
    for c in &blur {
        if id(c).contains("/u8/") || id(c).contains("/u16/") {
            assert_eq!(c["verdict"], "fail", "{c}");
        }
    }
    // The thread check compares with the reference within tolerance, and says where it differs.
    let threads = run
        .with_prefix("robustness/threads/gaussian_blur")
        .pop()
        .unwrap();
    assert_eq!(threads["verdict"], "fail");
    assert!(message(threads).contains("first at x=60 y=0"), "{threads}");
    // Nothing else is wrong with it.
    for c in run.failures() {
        assert!(id(c).contains("gaussian_blur"), "unrelated failure: {c}");
    }
    run.assert_pass(&[
        "packaging/",
        "declared/",
        "correctness/threshold/",
        "correctness/erode/",
        "device/strided/threshold",
        "device/strided/erode",
        "errors/",
        "robustness/determinism/",
        "robustness/memory",
    ]);
}

#[test]
fn threshold_with_ge_fails_threshold_only() {
    let run = install_mutant("mutant-threshold-ge").conformance(&[]);
    assert_eq!(run.out.code, 1, "{}", run.out.stdout);
    let failed: Vec<_> = run
        .with_prefix("correctness/threshold/")
        .into_iter()
        .filter(|c| c["verdict"] == "fail")
        .collect();
    assert!(!failed.is_empty());
    // A 61x47 u8 image has pixels equal to the default threshold (127): they became 255.
    let defaults = run
        .with_prefix("correctness/threshold/u8/c1/61x47/defaults")
        .pop()
        .unwrap();
    assert_eq!(defaults["verdict"], "fail");
    assert!(
        message(defaults).contains("expected 0, got 255"),
        "{defaults}"
    );
    for c in run.failures() {
        assert!(id(c).contains("threshold"), "unrelated failure: {c}");
    }
    run.assert_pass(&[
        "packaging/",
        "declared/",
        "correctness/gaussian_blur/",
        "correctness/erode/",
        "errors/",
        "robustness/",
    ]);
}

#[test]
fn ignoring_the_row_stride_fails_the_padded_row_checks_only() {
    let run = install_mutant("mutant-ignores-stride").conformance(&[]);
    assert_eq!(run.out.code, 1, "{}", run.out.stdout);
    let mut failed: Vec<&str> = run.failures().into_iter().map(id).collect();
    failed.sort_unstable();
    assert_eq!(
        failed,
        [
            "device/strided/erode",
            "device/strided/gaussian_blur",
            "device/strided/threshold"
        ]
    );
    for c in run.failures() {
        assert!(message(c).starts_with("padded rows: "), "{c}");
    }
    // Packed buffers are read right: every correctness case passes.
    run.assert_pass(&[
        "packaging/",
        "declared/",
        "correctness/",
        "device/segment/",
        "device/inplace/",
        "errors/",
        "robustness/",
    ]);
}

#[test]
fn writing_outside_the_output_view_is_caught_by_the_canary() {
    let run = install_mutant("mutant-writes-past-end").conformance(&[]);
    assert_eq!(run.out.code, 1, "{}", run.out.stdout);
    let failed = run.failures();
    assert_eq!(failed.len(), 3, "{failed:#?}");
    for c in failed {
        assert!(id(c).starts_with("device/strided/"), "{c}");
        let m = message(c);
        assert!(m.contains("wrote outside its output"), "{m}");
        assert!(m.contains("offset 64 bytes"), "{m}");
    }
    run.assert_pass(&[
        "packaging/",
        "correctness/",
        "device/inplace/",
        "errors/",
        "robustness/",
    ]);
}

#[test]
fn execute_that_never_writes_its_output_fails_every_correctness_case() {
    let run = install_mutant("mutant-no-write").conformance(&[]);
    assert_eq!(run.out.code, 1);
    let correctness = run.with_prefix("correctness/");
    assert!(correctness.len() > 1000);
    for c in correctness {
        // Except Otsu on f32, which both backends reject: there is no output to miss.
        if id(c).starts_with("correctness/threshold/f32/") && id(c).ends_with("/otsu=true") {
            assert_eq!(c["verdict"], "pass", "{c}");
            continue;
        }
        assert_eq!(c["verdict"], "fail", "{c}");
        assert!(message(c).contains("values out of tolerance"), "{c}");
    }
    // It still validates its calls and manages its buffers.
    run.assert_pass(&[
        "packaging/",
        "declared/",
        "errors/",
        "robustness/memory",
        "robustness/determinism/",
    ]);
}

#[test]
fn nondeterministic_plugin_declared_deterministic_fails_the_determinism_checks() {
    let run = install_mutant("mutant-nondeterministic").conformance(&[]);
    assert_eq!(run.out.code, 1);
    let determinism = run.with_prefix("robustness/determinism/");
    assert_eq!(determinism.len(), 3, "one per declared kernel");
    for c in determinism {
        assert_eq!(c["verdict"], "fail", "{c}");
        assert!(
            message(c).contains("two runs on the same input differ"),
            "{c}"
        );
    }
    run.assert_pass(&["packaging/", "declared/", "errors/", "robustness/memory"]);
}

#[test]
fn expected_failures_turn_a_known_defect_into_a_pass() {
    let p = install_mutant("mutant-blur-border");
    let before = p.conformance(&[]);
    let known = before.failures().len();

    // Only the correctness cases listed: the device and thread checks of the kernel still fail.
    let partial = p.write(
        "partial.json",
        r#"[{"check": "correctness/gaussian_blur/*", "reason": "right border off by one (BUG-17)"}]"#,
    );
    let run = p.conformance(&["--expect-fail", &partial]);
    assert_eq!(run.out.code, 1);
    for c in run.failures() {
        assert!(!id(c).starts_with("correctness/"), "{c}");
    }

    let all = p.write(
        "all.json",
        r#"[
  {"check": "correctness/gaussian_blur/*", "reason": "right border off by one (BUG-17)"},
  {"check": "device/*/gaussian_blur", "reason": "same bug (BUG-17)"},
  {"check": "robustness/threads/gaussian_blur", "reason": "same bug (BUG-17)"}
]"#,
    );
    let run = p.conformance(&["--expect-fail", &all]);
    assert_eq!(run.out.code, 0, "{}", run.out.stdout);
    assert!(run.failures().is_empty());
    let xfail = run.with_verdict("xfail");
    assert_eq!(xfail.len(), known);
    for c in &xfail {
        assert!(message(c).contains("[expected: "), "{c}");
    }
    let c = run
        .with_prefix("correctness/gaussian_blur/u8/c1/61x47/defaults")
        .pop()
        .unwrap();
    assert_eq!(c["verdict"], "xfail");
    assert!(message(c).contains("x=60") && message(c).contains("right border off by one (BUG-17)"));
    // Listed checks that pass anyway are reported, and do not fail the run.
    for c in run.with_verdict("xpass") {
        assert!(message(c).contains("expected to fail"), "{c}");
    }
    assert!(
        run.out
            .stdout
            .contains(&format!(", {known} expected failures")),
        "{}",
        run.out.stdout
    );
    assert!(run.out.stdout.contains("0 failed"));
}

#[test]
fn malformed_expect_fail_file_is_a_usage_error_naming_it() {
    let p = install_mutant("mutant-blur-border");
    let lib = p.library.to_str().unwrap();
    for (name, text) in [
        ("not-json.json", "correctness/gaussian_blur/*\n"),
        ("no-reason.json", r#"[{"check": "correctness/*"}]"#),
        (
            "object.json",
            r#"{"check": "correctness/*", "reason": "x"}"#,
        ),
    ] {
        let file = p.write(name, text);
        let out = p.yam(&["conformance", lib, "--quick", "--expect-fail", &file]);
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert!(out.stderr.contains(&file), "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains(r#"expected [{"check""#),
            "{}",
            out.stderr
        );
    }
    let missing = p.dir.path().join("missing.json");
    let out = p.yam(&[
        "conformance",
        lib,
        "--quick",
        "--expect-fail",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(missing.to_str().unwrap()),
        "{}",
        out.stderr
    );
}

#[test]
fn filter_runs_only_the_matching_kernels() {
    // The blur defect is not even exercised: the run passes.
    let run = install_mutant("mutant-blur-border").conformance(&["--filter", "threshold"]);
    assert_eq!(run.out.code, 0, "{}", run.out.stdout);
    let with_kernel: Vec<_> = run
        .checks()
        .iter()
        .filter(|c| !c["kernel"].is_null())
        .collect();
    assert!(!with_kernel.is_empty());
    for c in with_kernel {
        assert_eq!(c["kernel"], "threshold", "{c}");
        assert!(id(c).contains("threshold"), "{c}");
    }
    let correctness = run.with_prefix("correctness/");
    assert!(!correctness.is_empty());
    for c in correctness {
        assert!(id(c).starts_with("correctness/threshold/"), "{c}");
    }
}

#[test]
fn seed_is_printed_and_the_same_seed_gives_the_same_checks() {
    let p = install_mutant("mutant-blur-border");
    let args = ["--filter", "gaussian_blur", "--seed", "4242"];
    let a = p.conformance(&args);
    let b = p.conformance(&args);
    assert_eq!(a.out.code, 1);
    assert!(
        a.out.stdout.contains("seed: 4242 (rerun with --seed 4242)"),
        "{}",
        a.out.stdout
    );
    assert!(a.out.stderr.contains("(seed 4242)"), "{}", a.out.stderr);
    assert_eq!(a.report["seed"], 4242);
    assert_eq!(a.report["checks"], b.report["checks"]);
    // The inputs do depend on the seed: the failing values differ with another one.
    let c = p.conformance(&["--filter", "gaussian_blur", "--seed", "4243"]);
    let ids = |r: &Run| {
        r.checks()
            .iter()
            .map(|c| id(c).to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a), ids(&c));
    assert_ne!(a.report["checks"], c.report["checks"]);
}
