//! `yam bench`: time a kernel or a pipeline in-process, next to a plain memory copy.

use std::path::PathBuf;
use std::time::Instant;

use abi_stable::std_types::{ROption, RSlice};
use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;
use serde_json::{json, Value};
use yam_plugin_api::{kernel, kernels::KernelOutput, KernelCall, ParamValue};

use super::PluginArgs;
use crate::{
    backends::Backend,
    conformance::exec::step_call,
    imageio::{read_image, DecodeLimits},
    pipeline::PipelineManager,
    run::{upload, Engine},
    validate::validate,
};

pub const LONG_ABOUT: &str = "\
Time a kernel or a pipeline in-process on a backend (image decoding excluded): a warm-up, then \
the median, minimum and maximum of --repeat runs, next to the time of a plain memory copy of the \
same image (read + write the same bytes: the machine's speed limit for memory-bound kernels).

  yam bench --kernel gaussian_blur --params '{\"ksize\":5,\"sigma\":1.5}' --image img.npy
  yam bench --kernel threshold --params '{\"otsu\":true}' --image img.npy --threads 1 --json
  yam bench --pipeline examples/cells.json --image examples/cells.png --repeat 50

A kernel is timed on device-resident buffers (uploaded once; each run executes and \
synchronises). A pipeline is timed end to end as `yam run` runs it, transfers included, and each \
step's median wall time is listed with the median of the rest of a run (uploads, downloads, host \
work).";

/// Options of `yam bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Kernel id to time (see `yam kernels`).
    #[arg(
        long,
        conflicts_with = "pipeline",
        required_unless_present = "pipeline"
    )]
    kernel: Option<String>,
    /// Kernel parameters as a JSON object.
    #[arg(long, default_value = "{}", requires = "kernel")]
    params: String,
    /// Pipeline file to time end to end.
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// Input image (PNG, TIFF, JPEG, NPY).
    #[arg(long)]
    image: PathBuf,
    /// Backend (name or kind) to time on; default: the best available, as `yam run` picks.
    #[arg(long)]
    backend: Option<String>,
    /// Threads of CPU backends, the calling thread included (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Timed repetitions after the warm-up.
    #[arg(long, default_value_t = 20)]
    repeat: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    plugins: PluginArgs,
}

/// Median, minimum and maximum of a set of timings, in ms.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Stats {
    /// Median.
    pub median_ms: f64,
    /// Fastest.
    pub min_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// Where a pipeline's time goes: each step's median wall time over the timed runs, and the
/// median of the rest of a run (uploads, downloads, host work).
struct Breakdown {
    steps: Vec<StepTime>,
    outside_ms: f64,
}

/// One pipeline step's median wall time over the timed runs.
#[derive(Debug, Clone, Serialize)]
struct StepTime {
    name: String,
    kernel: String,
    backend: String,
    median_ms: f64,
}

fn stats(mut ms: Vec<f64>) -> Stats {
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let median = if n % 2 == 1 {
        ms[n / 2]
    } else {
        (ms[n / 2 - 1] + ms[n / 2]) / 2.0
    };
    Stats {
        median_ms: median,
        min_ms: ms[0],
        max_ms: ms[n - 1],
    }
}

fn time(repeat: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Stats> {
    // Warm-up: caches, lazy compilation, first allocations. Twice, so a backend that recycles
    // the buffer its previous output gave up has one to recycle, as in a long-running pipeline.
    f()?;
    f()?;
    let mut ms = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let t = Instant::now();
        f()?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(stats(ms))
}

pub fn run(args: BenchArgs) -> anyhow::Result<u8> {
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    if let Some(n) = args.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        // Read by every rayon pool when it starts, including those inside plugins; nothing has
        // started one yet.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        // The built-in CPU backend's pool: this thread is one of the N, as with OpenCV's
        // setNumThreads(N), so each parallel loop of a timed call starts here instead of
        // waking a pool thread and waiting for it (~0.1 ms a call: 7 % of a 1-thread
        // threshold). Only here: `bench` runs kernels on this thread alone, while other
        // commands may call the backend from threads that this one waits for.
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .use_current_thread()
            .build_global()
        {
            tracing::warn!("--threads {n}: the CPU thread pool was already running ({e})");
        }
    }
    let image = read_image(&args.image, &DecodeLimits::default())?;
    let bytes = image.data.as_ne_bytes();
    let mut dst = vec![0u8; bytes.len()];
    let copy = time(args.repeat.max(5), || {
        dst.copy_from_slice(std::hint::black_box(bytes));
        std::hint::black_box(&mut dst);
        Ok(())
    })?;
    let available = args.plugins.gather();
    let backends: Vec<&Backend> = match &args.backend {
        None => available.backends.iter().collect(),
        Some(name) => {
            let found: Vec<&Backend> = available
                .backends
                .iter()
                .filter(|b| b.name() == name || b.kind().name() == name)
                .collect();
            if found.is_empty() {
                bail!("--backend {name}: no such backend is available (see `yam plugins list`)");
            }
            found
        }
    };
    let input = format!(
        "{}x{} {} x{}",
        image.width,
        image.height,
        image.dtype(),
        image.channels
    );
    let threads = args
        .threads
        .map_or_else(|| "all".to_string(), |n| n.to_string());

    let (what, backend_name, timed, breakdown) = if let Some(id) = &args.kernel {
        let spec = kernel(id)
            .with_context(|| format!("--kernel {id}: unknown kernel (see `yam kernels`)"))?;
        let given: serde_json::Map<String, Value> = serde_json::from_str(&args.params)
            .with_context(|| format!("--params {}: expected a JSON object", args.params))?;
        let mut pairs = Vec::new();
        for (k, v) in &given {
            let pv = ParamValue::from_json(v).with_context(|| {
                format!("--params: `{k}` = {v} is not a number, bool, name or list")
            })?;
            pairs.push((k.as_str(), pv));
        }
        let params = spec
            .resolve(pairs)
            .map_err(|e| anyhow::anyhow!("--params: {e}"))?;
        let call = KernelCall::parse(id, &params, image.dtype())
            .expect("catalogue kernel")
            .map_err(|e| anyhow::anyhow!("--params: {e}"))?;
        spec.check_input(image.dtype(), image.channels as u32)
            .map_err(|e| anyhow::anyhow!("{}: {e}", args.image.display()))?;
        let backend = backends
            .iter()
            .find(|b| {
                b.kernel(id).is_some_and(|k| {
                    k.accepts(
                        image.dtype(),
                        image.channels as u32,
                        (image.width * image.height) as u64,
                    )
                })
            })
            .with_context(|| format!("no available backend implements {id} for {input}"))?;
        let mut ex = backend.create_executor(backend.first_device().map_or(0, |d| d.index))?;
        let mut live = Vec::new();
        let src = upload(&mut ex, &image, &mut live)?;
        let out = match call.output(&image.desc()) {
            KernelOutput::Image(d) => {
                let h = ex.allocate(d).into_result()?;
                live.push(h);
                ROption::RSome(h)
            }
            KernelOutput::Json => ROption::RNone,
        };
        let step = step_call(spec, &params);
        let timed = time(args.repeat, || {
            ex.execute(&step, RSlice::from_slice(&[src]), out)
                .into_result()?;
            ex.synchronize().into_result()?;
            Ok(())
        });
        for h in live {
            let _ = ex.free(h);
        }
        (
            format!("kernel {id} {}", args.params),
            backend.name().to_string(),
            timed?,
            None,
        )
    } else {
        let path = args
            .pipeline
            .as_ref()
            .expect("clap requires --kernel or --pipeline");
        let p = PipelineManager::load(path)?;
        let v = validate(&p).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let mut engine = Engine::new(backends.clone(), false);
        let mut last: Option<crate::run::ImageRun> = None;
        // Per timed run: each step's wall time and the run's total.
        let mut runs: Vec<(Vec<f64>, f64)> = Vec::new();
        let timed = time(args.repeat, || {
            // As a batch does: the previous output is done with, its storage serves the next.
            if let Some(prev) = last.take() {
                engine.recycle(prev.output);
            }
            let t = Instant::now();
            let run = engine
                .run(&v.steps, &image)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let total = t.elapsed().as_secs_f64() * 1e3;
            runs.push((run.steps.iter().map(|s| s.wall_ms).collect(), total));
            last = Some(run);
            Ok(())
        })?;
        // The timed runs are the last `repeat` (before them, `time`'s warm-ups).
        let runs = &runs[runs.len() - args.repeat..];
        let reports = last.map(|r| r.steps).unwrap_or_default();
        let steps = reports
            .iter()
            .enumerate()
            .map(|(i, r)| StepTime {
                name: r.name.clone(),
                kernel: r.kernel.clone(),
                backend: r.backend.clone(),
                median_ms: stats(runs.iter().map(|(s, _)| s[i]).collect()).median_ms,
            })
            .collect();
        let outside_ms = stats(
            runs.iter()
                .map(|(s, total)| total - s.iter().sum::<f64>())
                .collect(),
        )
        .median_ms;
        let used: Vec<String> = reports.iter().map(|s| s.backend.clone()).collect();
        let mut used_unique = used.clone();
        used_unique.dedup();
        (
            format!("pipeline {}", path.display()),
            used_unique.join("+"),
            timed,
            Some(Breakdown { steps, outside_ms }),
        )
    };

    if args.json {
        let mut v = json!({
            "what": what, "backend": backend_name, "input": input, "threads": threads,
            "repeat": args.repeat, "time": timed, "memory_copy": copy,
            "copy_multiple": timed.median_ms / copy.median_ms.max(1e-9),
        });
        if let Some(b) = &breakdown {
            v["steps"] = json!(b.steps);
            v["outside_steps_median_ms"] = json!(b.outside_ms);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{what}");
        println!(
            "  input {input}, backend {backend_name}, threads {threads}, {} runs after a warm-up",
            args.repeat
        );
        println!(
            "  median {:.3} ms   min {:.3} ms   max {:.3} ms",
            timed.median_ms, timed.min_ms, timed.max_ms
        );
        println!(
            "  memory copy of the same image: median {:.4} ms  (this run = {:.1}x a copy)",
            copy.median_ms,
            timed.median_ms / copy.median_ms.max(1e-9)
        );
        if let Some(b) = &breakdown {
            println!("  steps (median ms of the timed runs):");
            for st in &b.steps {
                println!(
                    "    {:>10.3}  {} ({}, {})",
                    st.median_ms, st.name, st.kernel, st.backend
                );
            }
            println!(
                "    {:>10.3}  outside the steps: uploads, downloads, host work",
                b.outside_ms
            );
        }
    }
    Ok(0)
}
