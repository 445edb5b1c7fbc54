//! Device-resident semantics, error paths, robustness and performance checks.

use std::time::Instant;

use abi_stable::std_types::{ROption, RSlice, RSliceMut};
use yam_plugin_api::{
    catalogue::tolerance, BufferHandle, DType, ExecutorBox, Image, KernelSpec, ParamSet,
    ParamValue, TensorDesc,
};

use super::{
    cases,
    compare::{compare_images, compare_info},
    exec, Suite,
};
use crate::{abi::DeclaredKernel, backends::Backend, run::download};

type Kernels = [(&'static KernelSpec, DeclaredKernel)];

const CANARY: u8 = 0xA5;

fn defaults(spec: &KernelSpec) -> ParamSet {
    spec.resolve([]).expect("catalogue defaults are valid")
}

/// Kernels whose output has the input's dtype and channels, with the input they take.
fn image_to_image(kernels: &Kernels) -> Vec<(&'static KernelSpec, DType, usize)> {
    kernels
        .iter()
        .filter_map(|(spec, d)| {
            let dtype = *d.dtypes.first()?;
            let c = *d.channels.first()? as usize;
            let desc = TensorDesc::packed(dtype, 8, 8, c);
            let out = exec::output_desc(spec, &defaults(spec), &desc)?;
            (out.dtype() == Some(dtype) && out.channels() == c).then_some((*spec, dtype, c))
        })
        .collect()
}

/// Bytes of `image` laid out as `desc` (padding and offset filled with the canary).
fn strided_bytes(image: &Image, desc: &TensorDesc) -> Vec<u8> {
    let size = image.dtype().size_bytes();
    let mut out = vec![CANARY; desc.required_bytes().unwrap_or(0)];
    let packed = image.data.to_ne_bytes();
    for (i, chunk) in packed.chunks_exact(size).enumerate() {
        let c = i % image.channels;
        let x = (i / image.channels) % image.width;
        let y = i / image.channels / image.width;
        let o = desc.byte_offset as usize
            + (y * desc.strides[0] as usize
                + x * desc.strides[1] as usize
                + c * desc.strides[2] as usize)
                * size;
        out[o..o + size].copy_from_slice(chunk);
    }
    out
}

/// `desc` with 5 elements of padding per row and a 64-byte offset.
fn padded(desc: TensorDesc) -> TensorDesc {
    let mut d = desc;
    d.strides[0] += 5;
    d.byte_offset = 64;
    d
}

fn chain_on_device(
    ex: &mut ExecutorBox,
    steps: &[(&KernelSpec, ParamSet)],
    input: &Image,
) -> Result<Image, String> {
    let mut live = Vec::new();
    let result = (|| {
        let mut cur = crate::run::upload(ex, input, &mut live).map_err(|e| e.to_string())?;
        let mut desc = input.desc();
        for (spec, params) in steps {
            let out = exec::output_desc(spec, params, &desc).ok_or("kernel has no image output")?;
            let h = ex.allocate(out).into_result().map_err(|e| e.to_string())?;
            live.push(h);
            ex.execute(
                &exec::step_call(spec, params),
                RSlice::from_slice(&[cur]),
                ROption::RSome(h),
            )
            .into_result()
            .map_err(|e| format!("{}: {e}", spec.id))?;
            cur = h;
            desc = out;
        }
        ex.synchronize().into_result().map_err(|e| e.to_string())?;
        download(ex, cur, desc).map_err(|e| e.to_string())
    })();
    for h in live {
        let _ = ex.free(h);
    }
    result
}

/// Segments without downloads, in-place execution, padded rows in and out.
pub(super) fn device_checks(
    suite: &mut Suite,
    pex: &mut ExecutorBox,
    rex: &mut ExecutorBox,
    kernels: &Kernels,
) {
    let chainable = image_to_image(kernels);
    let seed = suite.opts.seed;
    if let Some(&(first, dtype, c)) = chainable.first() {
        // A segment of up to three kernels with one upload and one download must equal the
        // same steps with a download and an upload between each.
        let picked: Vec<_> = chainable
            .iter()
            .filter(|k| k.1 == dtype && k.2 == c)
            .take(3)
            .collect();
        let mut steps: Vec<(&KernelSpec, ParamSet)> =
            picked.iter().map(|k| (k.0, defaults(k.0))).collect();
        if steps.len() == 1 {
            steps.push((first, defaults(first)));
        }
        let input = cases::input(
            first.id,
            dtype,
            61,
            47,
            c,
            cases::case_seed(seed, "device/segment"),
        );
        let names: Vec<&str> = steps.iter().map(|s| s.0.id).collect();
        let segment = chain_on_device(pex, &steps, &input);
        let mut stepwise = Ok(input.clone());
        for (spec, params) in &steps {
            stepwise = stepwise.and_then(|img| {
                exec::run_once(pex, spec, params, &img)
                    .map_err(|e| e.to_string())?
                    .image
                    .ok_or_else(|| "no image".to_string())
            });
        }
        // Against the reference as well, when every step is exact for this dtype (a chain of
        // within-tolerance float steps may legitimately drift, e.g. across a threshold).
        let exact = steps
            .iter()
            .all(|(s, _)| tolerance(s.id, dtype) == yam_plugin_api::catalogue::Tolerance::EXACT);
        if exact {
            let reference = chain_on_device(rex, &steps, &input);
            let failure = match (&segment, reference) {
                (Ok(a), Ok(r)) => {
                    compare_images(&r, a, yam_plugin_api::catalogue::Tolerance::EXACT).map(|m| {
                        format!(
                            "segment {} differs from the reference: {m}",
                            names.join(" -> ")
                        )
                    })
                }
                (Err(e), _) => Some(format!("segment {} failed: {e}", names.join(" -> "))),
                (_, Err(e)) => Some(format!(
                    "the reference failed on segment {}: {e}",
                    names.join(" -> ")
                )),
            };
            suite.record(
                "device",
                None,
                format!("device/segment_vs_reference/{}", names.join("+")),
                failure,
            );
        }
        let failure = match (segment, stepwise) {
            (Ok(a), Ok(b)) => compare_images(&b, &a, yam_plugin_api::catalogue::Tolerance::EXACT)
                .map(|m| {
                    format!(
                        "segment {} differs from the same steps with downloads: {m}",
                        names.join(" -> ")
                    )
                }),
            (Err(e), _) => Some(format!("segment {} failed: {e}", names.join(" -> "))),
            (_, Err(e)) => Some(format!("step-by-step {} failed: {e}", names.join(" -> "))),
        };
        suite.record(
            "device",
            None,
            format!("device/segment/{}", names.join("+")),
            failure,
        );
    }
    for &(spec, dtype, c) in &chainable {
        let params = defaults(spec);
        let input = cases::input(
            spec.id,
            dtype,
            61,
            47,
            c,
            cases::case_seed(seed, &format!("device/{}", spec.id)),
        );
        let expected = exec::run_once(rex, spec, &params, &input)
            .ok()
            .and_then(|p| p.image);
        let Some(expected) = expected else { continue };
        let tol = tolerance(spec.id, expected.dtype());
        let declared_inplace = kernels
            .iter()
            .any(|(s, d)| s.id == spec.id && d.supports_inplace);
        if declared_inplace {
            let failure = in_place(pex, spec, &params, &input).map_or_else(Some, |got| {
                compare_images(&expected, &got, tol).map(|m| format!("in place: {m}"))
            });
            suite.record(
                "device",
                Some(spec.id),
                format!("device/inplace/{}", spec.id),
                failure,
            );
        }
        let failure = strided(pex, spec, &params, &input).map_or_else(Some, |got| {
            compare_images(&expected, &got, tol).map(|m| format!("padded rows: {m}"))
        });
        suite.record(
            "device",
            Some(spec.id),
            format!("device/strided/{}", spec.id),
            failure,
        );
    }
}

fn in_place(
    ex: &mut ExecutorBox,
    spec: &KernelSpec,
    params: &ParamSet,
    input: &Image,
) -> Result<Image, String> {
    let mut live = Vec::new();
    let r = (|| {
        let h = crate::run::upload(ex, input, &mut live).map_err(|e| e.to_string())?;
        ex.execute(
            &exec::step_call(spec, params),
            RSlice::from_slice(&[h]),
            ROption::RSome(h),
        )
        .into_result()
        .map_err(|e| format!("in-place execute failed: {e}"))?;
        ex.synchronize().into_result().map_err(|e| e.to_string())?;
        download(ex, h, input.desc()).map_err(|e| e.to_string())
    })();
    for h in live {
        let _ = ex.free(h);
    }
    r
}

/// Padded-row input and padded-row output whose padding holds a canary: the result must be
/// right and no byte outside the output's view may change.
fn strided(
    ex: &mut ExecutorBox,
    spec: &KernelSpec,
    params: &ParamSet,
    input: &Image,
) -> Result<Image, String> {
    let in_desc = padded(input.desc());
    let out_desc = padded(exec::output_desc(spec, params, &input.desc()).ok_or("no image output")?);
    let mut live: Vec<BufferHandle> = Vec::new();
    let r = (|| {
        let e = |e: yam_plugin_api::PluginError| e.to_string();
        let src = ex.allocate(in_desc).into_result().map_err(e)?;
        live.push(src);
        ex.upload(src, RSlice::from_slice(&strided_bytes(input, &in_desc)))
            .into_result()
            .map_err(e)?;
        let dst = ex.allocate(out_desc).into_result().map_err(e)?;
        live.push(dst);
        let canary = vec![CANARY; out_desc.required_bytes().unwrap_or(0)];
        ex.upload(dst, RSlice::from_slice(&canary))
            .into_result()
            .map_err(e)?;
        ex.execute(
            &exec::step_call(spec, params),
            RSlice::from_slice(&[src]),
            ROption::RSome(dst),
        )
        .into_result()
        .map_err(|e| format!("execute with padded rows failed: {e}"))?;
        ex.synchronize().into_result().map_err(e)?;
        let mut bytes = vec![0u8; canary.len()];
        ex.download(dst, RSliceMut::from_mut_slice(&mut bytes))
            .into_result()
            .map_err(e)?;
        let dtype = out_desc.dtype().expect("known");
        let (w, h, c, size) = (
            out_desc.width(),
            out_desc.height(),
            out_desc.channels(),
            dtype.size_bytes(),
        );
        let mut packed = Vec::with_capacity(w * h * c * size);
        let mut inside = vec![false; bytes.len()];
        for y in 0..h {
            let row = out_desc.byte_offset as usize + y * out_desc.strides[0] as usize * size;
            packed.extend_from_slice(&bytes[row..row + w * c * size]);
            inside[row..row + w * c * size]
                .iter_mut()
                .for_each(|b| *b = true);
        }
        if let Some(i) = (0..bytes.len()).find(|&i| !inside[i] && bytes[i] != CANARY) {
            return Err(format!(
                "wrote outside its output: byte {i} of the padded buffer (row stride {} elements, offset {} bytes) changed",
                out_desc.strides[0], out_desc.byte_offset
            ));
        }
        let data =
            yam_plugin_api::PixelData::from_ne_bytes(dtype, &packed).expect("whole elements");
        Image::new(w, h, c, data).map_err(|e| e.to_string())
    })();
    for h in live {
        let _ = ex.free(h);
    }
    r
}

/// Bad calls must come back as errors.
pub(super) fn error_checks(
    suite: &mut Suite,
    ex: &mut ExecutorBox,
    plugin: &Backend,
    kernels: &Kernels,
) {
    let Some((spec, declared)) = kernels.first() else {
        return;
    };
    let dtype = declared.dtypes[0];
    let c = declared.channels[0] as usize;
    let input = cases::input(spec.id, dtype, 8, 8, c, 1);
    let good = defaults(spec);

    // Invalid parameters, bypassing the host's validation.
    let mut bad = good.clone();
    let bad_param = spec.params.iter().find_map(|p| match p.kind {
        yam_plugin_api::catalogue::ParamKind::Int { odd: true, .. } => {
            Some((p.name, ParamValue::Int(4)))
        }
        yam_plugin_api::catalogue::ParamKind::Choice { .. } => {
            Some((p.name, ParamValue::Text("bogus".into())))
        }
        _ => None,
    });
    let (name, value) = bad_param.unwrap_or(("no_such_param", ParamValue::Int(1)));
    bad.set(name, value.clone());
    let r = exec::run_once(ex, spec, &bad, &input);
    suite.record(
        "errors",
        Some(spec.id),
        format!("errors/invalid_params/{}", spec.id),
        r.is_ok()
            .then(|| format!("accepted {name} = {value} without an error")),
    );

    // Wrong buffer sizes.
    let desc = TensorDesc::packed(dtype, 8, 8, c);
    let failure = match ex.allocate(desc).into_result() {
        Err(e) => Some(format!("allocate failed: {e}")),
        Ok(h) => {
            let short = vec![0u8; desc.required_bytes().unwrap_or(1) - 1];
            let up = ex.upload(h, RSlice::from_slice(&short)).into_result();
            let mut long = vec![0u8; desc.required_bytes().unwrap_or(0) + 1];
            let down = ex
                .download(h, RSliceMut::from_mut_slice(&mut long))
                .into_result();
            let freed = ex.free(h).into_result();
            let again = ex.free(h).into_result();
            let used = ex
                .execute(
                    &exec::step_call(spec, &good),
                    RSlice::from_slice(&[h]),
                    ROption::RNone,
                )
                .into_result();
            match () {
                _ if up.is_ok() => Some("accepted an upload one byte short of the buffer".into()),
                _ if down.is_ok() => {
                    Some("accepted a download into a destination one byte too long".into())
                }
                _ if freed.is_err() => Some(format!("free failed: {}", freed.unwrap_err())),
                _ if again.is_ok() => Some("freeing a buffer twice returned success".into()),
                _ if used.is_ok() => Some("executing on a freed buffer returned success".into()),
                _ => None,
            }
        }
    };
    suite.record("errors", None, "errors/buffers".into(), failure);

    // A zero-sized image: allocating it may fail, but running a kernel on it must return an
    // error, never success with nothing computed, and never a crash.
    let empty = TensorDesc::packed(dtype, 0, 0, c);
    let failure = match ex.allocate(empty).into_result() {
        Err(_) => None,
        Ok(h) => {
            let r = ex
                .execute(
                    &exec::step_call(spec, &good),
                    RSlice::from_slice(&[h]),
                    ROption::RSome(h),
                )
                .into_result();
            let _ = ex.free(h);
            r.is_ok()
                .then(|| "executed a kernel on a 0x0 image and reported success".to_string())
        }
    };
    suite.record(
        "errors",
        Some(spec.id),
        format!("errors/zero_sized/{}", spec.id),
        failure,
    );

    // A kernel the plugin did not declare.
    let undeclared = yam_plugin_api::CATALOGUE
        .iter()
        .find(|k| plugin.kernel(k.id).is_none());
    let id = undeclared.map_or("no_such_kernel", |k| k.id);
    let h = ex.allocate(desc).into_result();
    let failure = match h {
        Err(e) => Some(format!("allocate failed: {e}")),
        Ok(h) => {
            let _ = ex.upload(h, RSlice::from_slice(&input.data.to_ne_bytes()));
            let mut call = exec::step_call(spec, &good);
            call.kernel = id.into();
            let r = ex
                .execute(&call, RSlice::from_slice(&[h]), ROption::RNone)
                .into_result();
            let _ = ex.free(h);
            r.is_ok()
                .then(|| format!("executing undeclared kernel {id} returned success"))
        }
    };
    suite.record("errors", None, format!("errors/undeclared/{id}"), failure);
}

/// How `got` differs from the reference's `exp` beyond the kernel's tolerance, if it does.
fn differs(spec: &KernelSpec, exp: &exec::Produced, got: &exec::Produced) -> Option<String> {
    let image = match (&exp.image, &got.image) {
        (Some(e), Some(g)) => compare_images(e, g, tolerance(spec.id, e.dtype())),
        (None, None) => None,
        _ => Some("produced an image where none was expected, or none where one was".into()),
    };
    image.or_else(|| {
        compare_info(
            &serde_json::Value::Object(exp.info.clone()),
            &serde_json::Value::Object(got.info.clone()),
            "info",
        )
    })
}

/// Threads, memory accounting, determinism.
pub(super) fn robustness_checks(
    suite: &mut Suite,
    plugin: &Backend,
    pex: &mut ExecutorBox,
    rex: &mut ExecutorBox,
    kernels: &Kernels,
    deterministic: bool,
) {
    let seed = suite.opts.seed;
    if let Some((spec, d)) = kernels.first() {
        let params = defaults(spec);
        let input = cases::input(
            spec.id,
            d.dtypes[0],
            61,
            47,
            d.channels[0] as usize,
            cases::case_seed(seed, "threads"),
        );
        let expected = exec::run_once(rex, spec, &params, &input).ok();
        let device = plugin.first_device().map_or(0, |d| d.index);
        let results: Vec<Result<exec::Produced, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let mut ex = plugin.create_executor(device).map_err(|e| e.to_string())?;
                        let mut last = Err("no run".to_string());
                        for _ in 0..3 {
                            last = exec::run_once(&mut ex, spec, &params, &input)
                                .map_err(|e| e.to_string());
                        }
                        last
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
                .collect()
        });
        let failure = results
            .iter()
            .enumerate()
            .find_map(|(i, r)| match (r, &expected) {
                (Err(e), _) => Some(format!("thread {i}: {e}")),
                (Ok(got), Some(exp)) => differs(spec, exp, got)
                    .map(|m| format!("thread {i} got a different result than the reference: {m}")),
                _ => None,
            });
        suite.record(
            "robustness",
            Some(spec.id),
            format!("robustness/threads/{}", spec.id),
            failure,
        );
    }

    // Memory returns to its starting value after allocations are freed.
    let start = pex.memory_in_use();
    let desc = TensorDesc::packed(DType::U8, 256, 256, 1);
    let handles: Vec<_> = (0..16)
        .filter_map(|_| pex.allocate(desc).into_result().ok())
        .collect();
    let during = pex.memory_in_use();
    let freed = handles
        .iter()
        .filter(|h| pex.free(**h).into_result().is_ok())
        .count();
    let end = pex.memory_in_use();
    let failure = if handles.len() != 16 {
        Some(format!(
            "only {} of 16 allocations of 64 KiB succeeded",
            handles.len()
        ))
    } else if freed != 16 {
        Some(format!("only {freed} of 16 frees succeeded"))
    } else if end != start {
        Some(format!("memory in use was {start} bytes before 16 alloc/free pairs and {end} after (peak {during})"))
    } else {
        None
    };
    suite.record("robustness", None, "robustness/memory".into(), failure);

    if deterministic {
        for (spec, d) in kernels {
            let params = defaults(spec);
            let input = cases::input(
                spec.id,
                d.dtypes[0],
                61,
                47,
                d.channels[0] as usize,
                cases::case_seed(seed, "determinism"),
            );
            let a = exec::run_once(pex, spec, &params, &input);
            let b = exec::run_once(pex, spec, &params, &input);
            let failure = match (a, b) {
                (Ok(a), Ok(b)) if a == b => None,
                (Ok(_), Ok(_)) => {
                    Some("declared deterministic, but two runs on the same input differ".into())
                }
                (Err(e), _) | (_, Err(e)) => Some(format!("failed: {e}")),
            };
            suite.record(
                "robustness",
                Some(spec.id),
                format!("robustness/determinism/{}", spec.id),
                failure,
            );
        }
    }
}

fn median_ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..5)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[2]
}

/// Time per kernel on a 1024×1024 input, plugin and reference (informational).
pub(super) fn performance(
    pex: &mut ExecutorBox,
    rex: &mut ExecutorBox,
    kernels: &Kernels,
) -> Vec<super::PerfRow> {
    let mut rows = Vec::new();
    for (spec, d) in kernels {
        let (dtype, c) = (d.dtypes[0], d.channels[0] as usize);
        let params = defaults(spec);
        let input = cases::input(spec.id, dtype, 1024, 1024, c, 7);
        let plugin_ms = median_ms(|| {
            let _ = exec::run_once(pex, spec, &params, &input);
        });
        let cpu_ms = median_ms(|| {
            let _ = exec::run_once(rex, spec, &params, &input);
        });
        rows.push(super::PerfRow {
            kernel: spec.id.into(),
            input: format!("1024x1024 {dtype} x{c}"),
            plugin_ms,
            cpu_ms,
        });
    }
    rows
}
