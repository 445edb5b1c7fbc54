//! `yam run`: a pipeline over one image, several images, or a folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::Value;
use yam_plugin_api::{BackendKind, Image};

use super::{EXIT_RUN_FAILURE, EXIT_USAGE};
use crate::{
    backends::{Backend, Source},
    imageio::{self, DecodeLimits, ImageFormat},
    pipeline::PipelineManager,
    plugins::Available,
    report::{ImageReport, RunReport},
    run::{Engine, RunError},
    validate::{validate, ValidStep},
};

pub const LONG_ABOUT: &str = "\
Run a pipeline on one image, several images, or a folder of images.

  yam run examples/cells.json examples/cells.png -o out.png --report report.json
  yam run pipeline.json a.png b.tif -o results/
  yam run pipeline.json images/ -o results/ --format npy

Formats: PNG (u8/u16), TIFF (u8/u16/f32), JPEG (read only) and NPY (any dtype, exact). Analysis \
steps (histogram, region_props) write their JSON next to the output image as \
<output stem>.<step>.json, and into the report.

With one input, -o names the output file (or an existing folder). With several inputs or a \
folder, -o names a folder (created if missing) and outputs keep the input's file stem. A \
failing image does not stop the others; outputs are written atomically (never partial).";

/// Options of `yam run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Pipeline file: {"steps": [{"name", "enabled", "params", "execution"}]}.
    pipeline: PathBuf,
    /// Input images (PNG, TIFF, JPEG, NPY) or folders of them.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output file (one input) or folder (several inputs or a folder).
    #[arg(short, long)]
    output: PathBuf,
    /// Write the JSON run report here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Output format when -o is a folder (default: the input's format).
    #[arg(long, value_parser = ["png", "tiff", "npy"])]
    format: Option<String>,
    /// Backend preference order, comma separated (e.g. cuda,opencl,cpu).
    #[arg(long, env = "YAM_BACKENDS", value_delimiter = ',')]
    backend: Vec<String>,
    /// Fail instead of falling back to another backend.
    #[arg(long)]
    strict: bool,
    /// Refuse images with more pixels than this (checked before decoding).
    #[arg(long, default_value_t = DecodeLimits::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    plugins: super::PluginArgs,
}

/// What went wrong with one image, and which exit code that deserves.
struct ImageFailure {
    message: String,
    usage: bool,
}

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let pipeline = PipelineManager::load(&args.pipeline)?;
    let validated =
        validate(&pipeline).map_err(|e| anyhow::anyhow!("{}: {e}", args.pipeline.display()))?;
    for w in &validated.warnings {
        tracing::warn!("{}: {w}", args.pipeline.display());
    }
    if validated.steps.is_empty() {
        bail!("{}: no enabled steps", args.pipeline.display());
    }
    let jobs = plan_outputs(&args)?;
    let available = args.plugins.gather();
    let (order, missing) = preference(&available, &args.backend)?;
    let mut engine = Engine::new(order.clone(), args.strict).with_missing(missing);
    let limits = DecodeLimits {
        max_pixels: args.max_pixels,
        ..DecodeLimits::default()
    };

    let mut report = RunReport {
        yam_version: env!("CARGO_PKG_VERSION").into(),
        pipeline: args.pipeline.display().to_string(),
        backend_order: order.iter().map(|b| b.name().to_string()).collect(),
        strict: args.strict,
        warnings: validated.warnings.clone(),
        images: Vec::new(),
        succeeded: 0,
        failed: 0,
        total_ms: 0.0,
    };
    let (mut any_usage, mut any_failure) = (false, false);
    for (n, (input, output)) in jobs.iter().enumerate() {
        let t = Instant::now();
        let mut entry = ImageReport {
            input: input.display().to_string(),
            output: None,
            analysis_outputs: Vec::new(),
            status: "ok".into(),
            error: None,
            image: None,
            steps: Vec::new(),
            transfers: Default::default(),
            pipeline_ms: 0.0,
            total_ms: 0.0,
        };
        match run_one(
            &mut engine,
            &validated.steps,
            input,
            output,
            &limits,
            &mut entry,
        ) {
            Ok(()) => {
                report.succeeded += 1;
                entry.output = Some(output.display().to_string());
                if !args.quiet {
                    eprintln!(
                        "[{}/{}] {} -> {} ({:.1} ms)",
                        n + 1,
                        jobs.len(),
                        input.display(),
                        output.display(),
                        entry.pipeline_ms
                    );
                }
            }
            Err(f) => {
                report.failed += 1;
                any_usage |= f.usage;
                any_failure |= !f.usage;
                eprintln!("error: {}: {}", input.display(), f.message);
                entry.status = "failed".into();
                entry.error = Some(f.message);
            }
        }
        entry.total_ms = t.elapsed().as_secs_f64() * 1e3;
        report.images.push(entry);
    }
    report.total_ms = started.elapsed().as_secs_f64() * 1e3;
    if let Some(path) = &args.report {
        imageio::write_json_atomic(path, &serde_json::to_value(&report)?)
            .with_context(|| format!("writing the report {}", path.display()))?;
    }
    Ok(if any_usage {
        EXIT_USAGE
    } else if any_failure {
        EXIT_RUN_FAILURE
    } else {
        0
    })
}

fn run_one(
    engine: &mut Engine<'_>,
    steps: &[ValidStep],
    input: &Path,
    output: &Path,
    limits: &DecodeLimits,
    entry: &mut ImageReport,
) -> Result<(), ImageFailure> {
    let usage = |e: &dyn std::fmt::Display| ImageFailure {
        message: e.to_string(),
        usage: true,
    };
    let image = imageio::read_image(input, limits).map_err(|e| usage(&e))?;
    entry.image = Some(format!(
        "{}x{} {} x{}",
        image.width,
        image.height,
        image.dtype(),
        image.channels
    ));
    let t = Instant::now();
    let run = engine.run(steps, &image).map_err(|e| match e {
        RunError::Input(m) => ImageFailure {
            message: m,
            usage: true,
        },
        RunError::Failed(m) => ImageFailure {
            message: m,
            usage: false,
        },
    })?;
    entry.pipeline_ms = t.elapsed().as_secs_f64() * 1e3;
    entry.transfers = run.transfers;
    check_output_format(output, &run.output).map_err(|m| ImageFailure {
        message: m,
        usage: true,
    })?;
    let analysis = analysis_outputs(output, steps, &run.steps);
    for (path, value) in &analysis {
        imageio::write_json_atomic(path, value).map_err(|e| usage(&e))?;
        entry.analysis_outputs.push(path.display().to_string());
    }
    entry.steps = run.steps;
    imageio::write_image(output, &run.output).map_err(|e| usage(&e))?;
    // A batch's next image of the same size downloads into this storage.
    engine.recycle(run.output);
    Ok(())
}

/// Checks before anything is written that the output format can hold the result.
fn check_output_format(output: &Path, image: &Image) -> Result<(), String> {
    let format = ImageFormat::from_path(output).ok_or_else(|| {
        format!(
            "output {}: unknown extension; use .png, .tif, .tiff or .npy",
            output.display()
        )
    })?;
    if !format.can_hold(image.dtype(), image.channels) {
        let exts: Vec<String> = ImageFormat::holding(image.dtype(), image.channels)
            .iter()
            .map(|f| format!(".{}", f.extensions()[0]))
            .collect();
        return Err(format!(
            "output {}: the pipeline produces {} x{}, which {format} cannot hold exactly; use {}",
            output.display(),
            image.dtype(),
            image.channels,
            exts.join(" or ")
        ));
    }
    Ok(())
}

/// `<output stem>.<step>.json` per analysis step (`-<index>` added when a name repeats).
fn analysis_outputs(
    output: &Path,
    steps: &[ValidStep],
    reports: &[crate::report::StepReport],
) -> Vec<(PathBuf, Value)> {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = output.parent().unwrap_or(Path::new(""));
    reports
        .iter()
        .filter(|r| {
            yam_plugin_api::kernel(&r.kernel)
                .is_some_and(|k| k.stage == yam_plugin_api::Stage::Analysis)
        })
        .map(|r| {
            let repeated = steps.iter().filter(|s| s.name == r.name).count() > 1;
            let name = if repeated {
                format!("{}-{}", r.name, r.index)
            } else {
                r.name.clone()
            };
            (
                dir.join(format!("{stem}.{name}.json")),
                Value::Object(r.info.clone()),
            )
        })
        .collect()
}

/// Pairs every input image with its output path.
fn plan_outputs(args: &RunArgs) -> anyhow::Result<Vec<(PathBuf, PathBuf)>> {
    let mut inputs = Vec::new();
    let mut from_folder = false;
    for path in &args.inputs {
        if path.is_dir() {
            from_folder = true;
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading the folder {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && ImageFormat::from_path(p).is_some())
                .collect();
            found.sort();
            if found.is_empty() {
                bail!(
                    "{}: no .png, .tif, .tiff, .jpg, .jpeg or .npy files in this folder",
                    path.display()
                );
            }
            inputs.extend(found);
        } else if path.exists() {
            inputs.push(path.clone());
        } else {
            bail!("{}: no such file or folder", path.display());
        }
    }
    let single = inputs.len() == 1 && !from_folder;
    if single && !args.output.is_dir() {
        if ImageFormat::from_path(&args.output).is_none() {
            bail!(
                "output {}: unknown extension; use .png, .tif, .tiff or .npy",
                args.output.display()
            );
        }
        return Ok(vec![(inputs[0].clone(), args.output.clone())]);
    }
    if args.output.exists() && !args.output.is_dir() {
        bail!(
            "-o {}: with several inputs or a folder, -o must be a folder",
            args.output.display()
        );
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating the output folder {}", args.output.display()))?;
    let mut jobs = Vec::with_capacity(inputs.len());
    for input in inputs {
        let stem = input
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let ext = match &args.format {
            Some(f) => f.clone(),
            None => match ImageFormat::from_path(&input) {
                Some(ImageFormat::Jpeg) => "png".to_string(),
                _ => input
                    .extension()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_ascii_lowercase(),
            },
        };
        let output = args.output.join(format!("{stem}.{ext}"));
        if jobs.iter().any(|(_, o)| o == &output) {
            bail!(
                "{} and another input would both be written to {}",
                input.display(),
                output.display()
            );
        }
        jobs.push((input, output));
    }
    Ok(jobs)
}

/// The backends in preference order, and why requested or installed backends are passed over.
fn preference<'b>(
    available: &'b Available,
    requested: &[String],
) -> anyhow::Result<(Vec<&'b Backend>, Vec<String>)> {
    let backends = &available.backends;
    let not_ready = available.not_ready();
    if requested.is_empty() {
        // Default: accelerators first, then CPU plugins, the built-in CPU backend last.
        let mut order: Vec<&Backend> = backends.iter().collect();
        order.sort_by_key(|b| (b.kind() == BackendKind::Cpu, b.source == Source::Builtin));
        return Ok((
            order,
            not_ready.into_iter().map(|(_, _, line)| line).collect(),
        ));
    }
    let mut order: Vec<&Backend> = Vec::new();
    let mut missing = Vec::new();
    for name in requested.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let matches = |b: &&Backend| b.name() == name || b.kind().name() == name;
        let found: Vec<&Backend> = backends.iter().filter(matches).collect();
        if found.is_empty() {
            let installed: Vec<String> = not_ready
                .iter()
                .filter(|(n, kind, _)| n == name || kind.as_deref() == Some(name))
                .map(|(_, _, line)| line.clone())
                .collect();
            if !installed.is_empty() {
                missing.extend(installed);
            } else if BackendKind::from_name(name).is_some() {
                missing.push(format!("{name}: no {name} backend is installed"));
            } else {
                bail!(
                    "--backend {name}: unknown backend; expected cpu, cuda, rocm, opencl, metal \
                     or an installed plugin's name (see `yam plugins list`)"
                );
            }
        }
        for b in found {
            if !order.iter().any(|o| std::ptr::eq(*o, b)) {
                order.push(b);
            }
        }
    }
    // The built-in CPU backend is always the last resort (--strict still forbids using it).
    if let Some(cpu) = backends.iter().find(|b| b.source == Source::Builtin) {
        if !order.iter().any(|o| std::ptr::eq(*o, cpu)) {
            order.push(cpu);
        }
    }
    Ok((order, missing))
}
