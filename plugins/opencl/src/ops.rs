//! Catalogue kernels on the device: host-side set-up (taps, tables, temporaries) and the
//! launches, for strided input and output views.

use ocl::core::Mem;
use serde_json::{Map, Value};
use yam_plugin_api::{
    kernels::{
        AdaptiveMethod, AdaptiveThresholdParams, Border, BorderMode, BoxBlurParams,
        GaussianBlurParams, MedianBlurParams, MorphOp, MorphShape, SobelParams, ThresholdParams,
        ThresholdType,
    },
    DType, KernelCall, PluginError, TensorDesc,
};

use crate::{
    device::Gpu,
    error::ClError,
    ffi,
    kernels::Source,
    launch::{cl_type, elem_arg, launch, Arg, View},
    taps,
};

/// Kernel ids this backend implements (what its manifest declares).
pub const IMPLEMENTED: &[&str] = &[
    "gaussian_blur",
    "box_blur",
    "median_blur",
    "sobel",
    "erode",
    "dilate",
    "morphology",
    "threshold",
    "adaptive_threshold",
];

/// Runs `call` reading `src` and writing `dst`; returns the report values.
pub fn run(
    gpu: &mut Gpu,
    call: &KernelCall,
    src: View<'_>,
    dst: View<'_>,
) -> Result<Map<String, Value>, PluginError> {
    let mut info = Map::new();
    match call {
        KernelCall::GaussianBlur(p) => gaussian(gpu, p, src, dst)?,
        KernelCall::BoxBlur(p) => box_blur(gpu, p, src, dst)?,
        KernelCall::Sobel(p) => sobel(gpu, p, src, dst)?,
        KernelCall::MedianBlur(p) => median(gpu, p, src, dst)?,
        KernelCall::Erode(p) | KernelCall::Dilate(p) => {
            let is_min = matches!(call, KernelCall::Erode(_));
            morph(
                gpu,
                src,
                dst,
                p.shape,
                p.ksize,
                p.iterations,
                p.border,
                is_min,
            )?
        }
        KernelCall::Morphology(p) => morphology(gpu, p, src, dst)?,
        KernelCall::Threshold(p) => {
            if let Some(t) = threshold(gpu, p, src, dst)? {
                info.insert("otsu_threshold".into(), Value::from(t));
            }
        }
        KernelCall::AdaptiveThreshold(p) => adaptive(gpu, p, src, dst)?,
        other => {
            return Err(PluginError::unsupported(format!(
                "kernel `{}` is not implemented by the opencl backend",
                other.id()
            )))
        }
    }
    Ok(info)
}

fn dtype_of(v: &View<'_>) -> DType {
    v.desc.dtype().expect("checked by the executor")
}

fn global(v: &View<'_>) -> [usize; 2] {
    [v.desc.width(), v.desc.height()]
}

/// The host's border mode number in `common.cl`.
fn border_code(mode: BorderMode) -> i32 {
    match mode {
        BorderMode::Reflect101 => 0,
        BorderMode::Reflect => 1,
        BorderMode::Replicate => 2,
        BorderMode::Constant => 3,
        BorderMode::Wrap => 4,
    }
}

/// `real` in OpenCL C on this device.
fn real(gpu: &Gpu) -> &'static str {
    if gpu.found.fp64 {
        "double"
    } else {
        "float"
    }
}

/// A device buffer holding `values` (native-endian bytes).
fn upload_values<T: ocl::core::OclPrm>(
    gpu: &Gpu,
    values: &[T],
    what: &str,
) -> Result<Mem, ClError> {
    let bytes = ffi::as_bytes(values);
    let mem = gpu.buffer(bytes.len())?;
    ffi::write(&gpu.queue, &mem, bytes).map_err(ClError::api(format!("upload {what}")))?;
    Ok(mem)
}

/// Taps as `real` values.
fn real_taps(gpu: &Gpu, taps: &[f64], what: &str) -> Result<Mem, ClError> {
    if gpu.found.fp64 {
        upload_values(gpu, taps, what)
    } else {
        let t: Vec<f32> = taps.iter().map(|&v| v as f32).collect();
        upload_values(gpu, &t, what)
    }
}

/// A packed descriptor of `dtype` with `src`'s shape, for temporaries.
fn packed_like(src: &TensorDesc, dtype: DType) -> TensorDesc {
    TensorDesc::packed(dtype, src.height(), src.width(), src.channels())
}

fn temp(gpu: &Gpu, desc: &TensorDesc) -> Result<Mem, ClError> {
    gpu.buffer(desc.required_bytes().unwrap_or(0))
}

/// Finishing conversions of `sep_cols` (see `separable.cl`).
#[derive(Debug, Clone, Copy)]
#[repr(i32)]
enum Finish {
    Gauss8 = 0,
    Gauss16 = 1,
    Cast = 2,
    I16Int = 3,
    I16Real = 4,
    ScaleDelta = 5,
    BoxFast = 6,
    BoxRound = 7,
    BoxSat = 8,
    Scale = 9,
}

/// Everything `sep_cols` needs besides the taps.
#[derive(Debug, Clone, Copy)]
struct SepPlan {
    /// Symmetric taps summed in pairs, centre first (the f32 Gaussian's formula; see
    /// `separable.cl`).
    symmetric: bool,
    /// OpenCL types: row sums, column sums, output.
    h: &'static str,
    v: &'static str,
    o: &'static str,
    finish: Finish,
    ia: i64,
    ib: i64,
    fa: f64,
    fb: f64,
    omin: i64,
    omax: i64,
}

impl SepPlan {
    fn new(h: &'static str, v: &'static str, o: &'static str, finish: Finish) -> SepPlan {
        SepPlan {
            symmetric: false,
            h,
            v,
            o,
            finish,
            ia: 0,
            ib: 0,
            fa: 0.0,
            fb: 0.0,
            omin: 0,
            omax: 0,
        }
    }
}

/// Row pass then column pass with taps already on the device.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site per filter, all named"
)]
fn separable(
    gpu: &mut Gpu,
    src: View<'_>,
    dst: View<'_>,
    kx: (&Mem, usize),
    ky: (&Mem, usize),
    h_size: usize,
    border: Border,
    plan: SepPlan,
) -> Result<(), PluginError> {
    let dtype = dtype_of(&src);
    let defines = format!(
        "-DT={} -DH={} -DV={} -DO={} -DO_FLOAT={}",
        cl_type(dtype),
        plan.h,
        plan.v,
        plan.o,
        u8::from(plan.o == "float")
    );
    let (h, w, c) = src.dims();
    let tmp = gpu.buffer(src.desc.element_count() * h_size)?;
    let mode = Arg::I32(border_code(border.mode));
    let symm = Arg::I32(i32::from(plan.symmetric));
    let cval = elem_arg(dtype, border.value);
    let [a0, a1, a2, a3, a4] = src.args();
    launch(
        gpu,
        Source::Separable,
        &defines,
        "sep_rows",
        &[
            a0,
            a1,
            a2,
            a3,
            a4,
            Arg::I32(w),
            Arg::I32(h),
            Arg::I32(c),
            Arg::Mem(kx.0),
            Arg::I32(kx.1 as i32),
            symm,
            mode,
            cval,
            Arg::Mem(&tmp),
        ],
        global(&src),
    )?;
    let [d0, d1, d2, d3, d4] = dst.args();
    launch(
        gpu,
        Source::Separable,
        &defines,
        "sep_cols",
        &[
            Arg::Mem(&tmp),
            Arg::I32(w),
            Arg::I32(h),
            Arg::I32(c),
            Arg::Mem(kx.0),
            Arg::I32(kx.1 as i32),
            Arg::Mem(ky.0),
            Arg::I32(ky.1 as i32),
            symm,
            mode,
            cval,
            Arg::I32(plan.finish as i32),
            Arg::I64(plan.ia),
            Arg::I64(plan.ib),
            Arg::Real(plan.fa),
            Arg::Real(plan.fb),
            Arg::I64(plan.omin),
            Arg::I64(plan.omax),
            d0,
            d1,
            d2,
            d3,
            d4,
        ],
        global(&src),
    )?;
    // The temporaries must outlive the queued kernels.
    gpu.finish()?;
    Ok(())
}

fn gaussian(
    gpu: &mut Gpu,
    p: &GaussianBlurParams,
    src: View<'_>,
    dst: View<'_>,
) -> Result<(), PluginError> {
    let dtype = dtype_of(&src);
    let ((nx, sx), (ny, sy)) = taps::gaussian_sizes(p, dtype)?;
    match dtype {
        DType::U8 | DType::U16 => {
            let bits = if dtype == DType::U8 { 8 } else { 16 };
            let kx = upload_values(gpu, &taps::gaussian_kernel_fixed(nx, sx, bits), "taps")?;
            let kyv = taps::gaussian_kernel_fixed(ny, sy, bits);
            let (ky, plan) = if dtype == DType::U8 {
                let mut plan = SepPlan::new("uint", "uint", "uchar", Finish::Gauss8);
                plan.omax = 255;
                (upload_values(gpu, &kyv, "taps")?, plan)
            } else {
                let wide: Vec<u64> = kyv.iter().map(|&t| u64::from(t)).collect();
                let mut plan = SepPlan::new("uint", "ulong", "ushort", Finish::Gauss16);
                plan.omax = 65535;
                (upload_values(gpu, &wide, "taps")?, plan)
            };
            separable(gpu, src, dst, (&kx, nx), (&ky, ny), 4, p.border, plan)
        }
        DType::F32 => {
            // float sums, tap pairs first, in the CPU backend's order, unfused (FP_CONTRACT
            // OFF): the results are the CPU's bit for bit, with or without fp64.
            let kx = upload_values(gpu, &taps::gaussian_kernel_f32(nx, sx), "taps")?;
            let ky = upload_values(gpu, &taps::gaussian_kernel_f32(ny, sy), "taps")?;
            let mut plan = SepPlan::new("float", "float", "float", Finish::Cast);
            plan.symmetric = true;
            separable(gpu, src, dst, (&kx, nx), (&ky, ny), 4, p.border, plan)
        }
        other => Err(PluginError::invalid(format!(
            "gaussian_blur: dtype {other} is not supported (u8, u16 or f32)"
        ))),
    }
}

fn box_blur(
    gpu: &mut Gpu,
    p: &BoxBlurParams,
    src: View<'_>,
    dst: View<'_>,
) -> Result<(), PluginError> {
    let k = p.ksize as usize;
    if k % 2 == 0 || k > 255 {
        return Err(PluginError::invalid(format!(
            "box_blur: ksize {k} must be odd, 1 to 255"
        )));
    }
    let d = (k * k) as u32;
    let dtype = dtype_of(&src);
    match dtype {
        DType::U8 | DType::U16 => {
            let ones = upload_values(gpu, &vec![1u32; k], "taps")?;
            let (o, max) = if dtype == DType::U8 {
                ("uchar", 255)
            } else {
                ("ushort", 65535)
            };
            let mut plan = SepPlan::new("uint", "uint", o, Finish::BoxSat);
            plan.omax = max;
            // A 1x1 window is the identity (the CPU backend skips the division too).
            if p.normalize && d > 1 {
                if dtype == DType::U8 && d <= 256 {
                    let (scale, delta) = taps::u8_div_constants(d);
                    plan.finish = Finish::BoxFast;
                    plan.ia = scale as i64;
                    plan.ib = delta as i64;
                } else {
                    // round(S / d): S·(1/d) in f64 never lands within 1/(2d) of a tie (d is
                    // odd), so rounding it half to even equals this integer rounding.
                    plan.finish = Finish::BoxRound;
                    plan.ia = i64::from(d);
                }
            }
            separable(gpu, src, dst, (&ones, k), (&ones, k), 4, p.border, plan)
        }
        DType::F32 => {
            let ones = real_taps(gpu, &vec![1.0; k], "taps")?;
            let r = real(gpu);
            let mut plan = SepPlan::new(r, r, "float", Finish::Scale);
            plan.fa = if p.normalize { 1.0 / f64::from(d) } else { 1.0 };
            let size = if gpu.found.fp64 { 8 } else { 4 };
            separable(gpu, src, dst, (&ones, k), (&ones, k), size, p.border, plan)
        }
        other => Err(PluginError::invalid(format!(
            "box_blur: dtype {other} is not supported (u8, u16 or f32)"
        ))),
    }
}

fn sobel(gpu: &mut Gpu, p: &SobelParams, src: View<'_>, dst: View<'_>) -> Result<(), PluginError> {
    let invalid = |what: String| Err(PluginError::invalid(format!("sobel: {what}")));
    if src.desc.channels() != 1 {
        return invalid(format!(
            "needs 1 channel, input has {}",
            src.desc.channels()
        ));
    }
    if ![1, 3, 5, 7].contains(&p.ksize) {
        return invalid(format!("ksize {} must be 1, 3, 5 or 7", p.ksize));
    }
    if p.dx + p.dy == 0 || p.dx > 2 || p.dy > 2 {
        return invalid(format!(
            "dx {} / dy {}: each 0 to 2 and dx + dy >= 1",
            p.dx, p.dy
        ));
    }
    if p.ksize > 1 && p.dx.max(p.dy) >= p.ksize {
        return invalid(format!(
            "dx {} / dy {} must be below ksize {}",
            p.dx, p.dy, p.ksize
        ));
    }
    if !p.scale.is_finite() || !p.delta.is_finite() {
        return invalid(format!(
            "scale {} / delta {} must be finite",
            p.scale, p.delta
        ));
    }
    let kxv = taps::deriv_kernel(p.ksize as usize, p.dx as usize);
    let kyv = taps::deriv_kernel(p.ksize as usize, p.dy as usize);
    let dtype = dtype_of(&src);
    match (dtype, p.out) {
        (DType::U8, DType::I16) | (DType::U8 | DType::U16, DType::F32) => {
            let kx = upload_values(gpu, &kxv, "taps")?;
            let ky = upload_values(gpu, &kyv, "taps")?;
            let plan = if p.out == DType::I16 {
                let mut plan = SepPlan::new("int", "int", "short", Finish::I16Real);
                plan.omin = -32768;
                plan.omax = 32767;
                plan.fa = p.scale;
                plan.fb = p.delta;
                let s32 = p.scale as f32;
                if s32.fract() == 0.0 && s32.abs() <= 16_777_216.0 {
                    plan.finish = Finish::I16Int;
                    plan.ia = s32 as i64;
                    plan.ib = p
                        .delta
                        .round_ties_even()
                        .clamp(f64::from(i32::MIN), f64::from(i32::MAX))
                        as i64;
                }
                plan
            } else {
                let mut plan = SepPlan::new("int", "int", "float", Finish::ScaleDelta);
                plan.fa = p.scale;
                plan.fb = p.delta;
                plan
            };
            separable(
                gpu,
                src,
                dst,
                (&kx, kxv.len()),
                (&ky, kyv.len()),
                4,
                p.border,
                plan,
            )
        }
        (DType::F32, DType::F32) => {
            let to_real = |v: &[i32]| v.iter().map(|&t| f64::from(t)).collect::<Vec<_>>();
            let kx = real_taps(gpu, &to_real(&kxv), "taps")?;
            let ky = real_taps(gpu, &to_real(&kyv), "taps")?;
            let r = real(gpu);
            let mut plan = SepPlan::new(r, r, "float", Finish::ScaleDelta);
            plan.fa = p.scale;
            plan.fb = p.delta;
            let size = if gpu.found.fp64 { 8 } else { 4 };
            separable(
                gpu,
                src,
                dst,
                (&kx, kxv.len()),
                (&ky, kyv.len()),
                size,
                p.border,
                plan,
            )
        }
        (d, out) => invalid(format!(
            "{d} input to {out} output is not supported (u8 -> i16 | f32, u16 -> f32, f32 -> f32)"
        )),
    }
}

fn type_defines(dtype: DType) -> String {
    format!(
        "-DT={} -DT_FLOAT={}",
        cl_type(dtype),
        u8::from(dtype == DType::F32)
    )
}

fn median(
    gpu: &mut Gpu,
    p: &MedianBlurParams,
    src: View<'_>,
    dst: View<'_>,
) -> Result<(), PluginError> {
    let dtype = dtype_of(&src);
    let k = p.ksize;
    if k < 3 || k % 2 == 0 {
        return Err(PluginError::invalid(format!(
            "median_blur: ksize {k} must be odd and at least 3"
        )));
    }
    let name = match dtype {
        DType::U8 => "median_hist",
        DType::U16 | DType::F32 if k <= 5 => "median_small",
        _ => {
            return Err(PluginError::invalid(format!(
                "median_blur: ksize {k} needs u8 input ({dtype} supports 3 or 5)"
            )))
        }
    };
    let (h, w, c) = src.dims();
    let [a0, a1, a2, a3, a4] = src.args();
    let [d0, d1, d2, d3, d4] = dst.args();
    let args = [
        a0,
        a1,
        a2,
        a3,
        a4,
        Arg::I32(w),
        Arg::I32(h),
        Arg::I32(c),
        Arg::I32(k as i32),
        d0,
        d1,
        d2,
        d3,
        d4,
    ];
    launch(
        gpu,
        Source::Median,
        &type_defines(dtype),
        name,
        &args,
        global(&src),
    )?;
    Ok(())
}

/// The extreme value that never wins: dtype max for erosion, min for dilation.
fn neutral(dtype: DType, is_min: bool) -> f64 {
    match (dtype, is_min) {
        (DType::U8, true) => 255.0,
        (DType::U16, true) => 65535.0,
        (_, true) => f64::from(f32::MAX),
        (DType::F32, false) => -f64::from(f32::MAX),
        (_, false) => 0.0,
    }
}

fn copy_view(gpu: &mut Gpu, src: View<'_>, dst: View<'_>) -> Result<(), PluginError> {
    let (h, w, c) = src.dims();
    let [a0, a1, a2, a3, a4] = src.args();
    let [d0, d1, d2, d3, d4] = dst.args();
    let args = [
        a0,
        a1,
        a2,
        a3,
        a4,
        Arg::I32(w),
        Arg::I32(h),
        Arg::I32(c),
        d0,
        d1,
        d2,
        d3,
        d4,
    ];
    let defines = type_defines(dtype_of(&src));
    launch(
        gpu,
        Source::Morph,
        &defines,
        "copy_view",
        &args,
        global(&src),
    )?;
    Ok(())
}

/// Erodes (`is_min`) or dilates `src` into `dst` as the CPU backend does: nothing for a 1×1
/// element, one larger rect for a rect element with several iterations, else the element
/// applied `iterations` times.
#[allow(clippy::too_many_arguments, reason = "mirrors the kernel's parameters")]
fn morph(
    gpu: &mut Gpu,
    src: View<'_>,
    dst: View<'_>,
    shape: MorphShape,
    ksize: u32,
    iterations: u32,
    border: Option<Border>,
    is_min: bool,
) -> Result<(), PluginError> {
    let what = if is_min { "erode" } else { "dilate" };
    if ksize == 0 || ksize % 2 == 0 {
        return Err(PluginError::invalid(format!(
            "{what}: ksize {ksize} is not allowed (an odd size >= 1)"
        )));
    }
    let dtype = dtype_of(&src);
    if iterations == 0 || ksize == 1 {
        return copy_view(gpu, src, dst);
    }
    let (mode, cval) = match border {
        None => (BorderMode::Constant, neutral(dtype, is_min)),
        Some(Border {
            mode: BorderMode::Constant,
            value,
        }) => (BorderMode::Constant, value),
        Some(b) => (b.mode, 0.0),
    };
    let ctx = MorphCtx {
        defines: type_defines(dtype),
        mode: border_code(mode),
        cval: elem_arg(dtype, cval),
        is_min: i32::from(is_min),
    };
    let k = ksize as usize;
    let runs = taps::element_runs(shape, k);
    if runs.iter().all(|&(a, b)| a == 0 && b == k) {
        let big = k + (iterations as usize - 1) * (k - 1);
        return rect(gpu, &ctx, src, dst, big);
    }
    let tdesc = packed_like(&src.desc, dtype);
    // Ping-pong temporaries between iterations: none for one, one for two, else two.
    let mut bufs: Vec<Mem> = Vec::new();
    for _ in 0..(iterations as usize - 1).min(2) {
        bufs.push(temp(gpu, &tdesc)?);
    }
    for i in 0..iterations as usize {
        let input = if i == 0 {
            src
        } else {
            View::new(&bufs[(i - 1) % 2], tdesc)?
        };
        let output = if i + 1 == iterations as usize {
            dst
        } else {
            View::new(&bufs[i % 2], tdesc)?
        };
        general(gpu, &ctx, input, output, &runs)?;
    }
    gpu.finish()?;
    Ok(())
}

/// Per-call constants of the morphology kernels.
#[derive(Debug)]
struct MorphCtx {
    defines: String,
    mode: i32,
    cval: Arg<'static>,
    is_min: i32,
}

fn rect(
    gpu: &mut Gpu,
    m: &MorphCtx,
    src: View<'_>,
    dst: View<'_>,
    k: usize,
) -> Result<(), PluginError> {
    let (h, w, c) = src.dims();
    let size = dtype_of(&src).size_bytes();
    let tmp = gpu.buffer(src.desc.element_count() * size)?;
    let [a0, a1, a2, a3, a4] = src.args();
    let common = [Arg::I32(w), Arg::I32(h), Arg::I32(c), Arg::I32(k as i32)];
    let mut args = vec![a0, a1, a2, a3, a4];
    args.extend(common);
    args.extend([m.mode_arg(), m.cval, Arg::I32(m.is_min), Arg::Mem(&tmp)]);
    launch(
        gpu,
        Source::Morph,
        &m.defines,
        "rect_rows",
        &args,
        global(&src),
    )?;
    let mut args = vec![Arg::Mem(&tmp)];
    args.extend(common);
    args.extend([m.mode_arg(), m.cval, Arg::I32(m.is_min)]);
    args.extend(dst.args());
    launch(
        gpu,
        Source::Morph,
        &m.defines,
        "rect_cols",
        &args,
        global(&src),
    )?;
    gpu.finish()?;
    Ok(())
}

impl MorphCtx {
    fn mode_arg(&self) -> Arg<'static> {
        Arg::I32(self.mode)
    }
}

/// One application of an element given as runs: sparse tables of the padded rows, then two
/// lookups per element row.
fn general(
    gpu: &mut Gpu,
    m: &MorphCtx,
    src: View<'_>,
    dst: View<'_>,
    runs: &[(usize, usize)],
) -> Result<(), PluginError> {
    let (h, w, c) = src.dims();
    let k = runs.len();
    let r = k / 2;
    let longest = runs.iter().map(|&(a, b)| b - a).max().unwrap_or(1).max(1);
    let levels = longest.ilog2() as usize + 1;
    let size = dtype_of(&src).size_bytes();
    let plane = src.desc.height() * (src.desc.width() + 2 * r) * src.desc.channels();
    let table = gpu.buffer(levels * plane * size)?;
    let padded = [src.desc.width() + 2 * r, src.desc.height()];
    let mut args = src.args().to_vec();
    args.extend([
        Arg::I32(w),
        Arg::I32(h),
        Arg::I32(c),
        Arg::I32(r as i32),
        m.mode_arg(),
        m.cval,
        Arg::Mem(&table),
    ]);
    launch(
        gpu,
        Source::Morph,
        &m.defines,
        "table_level0",
        &args,
        padded,
    )?;
    for p in 1..levels {
        let args = [
            Arg::Mem(&table),
            Arg::I32(w),
            Arg::I32(h),
            Arg::I32(c),
            Arg::I32(r as i32),
            Arg::I32(p as i32),
            Arg::I32(m.is_min),
        ];
        launch(gpu, Source::Morph, &m.defines, "table_level", &args, padded)?;
    }
    let packed: Vec<i32> = runs
        .iter()
        .flat_map(|&(a, b)| {
            let level = if b > a { (b - a).ilog2() as i32 } else { 0 };
            [a as i32, b as i32, level, 0]
        })
        .collect();
    let runs_mem = upload_values(gpu, &packed, "element runs")?;
    let mut args = vec![
        Arg::Mem(&table),
        Arg::I32(w),
        Arg::I32(h),
        Arg::I32(c),
        Arg::I32(k as i32),
        Arg::Mem(&runs_mem),
        m.mode_arg(),
        m.cval,
        Arg::I32(m.is_min),
    ];
    args.extend(dst.args());
    launch(
        gpu,
        Source::Morph,
        &m.defines,
        "runs_apply",
        &args,
        global(&src),
    )?;
    gpu.finish()?;
    Ok(())
}

fn morphology(
    gpu: &mut Gpu,
    p: &yam_plugin_api::kernels::MorphologyParams,
    src: View<'_>,
    dst: View<'_>,
) -> Result<(), PluginError> {
    let dtype = dtype_of(&src);
    let tdesc = packed_like(&src.desc, dtype);
    let (m1, m2) = (temp(gpu, &tdesc)?, temp(gpu, &tdesc)?);
    let (t1, t2) = (View::new(&m1, tdesc)?, View::new(&m2, tdesc)?);
    let (shape, k, it) = (p.shape, p.ksize, p.iterations);
    let ero = |gpu: &mut Gpu, a: View<'_>, b: View<'_>| morph(gpu, a, b, shape, k, it, None, true);
    let dil = |gpu: &mut Gpu, a: View<'_>, b: View<'_>| morph(gpu, a, b, shape, k, it, None, false);
    match p.op {
        MorphOp::Open => {
            ero(gpu, src, t1)?;
            dil(gpu, t1, dst)
        }
        MorphOp::Close => {
            dil(gpu, src, t1)?;
            ero(gpu, t1, dst)
        }
        MorphOp::Gradient => {
            dil(gpu, src, t1)?;
            ero(gpu, src, t2)?;
            difference(gpu, t1, t2, dst)
        }
        MorphOp::Tophat => {
            ero(gpu, src, t1)?;
            dil(gpu, t1, t2)?;
            difference(gpu, src, t2, dst)
        }
        MorphOp::Blackhat => {
            dil(gpu, src, t1)?;
            ero(gpu, t1, t2)?;
            difference(gpu, t2, src, dst)
        }
    }
}

fn difference(gpu: &mut Gpu, a: View<'_>, b: View<'_>, dst: View<'_>) -> Result<(), PluginError> {
    let (h, w, c) = a.dims();
    let mut args = a.args().to_vec();
    args.extend(b.args());
    args.extend([Arg::I32(w), Arg::I32(h), Arg::I32(c)]);
    args.extend(dst.args());
    let defines = type_defines(dtype_of(&a));
    launch(
        gpu,
        Source::Morph,
        &defines,
        "difference",
        &args,
        global(&a),
    )?;
    gpu.finish()?;
    Ok(())
}

/// The CPU backend's integer threshold table over every value of a `levels`-level type.
fn threshold_lut(levels: usize, thresh: f64, p: &ThresholdParams) -> Vec<u32> {
    let t = thresh.floor() as i64;
    let maxval = p.maxval.round_ties_even().clamp(0.0, (levels - 1) as f64) as u32;
    let trunc = t.clamp(0, levels as i64 - 1) as u32;
    (0..levels)
        .map(|v| {
            let above = v as i64 > t;
            let same = v as u32;
            match (p.kind, above) {
                (ThresholdType::Binary, true) => maxval,
                (ThresholdType::Binary, false) => 0,
                (ThresholdType::BinaryInv, true) => 0,
                (ThresholdType::BinaryInv, false) => maxval,
                (ThresholdType::Trunc, true) => trunc,
                (ThresholdType::Trunc, false) => same,
                (ThresholdType::ToZero, true) => same,
                (ThresholdType::ToZero, false) => 0,
                (ThresholdType::ToZeroInv, true) => 0,
                (ThresholdType::ToZeroInv, false) => same,
            }
        })
        .collect()
}

fn threshold(
    gpu: &mut Gpu,
    p: &ThresholdParams,
    src: View<'_>,
    dst: View<'_>,
) -> Result<Option<f64>, PluginError> {
    if src.desc.channels() != 1 {
        return Err(PluginError::invalid(format!(
            "threshold: input must have 1 channel, got {}",
            src.desc.channels()
        )));
    }
    let dtype = dtype_of(&src);
    let defines = type_defines(dtype);
    let (h, w, _) = src.dims();
    let levels = match dtype {
        DType::U8 => 256,
        DType::U16 => 65536,
        DType::F32 if p.otsu => {
            return Err(PluginError::invalid(
                "threshold: otsu needs u8 or u16 input, got f32",
            ))
        }
        DType::F32 => {
            let mut args = src.args().to_vec();
            args.extend([
                Arg::I32(w),
                Arg::I32(h),
                Arg::F32(p.thresh as f32),
                Arg::F32(p.maxval as f32),
                Arg::I32(p.kind as i32),
            ]);
            args.extend(dst.args());
            launch(
                gpu,
                Source::Threshold,
                &defines,
                "thresh_f32",
                &args,
                global(&src),
            )?;
            return Ok(None);
        }
        other => {
            return Err(PluginError::unsupported(format!(
                "threshold: dtype {other} is not supported (u8, u16, f32)"
            )))
        }
    };
    let otsu = if p.otsu {
        let hist = upload_values(gpu, &vec![0u32; levels], "histogram")?;
        let mut args = src.args().to_vec();
        args.extend([Arg::I32(w), Arg::I32(h), Arg::Mem(&hist)]);
        launch(
            gpu,
            Source::Threshold,
            &defines,
            "histogram",
            &args,
            global(&src),
        )?;
        let mut bytes = vec![0u8; levels * 4];
        ffi::read(&gpu.queue, &hist, &mut bytes).map_err(ClError::api("download histogram"))?;
        let counts: Vec<u64> = bytes
            .chunks_exact(4)
            .map(|b| u64::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])))
            .collect();
        Some(taps::otsu_threshold(&counts))
    } else {
        None
    };
    let lut = threshold_lut(levels, otsu.unwrap_or(p.thresh), p);
    let lut_mem = if dtype == DType::U8 {
        let v: Vec<u8> = lut.iter().map(|&x| x as u8).collect();
        upload_values(gpu, &v, "threshold table")?
    } else {
        let v: Vec<u16> = lut.iter().map(|&x| x as u16).collect();
        upload_values(gpu, &v, "threshold table")?
    };
    let mut args = src.args().to_vec();
    args.extend([Arg::I32(w), Arg::I32(h), Arg::Mem(&lut_mem)]);
    args.extend(dst.args());
    launch(
        gpu,
        Source::Threshold,
        &defines,
        "lut_apply",
        &args,
        global(&src),
    )?;
    gpu.finish()?;
    Ok(otsu)
}

/// OpenCV `adaptiveThreshold` as the CPU backend computes it: the local mean (the u8 box
/// mean, or the Gaussian of `block_size` with f32-cast taps summed in double and rounded half
/// to even), both with replicate borders, then the comparison with `ceil(c)` (binary) or
/// `floor(c)` (binary_inv).
fn adaptive(
    gpu: &mut Gpu,
    p: &AdaptiveThresholdParams,
    src: View<'_>,
    dst: View<'_>,
) -> Result<(), PluginError> {
    let invalid = |what: String| Err(PluginError::invalid(format!("adaptive_threshold: {what}")));
    let dtype = dtype_of(&src);
    if dtype != DType::U8 {
        return invalid(format!("dtype {dtype} is not supported (u8)"));
    }
    if src.desc.channels() != 1 {
        return invalid(format!(
            "{} channels are not supported (1)",
            src.desc.channels()
        ));
    }
    let block = p.block_size;
    if block < 3 || block % 2 == 0 || block > 255 {
        return invalid(format!("block_size {block} must be odd, 3 to 255"));
    }
    if !p.c.is_finite() || !p.maxval.is_finite() {
        return invalid(format!("c {} and maxval {} must be finite", p.c, p.maxval));
    }
    // |src - mean| <= 255, so clamping the rounded delta keeps every comparison.
    let (idelta, inv) = match p.kind {
        ThresholdType::Binary => (p.c.ceil(), 0),
        ThresholdType::BinaryInv => (p.c.floor(), 1),
        other => {
            return invalid(format!(
                "type {other:?} is not supported (binary, binary_inv)"
            ))
        }
    };
    let idelta = idelta.clamp(-1000.0, 1000.0) as i32;
    // A negative maxval saturates to 0: an all-zero image, as on the CPU backend.
    let imax = p.maxval.round_ties_even().clamp(0.0, 255.0) as u8;
    let replicate = Border {
        mode: BorderMode::Replicate,
        value: 0.0,
    };
    let mdesc = packed_like(&src.desc, DType::U8);
    let mean_mem = temp(gpu, &mdesc)?;
    let mean = View::new(&mean_mem, mdesc)?;
    match p.method {
        AdaptiveMethod::Mean => {
            let bp = BoxBlurParams {
                ksize: block,
                normalize: true,
                border: replicate,
            };
            box_blur(gpu, &bp, src, mean)?;
        }
        AdaptiveMethod::Gaussian => {
            if !gpu.found.fp64 {
                return Err(PluginError::unsupported(
                    "adaptive_threshold: the gaussian method needs a device with cl_khr_fp64",
                ));
            }
            let k = block as usize;
            let t: Vec<f64> = taps::gaussian_kernel(k, 0.0)
                .into_iter()
                .map(|v| f64::from(v as f32))
                .collect();
            let taps_mem = upload_values(gpu, &t, "taps")?;
            // rint(acc * 1 + 0) clamped to [0, 255]: the CPU's round half to even.
            let mut plan = SepPlan::new("double", "double", "uchar", Finish::I16Real);
            plan.fa = 1.0;
            plan.omax = 255;
            separable(
                gpu,
                src,
                mean,
                (&taps_mem, k),
                (&taps_mem, k),
                8,
                replicate,
                plan,
            )?;
        }
    }
    let (h, w, _) = src.dims();
    let mut args = src.args().to_vec();
    args.extend([
        Arg::Mem(&mean_mem),
        Arg::I32(w),
        Arg::I32(h),
        Arg::I32(idelta),
        Arg::I32(inv),
        Arg::U8(imax),
    ]);
    args.extend(dst.args());
    launch(
        gpu,
        Source::Threshold,
        &type_defines(DType::U8),
        "adaptive_cmp",
        &args,
        global(&src),
    )?;
    // The mean buffer must outlive the queued kernel.
    gpu.finish()?;
    Ok(())
}
