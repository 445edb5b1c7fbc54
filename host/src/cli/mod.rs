//! The `yam` command line.

mod bench;
mod conformance;
mod doctor;
mod list;
mod plugins;
mod run;

use std::process::ExitCode;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::plugins::{
    registry::{discover, DiscoverOptions, Discovery},
    Available,
};

/// Exit code of a run failure (a kernel failed, or a fallback under --strict).
pub const EXIT_RUN_FAILURE: u8 = 1;
/// Exit code of a usage or input error (bad arguments, pipeline, parameters or image).
pub const EXIT_USAGE: u8 = 2;

const ABOUT: &str = "Run image-processing pipelines on the best backend available.";

const LONG_ABOUT: &str = "\
yam runs image pipelines (preprocessing -> segmentation -> analysis) and sends each step to the \
best backend it finds: a GPU plugin when one is installed and can run the step, otherwise the \
built-in CPU backend, which reproduces OpenCV's results. Every fallback is reported with its \
reason; --strict makes a fallback an error.

Exit codes: 0 success, 1 run failure, 2 usage or input error.
Logging: set YAM_LOG (error, warn, info, debug, trace; default warn).";

/// The yam command line.
#[derive(Debug, Parser)]
#[command(name = "yam", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline on one image, several images, or a folder of images.
    #[command(long_about = run::LONG_ABOUT)]
    Run(run::RunArgs),
    /// List the kernel catalogue: ids, parameters (type, range, default), dtypes, channels.
    Kernels(list::KernelsArgs),
    /// List modules by stage with their capabilities and kernels.
    Modules(list::ListArgs),
    /// Installed backend plugins: list, inspect, rescan.
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
    /// Time a kernel or a pipeline in-process, next to a memory copy of the same image.
    #[command(long_about = bench::LONG_ABOUT)]
    Bench(bench::BenchArgs),
    /// Run the conformance suite on a backend plugin (what a vendor runs before shipping).
    #[command(long_about = conformance::LONG_ABOUT)]
    Conformance(conformance::ConformanceArgs),
    /// Explain this machine: runtimes, plugins, devices, and where each kernel would run.
    Doctor {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Internal: scan one plugin library and print the result (used in a child process).
    #[command(name = "__scan", hide = true)]
    Scan {
        /// The library.
        library: PathBuf,
    },
}

/// Where to look for plugins, besides the standard search path.
#[derive(Debug, Clone, Args)]
pub struct PluginArgs {
    /// Also look for plugins here (searched first; repeatable). See also YAM_PLUGIN_PATH.
    #[arg(long = "plugin-dir", value_name = "DIR")]
    plugin_dirs: Vec<PathBuf>,
}

impl PluginArgs {
    fn discover(&self, force_rescan: bool) -> Discovery {
        discover(&DiscoverOptions {
            plugin_dirs: self.plugin_dirs.clone(),
            force_rescan,
        })
    }

    fn gather(&self) -> Available {
        Available::gather(&DiscoverOptions {
            plugin_dirs: self.plugin_dirs.clone(),
            force_rescan: false,
        })
    }
}

/// Parses the command line, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    init_logging();
    // A YAM_CPU_ISA the CPU backend cannot honour is worth a warning, not silence.
    let isa = yam_cpu::isa::selection();
    if let (true, Some(note)) = (isa.fallback, &isa.note) {
        tracing::warn!("{note}");
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Kernels(args) => list::kernels(&args),
        Command::Modules(args) => list::modules(&args),
        Command::Plugins(cmd) => plugins::run(cmd),
        Command::Conformance(args) => conformance::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Doctor { json, plugins } => doctor::run(&plugins, json),
        Command::Scan { library } => Ok(crate::plugins::scan::scanner_main(&library)),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("YAM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
