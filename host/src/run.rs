//! Planning and executing a validated pipeline on one image.
//!
//! Each step goes to the first backend, in preference order, that implements its kernel for the
//! step's input dtype, channels and size and has a device (`requires_gpu` steps try GPU backends
//! first). Consecutive steps on one backend form a *segment*: the image is uploaded once, stays
//! on the device between kernels and is downloaded once. A segment that fails on a plugin is
//! rerun on the CPU backend and the fallback recorded — or, with `strict`, the run fails.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Instant;

use abi_stable::std_types::{RSlice, RSliceMut};
use serde_json::{Map, Value};
use yam_plugin_api::{
    kernels::KernelOutput, BackendKind, BufferHandle, ExecutorBox, Image, KernelCall, PixelData,
    PluginError, StepCall, TensorDesc,
};

use crate::{
    backends::{Backend, Source},
    report::{StepReport, Transfers},
    validate::ValidStep,
};

/// Why a run failed. `Input` errors are the caller's (exit code 2), `Failed` the run's (1).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    /// The pipeline does not fit this image (dtype, channels, parameters for this dtype), or
    /// no backend implements a step.
    #[error("{0}")]
    Input(String),
    /// A kernel failed, or a fallback happened under `strict`.
    #[error("{0}")]
    Failed(String),
}

/// The result of running the pipeline on one image.
#[derive(Debug, Clone)]
pub struct ImageRun {
    /// The final image.
    pub output: Image,
    /// One report per executed step.
    pub steps: Vec<StepReport>,
    /// Host↔device copies.
    pub transfers: Transfers,
}

struct Planned<'s> {
    step: &'s ValidStep,
    call: KernelCall,
    output: KernelOutput,
    backend: usize,
    fallback: Option<String>,
}

/// Runs pipelines on a set of backends, keeping one executor per backend device.
pub struct Engine<'b> {
    backends: Vec<&'b Backend>,
    /// Requested backends that are not loaded, with the reason (always reported as passed over).
    missing: Vec<String>,
    strict: bool,
    executors: HashMap<usize, ExecutorBox>,
    /// Pixel storage of outputs the caller gave back ([`Engine::recycle`]): the next download
    /// of the same size writes into it instead of zero-filling fresh memory.
    spares: Vec<PixelData>,
}

impl std::fmt::Debug for Engine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.backends.iter().map(|b| b.name()).collect();
        f.debug_struct("Engine")
            .field("backends", &names)
            .field("strict", &self.strict)
            .finish()
    }
}

fn describe(desc: &TensorDesc) -> String {
    let dtype = desc.dtype().map_or("?", |d| d.name());
    format!(
        "{}x{} {dtype} x{}",
        desc.width(),
        desc.height(),
        desc.channels()
    )
}

impl<'b> Engine<'b> {
    /// An engine over `backends`, in preference order.
    pub fn new(backends: Vec<&'b Backend>, strict: bool) -> Engine<'b> {
        Engine {
            backends,
            missing: Vec::new(),
            strict,
            executors: HashMap::new(),
            spares: Vec::new(),
        }
    }

    /// Records requested backends that could not be loaded (`"cuda: no cuda backend is
    /// installed"`); every step reports them as passed over in its fallback reason.
    pub fn with_missing(mut self, missing: Vec<String>) -> Engine<'b> {
        self.missing = missing;
        self
    }

    /// Where a failed segment is rerun: the built-in CPU backend (the reference), else the
    /// first CPU-kind backend. A CPU *plugin* can fail like any other plugin, and it comes
    /// before the built-in backend in the order.
    fn cpu(&self) -> Option<usize> {
        let builtin = self
            .backends
            .iter()
            .position(|b| b.source == Source::Builtin);
        builtin.or_else(|| {
            self.backends
                .iter()
                .position(|b| b.kind() == BackendKind::Cpu)
        })
    }

    fn plan<'s>(
        &self,
        steps: &'s [ValidStep],
        input: &Image,
    ) -> Result<Vec<Planned<'s>>, RunError> {
        let mut desc = input.desc();
        let mut plan = Vec::with_capacity(steps.len());
        for step in steps {
            let here = |m: String| format!("step {} `{}`: {m}", step.index, step.name);
            let dtype = desc.dtype().expect("host images have known dtypes");
            let input_note = if plan.is_empty() {
                "the input image".to_string()
            } else {
                format!("the previous step's output ({})", describe(&desc))
            };
            step.spec
                .check_input(dtype, desc.channels() as u32)
                .map_err(|e| RunError::Input(here(format!("{e}; {input_note} does not fit"))))?;
            let call = KernelCall::parse(step.spec.id, &step.params, dtype)
                .expect("validated steps are catalogue kernels")
                .map_err(|e| RunError::Input(here(e.to_string())))?;
            let (backend, fallback) = self
                .choose(step, &desc)
                .map_err(|m| RunError::Input(here(m)))?;
            if let (true, Some(reason)) = (self.strict, &fallback) {
                return Err(RunError::Failed(here(format!(
                    "--strict forbids falling back to {}: {reason}",
                    self.backends[backend].name()
                ))));
            }
            let output = call.output(&desc);
            if let KernelOutput::Image(d) = output {
                desc = d;
            }
            plan.push(Planned {
                step,
                call,
                output,
                backend,
                fallback,
            });
        }
        Ok(plan)
    }

    /// The backend for `step`, and why more preferred backends were passed over.
    fn choose(
        &self,
        step: &ValidStep,
        desc: &TensorDesc,
    ) -> Result<(usize, Option<String>), String> {
        self.choose_for(step.spec.id, step.execution.requires_gpu, desc)
    }

    /// Where kernel `id` would run for an input of `dtype` with `channels` channels, and why
    /// more preferred backends were passed over (for `yam doctor`).
    pub fn placement(
        &self,
        id: &str,
        dtype: yam_plugin_api::DType,
        channels: usize,
    ) -> Result<(String, Option<String>), String> {
        let desc = TensorDesc::packed(dtype, 512, 512, channels);
        self.choose_for(id, false, &desc)
            .map(|(i, why)| (self.backends[i].name().to_string(), why))
    }

    fn choose_for(
        &self,
        id: &str,
        requires_gpu: bool,
        desc: &TensorDesc,
    ) -> Result<(usize, Option<String>), String> {
        let dtype = desc.dtype().expect("known dtype");
        let pixels = (desc.width() * desc.height()) as u64;
        let mut order: Vec<usize> = (0..self.backends.len()).collect();
        if requires_gpu {
            order.sort_by_key(|&i| !self.backends[i].kind().is_gpu());
        }
        let mut passed = self.missing.clone();
        for i in order {
            let b = self.backends[i];
            let why = if let Some(reason) = &b.facts.unavailable {
                format!("{} is unavailable: {reason}", b.name())
            } else {
                match b.kernel(id) {
                    None => format!("{} does not implement {}", b.name(), id),
                    Some(k) if !k.accepts(dtype, desc.channels() as u32, pixels) => {
                        format!("{} does not take {} for {}", b.name(), describe(desc), id)
                    }
                    Some(_) => {
                        let mut reason = (!passed.is_empty()).then(|| passed.join("; "));
                        if requires_gpu && !b.kind().is_gpu() {
                            let gpu = "step requires a GPU but no GPU backend can run it";
                            reason =
                                Some(reason.map_or(gpu.to_string(), |r| format!("{gpu} ({r})")));
                        }
                        return Ok((i, reason));
                    }
                }
            };
            passed.push(why);
        }
        Err(format!("no backend can run it: {}", passed.join("; ")))
    }

    /// Runs `steps` on `input`.
    /// Gives an output back once the caller is done with it (written to disk, compared): its
    /// storage serves the next output of the same type and size.
    pub fn recycle(&mut self, image: Image) {
        const KEEP: usize = 2;
        if self.spares.len() == KEEP {
            self.spares.remove(0);
        }
        self.spares.push(image.data);
    }

    pub fn run(&mut self, steps: &[ValidStep], input: &Image) -> Result<ImageRun, RunError> {
        let plan = self.plan(steps, input)?;
        // The input itself until a segment produces an image: no copy of it per run.
        let mut image: Cow<'_, Image> = Cow::Borrowed(input);
        let mut reports = Vec::with_capacity(plan.len());
        let mut transfers = Transfers::default();
        let mut start = 0;
        while start < plan.len() {
            let backend = plan[start].backend;
            let end = plan[start..]
                .iter()
                .position(|p| p.backend != backend)
                .map_or(plan.len(), |n| start + n);
            let segment = &plan[start..end];
            match self.run_segment(backend, segment, &image, input, &mut transfers) {
                Ok((out, steps)) => {
                    image = Cow::Owned(out);
                    reports.extend(steps);
                }
                Err((failed, e)) => {
                    let b = self.backends[backend];
                    let step = segment[failed].step;
                    let what = format!(
                        "step {} `{}` failed on {}: {e}",
                        step.index,
                        step.name,
                        b.name()
                    );
                    let cpu = self.cpu().filter(|&c| c != backend);
                    let Some(cpu) = cpu else {
                        return Err(RunError::Failed(what));
                    };
                    if self.strict {
                        return Err(RunError::Failed(format!(
                            "{what} (--strict forbids falling back to cpu)"
                        )));
                    }
                    tracing::warn!("{what}; rerunning its segment on cpu");
                    let (out, mut steps) = self
                        .run_segment(cpu, segment, &image, input, &mut transfers)
                        .map_err(|(i, e)| {
                            let s = segment[i].step;
                            RunError::Failed(format!(
                                "step {} `{}` failed on cpu after falling back: {e}",
                                s.index, s.name
                            ))
                        })?;
                    for r in &mut steps {
                        r.fallback_reason = Some(format!("rerun on cpu: {what}"));
                    }
                    image = Cow::Owned(out);
                    reports.extend(steps);
                }
            }
            start = end;
        }
        Ok(ImageRun {
            output: image.into_owned(),
            steps: reports,
            transfers,
        })
    }

    fn executor(&mut self, backend: usize) -> Result<&mut ExecutorBox, PluginError> {
        if !self.executors.contains_key(&backend) {
            let b = self.backends[backend];
            let device = b.first_device().map_or(0, |d| d.index);
            self.executors.insert(backend, b.create_executor(device)?);
        }
        Ok(self.executors.get_mut(&backend).expect("inserted above"))
    }

    /// Runs consecutive steps on one backend with one upload and one download.
    /// On error returns the index (within `segment`) of the failing step.
    fn run_segment(
        &mut self,
        backend: usize,
        segment: &[Planned<'_>],
        image: &Image,
        original: &Image,
        transfers: &mut Transfers,
    ) -> Result<(Image, Vec<StepReport>), (usize, PluginError)> {
        let b = self.backends[backend];
        let (name, device) = (
            b.name().to_string(),
            b.first_device().map_or(String::new(), |d| d.name.clone()),
        );
        let mut spares = std::mem::take(&mut self.spares);
        let ex = self.executor(backend).map_err(|e| (0, e))?;
        let mut live: Vec<BufferHandle> = Vec::new();
        let result = (|| {
            let mut cur = upload(ex, image, &mut live).map_err(|e| (0, e))?;
            transfers.uploads += 1;
            let mut extra = None;
            let mut reports = Vec::with_capacity(segment.len());
            let mut cur_desc = image.desc();
            for (i, p) in segment.iter().enumerate() {
                let mut inputs = vec![cur];
                if p.step.spec.id == "region_props" {
                    if extra.is_none() {
                        extra = Some(upload(ex, original, &mut live).map_err(|e| (i, e))?);
                        transfers.uploads += 1;
                    }
                    inputs.extend(extra);
                }
                let out = match p.output {
                    KernelOutput::Image(d) => {
                        let h = ex.allocate(d).into_result().map_err(|e| (i, e))?;
                        live.push(h);
                        Some((h, d))
                    }
                    KernelOutput::Json => None,
                };
                let call = StepCall {
                    name: p.step.name.as_str().into(),
                    kernel: p.step.spec.id.into(),
                    schema_version: p.step.spec.schema_version,
                    params: p.step.params.clone(),
                    metadata: p.step.execution,
                };
                let t = Instant::now();
                let outcome = ex
                    .execute(&call, RSlice::from_slice(&inputs), out.map(|o| o.0).into())
                    .into_result()
                    .map_err(|e| (i, e))?;
                let wall_ms = t.elapsed().as_secs_f64() * 1e3;
                let info = parse_info(&outcome.info_json).map_err(|e| (i, e))?;
                if let Some((h, d)) = out {
                    free(ex, cur, &mut live).map_err(|e| (i, e))?;
                    cur = h;
                    cur_desc = d;
                }
                reports.push(StepReport {
                    index: p.step.index,
                    name: p.step.name.clone(),
                    kernel: p.call.id().to_string(),
                    module: p.step.module.name.to_string(),
                    backend: name.clone(),
                    device: device.clone(),
                    wall_ms,
                    fallback_reason: p.fallback.clone(),
                    info,
                });
            }
            let last = segment.len() - 1;
            ex.synchronize().into_result().map_err(|e| (last, e))?;
            let out = download_into(ex, cur, cur_desc, &mut spares).map_err(|e| (last, e))?;
            transfers.downloads += 1;
            Ok((out, reports))
        })();
        // Free whatever is still held, success or not; a failure here must not hide the result.
        for h in live {
            if let Err(e) = ex.free(h).into_result() {
                tracing::warn!("{name}: freeing buffer {} failed: {e}", h.0);
            }
        }
        self.spares = spares;
        result
    }
}

pub(crate) fn upload(
    ex: &mut ExecutorBox,
    image: &Image,
    live: &mut Vec<BufferHandle>,
) -> Result<BufferHandle, PluginError> {
    let h = ex.allocate(image.desc()).into_result()?;
    live.push(h);
    ex.upload(h, RSlice::from_slice(image.data.as_ne_bytes()))
        .into_result()?;
    Ok(h)
}

pub(crate) fn download(
    ex: &mut ExecutorBox,
    h: BufferHandle,
    desc: TensorDesc,
) -> Result<Image, PluginError> {
    download_into(ex, h, desc, &mut Vec::new())
}

/// Downloads into one of `spares` of exactly the output's type and length, taken out of the
/// list (the download overwrites every element), else into fresh zeroed storage.
fn download_into(
    ex: &mut ExecutorBox,
    h: BufferHandle,
    desc: TensorDesc,
    spares: &mut Vec<PixelData>,
) -> Result<Image, PluginError> {
    let dtype = desc
        .dtype()
        .ok_or_else(|| PluginError::invalid("output buffer has an unknown dtype"))?;
    let bytes = desc.required_bytes().unwrap_or(0);
    let len = bytes / dtype.size_bytes();
    // Straight into typed storage: no byte buffer to convert afterwards.
    let fits = spares
        .iter()
        .position(|d| d.dtype() == dtype && d.len() == len);
    let mut data = match fits {
        Some(i) => spares.swap_remove(i),
        None => {
            let mut d = PixelData::zeros(dtype, len);
            yam_plugin_api::memory::huge_pages(d.as_ne_bytes_mut());
            d
        }
    };
    ex.download(h, RSliceMut::from_mut_slice(data.as_ne_bytes_mut()))
        .into_result()?;
    Image::new(desc.width(), desc.height(), desc.channels(), data)
        .map_err(|e| PluginError::invalid(e.to_string()))
}

fn free(
    ex: &mut ExecutorBox,
    h: BufferHandle,
    live: &mut Vec<BufferHandle>,
) -> Result<(), PluginError> {
    live.retain(|&x| x != h);
    ex.free(h).into_result()
}

pub(crate) fn parse_info(json: &str) -> Result<Map<String, Value>, PluginError> {
    if json.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str(json) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(PluginError::invalid(format!(
            "step outcome is not a JSON object: {json:.80}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        pipeline::{PipelineManager, PipelineStep},
        validate::validate,
    };

    fn gradient(w: usize, h: usize, seed: usize) -> Image {
        let data = (0..w * h)
            .map(|i| ((i * 7 + seed * 13) % 251) as u8)
            .collect();
        Image::new(w, h, 1, PixelData::U8(data)).unwrap()
    }

    #[test]
    fn recycled_output_storage_gives_the_same_results_as_fresh_storage() {
        let mut p = PipelineManager::new();
        p.add(PipelineStep::new("gaussian_blur").with("ksize", 5));
        p.add(PipelineStep::new("threshold").with("otsu", true));
        p.add(PipelineStep::new("connected_components").with("connectivity", 8));
        let steps = validate(&p).unwrap().steps;
        let cpu = Backend::builtin_cpu();
        let mut fresh = Engine::new(vec![&cpu], false);
        let mut reusing = Engine::new(vec![&cpu], false);
        // Same size twice (the second run downloads into the first's storage), then another
        // size (the spare does not fit and must not be used), then the first size again.
        for (w, h, seed) in [(64, 48, 1), (64, 48, 2), (33, 17, 3), (64, 48, 4)] {
            let input = gradient(w, h, seed);
            let want = fresh.run(&steps, &input).unwrap().output;
            let got = reusing.run(&steps, &input).unwrap().output;
            assert_eq!(got, want, "{w}x{h} seed {seed}");
            reusing.recycle(got);
        }
    }
}
