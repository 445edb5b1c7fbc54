//! `yam conformance`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use super::{PluginArgs, EXIT_RUN_FAILURE};
use crate::{
    conformance::{self, output, ExpectedFailure, Options, Target},
    imageio::write_json_atomic,
};

pub const LONG_ABOUT: &str = "\
Run the conformance suite on a backend plugin: a definitive, reproducible verdict on whether it \
is fit to ship.

  yam conformance target/release/libyam_cpu_plugin.so
  yam conformance cuda --json report.json --junit junit.xml
  yam conformance ./libmy_backend.so --filter 'gaussian*' --seed 42

Checks: packaging (manifest, library, api version, ABI layout), declared vs actual kernels, \
correctness of every declared kernel x dtype x channels x parameter extremes x sizes (1x1, 1xN, \
Nx1, odd, 17x1031, 4096x4096) against the built-in CPU backend within KERNELS.md's tolerances, \
device-resident segments, in-place and padded-row buffers (with a canary around the output), \
error paths (bad parameters, wrong sizes, 0x0 images, double free, undeclared kernels), threads, \
memory accounting, determinism, and (informational) speed against the CPU backend.

Exit code 0 only when every check passes (expected failures listed in --expect-fail excepted).";

/// Options of `yam conformance`.
#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// The plugin: a library path (its manifest must sit beside it) or an installed plugin's name.
    plugin: String,
    /// Seed of the generated inputs (printed on every run; default: a fixed seed).
    #[arg(long, default_value_t = 20_261_126)]
    seed: u64,
    /// Only kernels matching this glob (e.g. 'gaussian*').
    #[arg(long)]
    filter: Option<String>,
    /// Skip the 4096x4096 cases and the performance table.
    #[arg(long)]
    quick: bool,
    /// Write the full results as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write JUnit XML for CI.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// JSON list of known failures: [{"check": "<glob over check ids>", "reason": "..."}].
    #[arg(long, value_name = "FILE")]
    expect_fail: Option<PathBuf>,
    #[command(flatten)]
    plugins: PluginArgs,
}

pub fn run(args: ConformanceArgs) -> anyhow::Result<u8> {
    let path = PathBuf::from(&args.plugin);
    let target = if path.is_file() {
        conformance::target_for_library(&path).map_err(anyhow::Error::msg)?
    } else {
        let d = args.plugins.discover(false);
        let Some(p) = d.plugins.iter().find(|p| p.name == args.plugin) else {
            bail!(
                "{}: neither a library file nor an installed plugin (see `yam plugins list`)",
                args.plugin
            );
        };
        let Some(library) = p.library.clone() else {
            bail!(
                "plugin {}: its manifest names no usable library: {}",
                p.name,
                p.reason.as_deref().unwrap_or("")
            );
        };
        Target {
            manifest_path: p.manifest.clone(),
            library,
        }
    };
    let expect_fail: Vec<ExpectedFailure> = match &args.expect_fail {
        None => Vec::new(),
        Some(f) => {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
            serde_json::from_str(&text).with_context(|| {
                format!(
                    "{}: expected [{{\"check\": \"<glob>\", \"reason\": \"...\"}}]",
                    f.display()
                )
            })?
        }
    };
    eprintln!(
        "yam conformance: {} (seed {})",
        target.library.display(),
        args.seed
    );
    let opts = Options {
        seed: args.seed,
        filter: args.filter,
        quick: args.quick,
        expect_fail,
    };
    let report = conformance::run(&target, opts, &mut |line| eprintln!("  {line}"));
    print!("{}", output::summary(&report));
    if let Some(f) = &args.json {
        write_json_atomic(f, &serde_json::to_value(&report)?)?;
    }
    if let Some(f) = &args.junit {
        std::fs::write(f, output::junit(&report))
            .with_context(|| format!("writing {}", f.display()))?;
    }
    Ok(if report.passed() { 0 } else { EXIT_RUN_FAILURE })
}
