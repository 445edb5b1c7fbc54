//! `yam conformance`: the suite a backend must pass before it ships.
//!
//! Groups: packaging (manifest, library, ABI), declared (library vs manifest), correctness
//! (every declared kernel × dtype × channels × parameter extremes × sizes against the built-in
//! CPU backend, within KERNELS.md's tolerances), device (segments without downloads, in place,
//! padded rows, no writes outside the output), errors (bad calls return errors), robustness
//! (threads, memory, determinism) and performance (informational).

pub mod cases;
pub mod compare;
mod device;
pub mod exec;
pub mod output;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use yam_plugin_api::{kernel, ErrorKind, KernelSpec, ParamSet};

use crate::{
    abi::DeclaredKernel,
    backends::{Backend, Source},
    plugins::{
        manifest::Manifest,
        registry::check_against_manifest,
        scan::{load_module, scan_in_child, ScanOutcome},
        search::glob_match,
    },
};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Passed.
    Pass,
    /// Failed.
    Fail,
    /// Failed, as the expect-fail list says it will.
    Xfail,
    /// Passed although the expect-fail list says it fails.
    Xpass,
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `group/kernel/...`, stable across runs.
    pub id: String,
    /// Group name.
    pub group: &'static str,
    /// Kernel, when the check is about one.
    pub kernel: Option<String>,
    /// Verdict.
    pub verdict: Verdict,
    /// What failed (or the expected-failure reason).
    pub message: Option<String>,
}

/// One performance row (informational).
#[derive(Debug, Clone, Serialize)]
pub struct PerfRow {
    /// Kernel.
    pub kernel: String,
    /// Input.
    pub input: String,
    /// Median time on the plugin, ms (upload, kernel, download).
    pub plugin_ms: f64,
    /// Median time on the built-in CPU backend, ms.
    pub cpu_ms: f64,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    /// Plugin name.
    pub plugin: String,
    /// Library path.
    pub library: PathBuf,
    /// Device the plugin ran on.
    pub device: Option<String>,
    /// Seed of every generated input.
    pub seed: u64,
    /// Every check.
    pub checks: Vec<Check>,
    /// Timings.
    pub performance: Vec<PerfRow>,
}

impl SuiteReport {
    /// Number of checks with `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|c| c.verdict == verdict).count()
    }

    /// True when nothing failed unexpectedly.
    pub fn passed(&self) -> bool {
        self.count(Verdict::Fail) == 0
    }
}

/// A known failure a vendor is still working on.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ExpectedFailure {
    /// Glob over check ids (`correctness/gaussian_blur/f32/*`).
    pub check: String,
    /// Why it fails.
    pub reason: String,
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seed for the inputs.
    pub seed: u64,
    /// Only kernels matching this glob.
    pub filter: Option<String>,
    /// Skip the 4096×4096 cases and performance.
    pub quick: bool,
    /// Known failures.
    pub expect_fail: Vec<ExpectedFailure>,
}

/// The plugin under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its manifest file.
    pub manifest_path: PathBuf,
    /// The library.
    pub library: PathBuf,
}

/// Finds the manifest of `library` among the JSON files in its folder.
pub fn target_for_library(library: &Path) -> Result<Target, String> {
    let library = library
        .canonicalize()
        .map_err(|e| format!("{}: {e}", library.display()))?;
    let dir = library.parent().unwrap_or(Path::new("/"));
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.extension().is_some_and(|e| e == "json") {
            if let Ok(m) = Manifest::load(&path) {
                if m.library_path(&path).canonicalize().ok().as_deref() == Some(library.as_path()) {
                    return Ok(Target {
                        manifest_path: path,
                        library,
                    });
                }
            }
        }
    }
    Err(format!(
        "{}: no manifest in {} names this library (a plugin ships a JSON manifest beside it)",
        library.display(),
        dir.display()
    ))
}

struct Suite {
    opts: Options,
    checks: Vec<Check>,
}

impl Suite {
    fn record(
        &mut self,
        group: &'static str,
        kernel: Option<&str>,
        id: String,
        failure: Option<String>,
    ) {
        let expected = self
            .opts
            .expect_fail
            .iter()
            .find(|e| glob_match(&e.check, &id));
        let (verdict, message) = match (failure, expected) {
            (None, None) => (Verdict::Pass, None),
            (None, Some(e)) => (
                Verdict::Xpass,
                Some(format!("expected to fail ({}) but passed", e.reason)),
            ),
            (Some(m), None) => (Verdict::Fail, Some(m)),
            (Some(m), Some(e)) => (
                Verdict::Xfail,
                Some(format!("{m} [expected: {}]", e.reason)),
            ),
        };
        self.checks.push(Check {
            id,
            group,
            kernel: kernel.map(String::from),
            verdict,
            message,
        });
    }

    fn wants(&self, kernel: &str) -> bool {
        self.opts
            .filter
            .as_deref()
            .is_none_or(|f| glob_match(f, kernel))
    }
}

/// Runs the suite. `progress` receives one line per finished stage.
pub fn run(target: &Target, opts: Options, progress: &mut dyn FnMut(&str)) -> SuiteReport {
    let mut suite = Suite {
        opts,
        checks: Vec::new(),
    };
    let report =
        |suite: Suite, name: String, device: Option<String>, perf: Vec<PerfRow>| SuiteReport {
            plugin: name,
            library: target.library.clone(),
            device,
            seed: suite.opts.seed,
            checks: suite.checks,
            performance: perf,
        };

    // Packaging.
    let manifest = Manifest::load(&target.manifest_path);
    let name = manifest
        .as_ref()
        .map_or_else(|_| target.library.display().to_string(), |m| m.name.clone());
    suite.record(
        "packaging",
        None,
        "packaging/manifest".into(),
        manifest.as_ref().err().map(|e| e.to_string()),
    );
    let Ok(manifest) = manifest else {
        return report(suite, name, None, Vec::new());
    };
    let lib_ok = target.library.is_file();
    suite.record(
        "packaging",
        None,
        "packaging/library".into(),
        (!lib_ok).then(|| format!("library {} not found", target.library.display())),
    );
    suite.record(
        "packaging",
        None,
        "packaging/api_version".into(),
        crate::plugins::scan::api_compatible(&manifest.api_version, yam_plugin_api::API_VERSION)
            .err(),
    );
    // Load in a child first: a crash there must not take the suite down.
    let scanned = scan_in_child(&target.library, std::time::Duration::from_secs(30));
    let facts = match scanned {
        ScanOutcome::Scanned(f) => {
            suite.record("packaging", None, "packaging/abi".into(), None);
            *f
        }
        ScanOutcome::Rejected { reason }
        | ScanOutcome::Unavailable { reason }
        | ScanOutcome::Quarantined { reason } => {
            suite.record("packaging", None, "packaging/abi".into(), Some(reason));
            return report(suite, name, None, Vec::new());
        }
    };
    progress("packaging checked");

    // Declared vs actual.
    suite.record(
        "declared",
        None,
        "declared/kernels".into(),
        check_against_manifest(&manifest, &facts).err(),
    );
    if let Some(reason) = &facts.unavailable {
        suite.record(
            "packaging",
            None,
            "packaging/device".into(),
            Some(format!("no device to test on: {reason}")),
        );
        return report(suite, name, None, Vec::new());
    }
    let plugin = match load_module(&target.library)
        .map_err(|o| format!("{o:?}"))
        .and_then(|m| Backend::from_module(m, Source::Plugin(target.library.clone())))
    {
        Ok(b) => b,
        Err(e) => {
            suite.record("packaging", None, "packaging/load".into(), Some(e));
            return report(suite, name, None, Vec::new());
        }
    };
    let reference = Backend::builtin_cpu();
    let device = plugin.first_device().map(|d| d.name.clone());
    let mut kernels: Vec<(&'static KernelSpec, DeclaredKernel)> = Vec::new();
    for d in &plugin.facts.kernels {
        match kernel(&d.id) {
            Some(spec) if suite.wants(spec.id) => kernels.push((spec, d.clone())),
            Some(_) => {}
            None => suite.record(
                "declared",
                Some(&d.id),
                format!("declared/{}", d.id),
                Some("not a catalogue kernel".into()),
            ),
        }
    }
    let (mut pex, mut rex) = match (
        plugin.create_executor(plugin.first_device().map_or(0, |d| d.index)),
        reference.create_executor(0),
    ) {
        (Ok(p), Ok(r)) => (p, r),
        (Err(e), _) => {
            suite.record(
                "packaging",
                None,
                "packaging/executor".into(),
                Some(format!("create_executor failed: {e}")),
            );
            return report(suite, name, device, Vec::new());
        }
        (_, Err(e)) => panic!("the built-in cpu backend failed to create an executor: {e}"),
    };

    // Correctness.
    for (spec, declared) in &kernels {
        if reference.kernel(spec.id).is_none() {
            suite.record("correctness", Some(spec.id), format!("correctness/{}", spec.id), Some("the reference CPU backend does not implement this kernel yet, so it cannot be checked".into()));
            continue;
        }
        let t = Instant::now();
        let all = cases::cases(spec, declared, suite.opts.quick);
        let mut failed = 0;
        for case in &all {
            let failure = correctness_case(&mut pex, &mut rex, spec, case, suite.opts.seed);
            failed += usize::from(failure.is_some());
            suite.record(
                "correctness",
                Some(spec.id),
                format!("correctness/{}", case.id),
                failure,
            );
        }
        progress(&format!(
            "correctness {:<22} {:>5} cases, {failed} failed ({:.1} s)",
            spec.id,
            all.len(),
            t.elapsed().as_secs_f64()
        ));
    }

    device::device_checks(&mut suite, &mut pex, &mut rex, &kernels);
    progress("device-resident semantics checked");
    device::error_checks(&mut suite, &mut pex, &plugin, &kernels);
    progress("error paths checked");
    device::robustness_checks(
        &mut suite,
        &plugin,
        &mut pex,
        &mut rex,
        &kernels,
        manifest.deterministic,
    );
    progress("robustness checked");
    let perf = if suite.opts.quick {
        Vec::new()
    } else {
        device::performance(&mut pex, &mut rex, &kernels)
    };
    report(suite, name, device, perf)
}

/// Runs one case on both backends; `Some(message)` when the plugin is wrong.
fn correctness_case(
    pex: &mut yam_plugin_api::ExecutorBox,
    rex: &mut yam_plugin_api::ExecutorBox,
    spec: &KernelSpec,
    case: &cases::Case,
    seed: u64,
) -> Option<String> {
    let params: ParamSet = case.params(spec)?;
    let input = cases::input(
        case.kernel,
        case.dtype,
        case.width,
        case.height,
        case.channels,
        cases::case_seed(seed, &case.id),
    );
    let expected = exec::run_once(rex, spec, &params, &input);
    let actual = exec::run_once(pex, spec, &params, &input);
    match (expected, actual) {
        (Err(e), Err(_)) if e.kind() == ErrorKind::InvalidArgument => None,
        (Err(e), Ok(_)) if e.kind() == ErrorKind::InvalidArgument => {
            Some(format!("accepted parameters the reference rejects ({e})"))
        }
        (Err(e), _) => Some(format!(
            "the reference CPU backend failed on this case: {e}"
        )),
        (Ok(_), Err(e)) => Some(format!("returned an error: {e}")),
        (Ok(exp), Ok(act)) => {
            let image = match (&exp.image, &act.image) {
                (Some(e), Some(a)) => compare::compare_images(
                    e,
                    a,
                    yam_plugin_api::catalogue::tolerance(spec.id, e.dtype()),
                ),
                (None, None) => None,
                _ => {
                    Some("produced an image where none was expected, or none where one was".into())
                }
            };
            image.or_else(|| {
                compare::compare_info(
                    &serde_json::Value::Object(exp.info),
                    &serde_json::Value::Object(act.info),
                    "info",
                )
            })
        }
    }
}
