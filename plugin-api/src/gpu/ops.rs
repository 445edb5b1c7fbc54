//! Catalogue kernels on the device: host-side set-up (taps, tables, temporaries) and the
//! launches, for strided input and output views. The host-side math is
//! `yam_plugin_api::exact`, the same as the CPU and OpenCL backends'.

use serde_json::{Map, Value};

use crate::{
    exact,
    gpu::{
        kernels::{type_defines, SepTypes, Source},
        Arg, Device, Launch, View,
    },
    kernels::{
        AdaptiveMethod, AdaptiveThresholdParams, Border, BorderMode, BoxBlurParams,
        GaussianBlurParams, MedianBlurParams, MorphOp, MorphShape, MorphologyParams, SobelParams,
        ThresholdParams, ThresholdType,
    },
    DType, KernelCall, PluginError,
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
    "connected_components",
];

/// Runs `call` reading `src` and writing `dst`; returns the report values.
pub fn run<D: Device>(
    gpu: &mut D,
    call: &KernelCall,
    src: View,
    dst: View,
) -> Result<Map<String, Value>, PluginError> {
    let mut info = Map::new();
    match call {
        KernelCall::GaussianBlur(p) => gaussian(gpu, p, src, dst)?,
        KernelCall::BoxBlur(p) => box_blur(gpu, p, src, dst)?,
        KernelCall::Sobel(p) => sobel(gpu, p, src, dst)?,
        KernelCall::MedianBlur(p) => median(gpu, p, src, dst)?,
        KernelCall::Erode(p) | KernelCall::Dilate(p) => {
            let is_min = matches!(call, KernelCall::Erode(_));
            let m = Morph {
                shape: p.shape,
                ksize: p.ksize,
                iterations: p.iterations,
                border: p.border,
                is_min,
            };
            morph(gpu, src, dst, &m)?
        }
        KernelCall::Morphology(p) => morphology(gpu, p, src, dst)?,
        KernelCall::Threshold(p) => {
            if let Some(t) = threshold(gpu, p, src, dst)? {
                info.insert("otsu_threshold".into(), Value::from(t));
            }
        }
        KernelCall::AdaptiveThreshold(p) => adaptive(gpu, p, src, dst)?,
        KernelCall::ConnectedComponents { connectivity } => {
            let labels = connected_components(gpu, *connectivity, src, dst)?;
            info.insert("labels".into(), Value::from(labels));
        }
        other => {
            return Err(PluginError::unsupported(format!(
                "kernel `{}` is not implemented by the {} backend",
                other.id(),
                gpu.backend()
            )))
        }
    }
    Ok(info)
}

/// The border mode number of `common.cuh`.
fn border_code(mode: BorderMode) -> i32 {
    match mode {
        BorderMode::Reflect101 => 0,
        BorderMode::Reflect => 1,
        BorderMode::Replicate => 2,
        BorderMode::Constant => 3,
        BorderMode::Wrap => 4,
    }
}

/// A value of an image's element type, as a kernel argument (`T cval`).
fn elem_arg(dtype: DType, v: f64) -> Arg {
    match dtype {
        DType::U8 => Arg::U8(v.round_ties_even().clamp(0.0, 255.0) as u8),
        DType::U16 => Arg::U16(v.round_ties_even().clamp(0.0, 65535.0) as u16),
        _ => Arg::F32(v as f32),
    }
}

/// Native-endian bytes of plain numbers.
trait Bytes: Copy {
    fn put(self, out: &mut Vec<u8>);
}

macro_rules! bytes_impl {
    ($($t:ty),*) => {$(
        impl Bytes for $t {
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_ne_bytes());
            }
        }
    )*};
}
bytes_impl!(u8, u16, u32, u64, i32, f32, f64);

/// A device buffer holding `values`.
fn upload_values<D: Device, T: Bytes>(gpu: &mut D, values: &[T]) -> Result<D::Buffer, PluginError> {
    let mut bytes = Vec::with_capacity(values.len() * 8);
    for &v in values {
        v.put(&mut bytes);
    }
    let buf = gpu.alloc(bytes.len())?;
    gpu.upload(D::address(&buf), &bytes)?;
    Ok(buf)
}

/// A packed temporary of `dtype` shaped like `like`: the allocation and its view.
fn temp<D: Device>(
    gpu: &mut D,
    like: &View,
    dtype: DType,
) -> Result<(D::Buffer, View), PluginError> {
    let view = View::packed(0, &like.desc, dtype);
    let buf = gpu.alloc(view.desc.required_bytes().unwrap_or(0))?;
    let ptr = D::address(&buf);
    Ok((buf, View { ptr, ..view }))
}

fn grid(v: &View) -> Launch {
    Launch::grid_2d(v.desc.width(), v.desc.height())
}

/// Finishing conversions of `sep_cols` (see `separable.cu`).
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
    types: SepTypes,
    /// Symmetric taps summed in pairs, centre first (the f32 Gaussian's formula; see
    /// `separable.cu`).
    symmetric: bool,
    /// Bytes of one row sum (H).
    h_size: usize,
    finish: Finish,
    ia: i64,
    ib: i64,
    fa: f64,
    fb: f64,
    omin: i64,
    omax: i64,
}

impl SepPlan {
    fn new(types: SepTypes, finish: Finish) -> SepPlan {
        let h_size = if types.h == "f64" { 8 } else { 4 };
        SepPlan {
            types,
            symmetric: false,
            h_size,
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

const fn types(t: &'static str, h: &'static str, v: &'static str, o: &'static str) -> SepTypes {
    SepTypes { t, h, v, o }
}

/// Threads per block of the row pass (one block per row segment).
const ROW_BLOCK: u32 = 128;

/// Dynamic shared memory a block may use without opting in (48 KiB on every CUDA GPU).
const MAX_SHARED: usize = 48 * 1024;

/// Row pass then column pass with taps already on the device (`(buffer, tap count)`).
fn separable<D: Device>(
    gpu: &mut D,
    src: View,
    dst: View,
    kx: (&D::Buffer, usize),
    ky: (&D::Buffer, usize),
    border: Border,
    plan: SepPlan,
) -> Result<(), PluginError> {
    let dtype = src.dtype();
    let defines = plan.types.defines();
    let (h, w, c) = src.dims();
    let tmp = gpu.alloc(src.desc.element_count() * plan.h_size)?;
    let mode = Arg::I32(border_code(border.mode));
    let symm = Arg::I32(i32::from(plan.symmetric));
    let cval = elem_arg(dtype, border.value);
    let [a0, a1, a2, a3] = src.args();
    let shared = (ROW_BLOCK as usize + kx.1 - 1) * c as usize * dtype.size_bytes();
    if shared > MAX_SHARED {
        return Err(PluginError::unsupported(format!(
            "a {}-tap row filter on {c} channels needs {shared} bytes of shared memory per \
             block; GPU backends stage at most {MAX_SHARED}",
            kx.1
        )));
    }
    let rows = Launch {
        grid: ((w as u32).div_ceil(ROW_BLOCK), (h as u32).min(65535), 1),
        block: (ROW_BLOCK, 1, 1),
        shared_bytes: shared as u32,
    };
    gpu.launch(
        Source::Separable,
        &defines,
        "sep_rows",
        &[
            a0,
            a1,
            a2,
            a3,
            Arg::I32(w),
            Arg::I32(h),
            Arg::I32(c),
            Arg::Ptr(D::address(kx.0)),
            Arg::I32(kx.1 as i32),
            symm,
            mode,
            cval,
            Arg::Ptr(D::address(&tmp)),
        ],
        rows,
    )?;
    let [d0, d1, d2, d3] = dst.args();
    gpu.launch(
        Source::Separable,
        &defines,
        "sep_cols",
        &[
            Arg::Ptr(D::address(&tmp)),
            Arg::I32(w),
            Arg::I32(h),
            Arg::I32(c),
            Arg::Ptr(D::address(kx.0)),
            Arg::I32(kx.1 as i32),
            Arg::Ptr(D::address(ky.0)),
            Arg::I32(ky.1 as i32),
            symm,
            mode,
            cval,
            Arg::I32(plan.finish as i32),
            Arg::I64(plan.ia),
            Arg::I64(plan.ib),
            Arg::F64(plan.fa),
            Arg::F64(plan.fb),
            Arg::I64(plan.omin),
            Arg::I64(plan.omax),
            d0,
            d1,
            d2,
            d3,
        ],
        grid(&src),
    )?;
    // `tmp` is freed in stream order, after the kernels that use it.
    Ok(())
}

/// f32 taps widened to f64 (OpenCV casts the double taps to the image's float type).
fn f32_taps(taps: Vec<f64>) -> Vec<f64> {
    taps.into_iter().map(|t| f64::from(t as f32)).collect()
}

fn gaussian<D: Device>(
    gpu: &mut D,
    p: &GaussianBlurParams,
    src: View,
    dst: View,
) -> Result<(), PluginError> {
    let dtype = src.dtype();
    let ((nx, sx), (ny, sy)) = exact::gaussian_sizes(p, dtype)?;
    match dtype {
        DType::U8 => {
            let kx = upload_values(gpu, &exact::gaussian_kernel_fixed(nx, sx, 8))?;
            let ky = upload_values(gpu, &exact::gaussian_kernel_fixed(ny, sy, 8))?;
            let mut plan = SepPlan::new(types("u8", "u32", "u32", "u8"), Finish::Gauss8);
            plan.omax = 255;
            separable(gpu, src, dst, (&kx, nx), (&ky, ny), p.border, plan)
        }
        DType::U16 => {
            let kx = upload_values(gpu, &exact::gaussian_kernel_fixed(nx, sx, 16))?;
            let wide: Vec<u64> = exact::gaussian_kernel_fixed(ny, sy, 16)
                .into_iter()
                .map(u64::from)
                .collect();
            let ky = upload_values(gpu, &wide)?;
            let mut plan = SepPlan::new(types("u16", "u32", "u64", "u16"), Finish::Gauss16);
            plan.omax = 65535;
            separable(gpu, src, dst, (&kx, nx), (&ky, ny), p.border, plan)
        }
        DType::F32 => {
            // f32 sums, unfused (NVRTC --fmad=false, hiprtc -ffp-contract=off), tap pairs
            // first, in the CPU backend's order: the results are the CPU's bit for bit.
            let kx = upload_values(gpu, &exact::gaussian_kernel_f32(nx, sx))?;
            let ky = upload_values(gpu, &exact::gaussian_kernel_f32(ny, sy))?;
            let mut plan = SepPlan::new(types("f32", "f32", "f32", "f32"), Finish::Cast);
            plan.symmetric = true;
            separable(gpu, src, dst, (&kx, nx), (&ky, ny), p.border, plan)
        }
        other => Err(PluginError::invalid(format!(
            "gaussian_blur: dtype {other} is not supported (u8, u16 or f32)"
        ))),
    }
}

fn box_blur<D: Device>(
    gpu: &mut D,
    p: &BoxBlurParams,
    src: View,
    dst: View,
) -> Result<(), PluginError> {
    let k = p.ksize as usize;
    if k % 2 == 0 || k > 255 {
        return Err(PluginError::invalid(format!(
            "box_blur: ksize {k} must be odd, 1 to 255"
        )));
    }
    let d = (k * k) as u32;
    let dtype = src.dtype();
    match dtype {
        DType::U8 | DType::U16 => {
            let ones = upload_values(gpu, &vec![1u32; k])?;
            let (t, max) = if dtype == DType::U8 {
                ("u8", 255)
            } else {
                ("u16", 65535)
            };
            let mut plan = SepPlan::new(types(t, "u32", "u32", t), Finish::BoxSat);
            plan.omax = max;
            // A 1x1 window is the identity (the CPU backend skips the division too).
            if p.normalize && d > 1 {
                if dtype == DType::U8 && d <= 256 {
                    let (scale, delta) = exact::u8_div_constants(d);
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
            separable(gpu, src, dst, (&ones, k), (&ones, k), p.border, plan)
        }
        DType::F32 => {
            let ones = upload_values(gpu, &vec![1.0f64; k])?;
            let mut plan = SepPlan::new(types("f32", "f64", "f64", "f32"), Finish::Scale);
            plan.fa = if p.normalize { 1.0 / f64::from(d) } else { 1.0 };
            separable(gpu, src, dst, (&ones, k), (&ones, k), p.border, plan)
        }
        other => Err(PluginError::invalid(format!(
            "box_blur: dtype {other} is not supported (u8, u16 or f32)"
        ))),
    }
}

fn sobel<D: Device>(gpu: &mut D, p: &SobelParams, src: View, dst: View) -> Result<(), PluginError> {
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
    let kxv = exact::deriv_kernel(p.ksize as usize, p.dx as usize);
    let kyv = exact::deriv_kernel(p.ksize as usize, p.dy as usize);
    let (nx, ny) = (kxv.len(), kyv.len());
    let dtype = src.dtype();
    match (dtype, p.out) {
        (DType::U8, DType::I16) | (DType::U8 | DType::U16, DType::F32) => {
            let kx = upload_values(gpu, &kxv)?;
            let ky = upload_values(gpu, &kyv)?;
            let t = if dtype == DType::U8 { "u8" } else { "u16" };
            let plan = if p.out == DType::I16 {
                let mut plan = SepPlan::new(types("u8", "i32", "i32", "i16"), Finish::I16Real);
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
                let mut plan = SepPlan::new(types(t, "i32", "i32", "f32"), Finish::ScaleDelta);
                plan.fa = p.scale;
                plan.fb = p.delta;
                plan
            };
            separable(gpu, src, dst, (&kx, nx), (&ky, ny), p.border, plan)
        }
        (DType::F32, DType::F32) => {
            let to_f64 = |v: &[i32]| v.iter().map(|&t| f64::from(t)).collect::<Vec<_>>();
            let kx = upload_values(gpu, &to_f64(&kxv))?;
            let ky = upload_values(gpu, &to_f64(&kyv))?;
            let mut plan = SepPlan::new(types("f32", "f64", "f64", "f32"), Finish::ScaleDelta);
            plan.fa = p.scale;
            plan.fb = p.delta;
            separable(gpu, src, dst, (&kx, nx), (&ky, ny), p.border, plan)
        }
        (d, out) => invalid(format!(
            "{d} input to {out} output is not supported (u8 -> i16 | f32, u16 -> f32, f32 -> f32)"
        )),
    }
}

fn median<D: Device>(
    gpu: &mut D,
    p: &MedianBlurParams,
    src: View,
    dst: View,
) -> Result<(), PluginError> {
    let dtype = src.dtype();
    let k = p.ksize;
    if k < 3 || k % 2 == 0 {
        return Err(PluginError::invalid(format!(
            "median_blur: ksize {k} must be odd and at least 3"
        )));
    }
    let name = match dtype {
        // Small windows sort in registers; larger u8 windows count a histogram.
        DType::U8 | DType::U16 | DType::F32 if k == 3 => "median3",
        DType::U8 | DType::U16 | DType::F32 if k == 5 => "median5",
        DType::U8 => "median_hist",
        _ => {
            return Err(PluginError::invalid(format!(
                "median_blur: ksize {k} needs u8 input ({dtype} supports 3 or 5)"
            )))
        }
    };
    let (h, w, c) = src.dims();
    let mut args = src.args().to_vec();
    args.extend([Arg::I32(w), Arg::I32(h), Arg::I32(c)]);
    if name == "median_hist" {
        args.push(Arg::I32(k as i32));
    }
    args.extend(dst.args());
    gpu.launch(
        Source::Median,
        &type_defines(dtype),
        name,
        &args,
        grid(&src),
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

fn copy_view<D: Device>(gpu: &mut D, src: View, dst: View) -> Result<(), PluginError> {
    let (h, w, c) = src.dims();
    let mut args = src.args().to_vec();
    args.extend([Arg::I32(w), Arg::I32(h), Arg::I32(c)]);
    args.extend(dst.args());
    let defines = type_defines(src.dtype());
    gpu.launch(Source::Morph, &defines, "copy_view", &args, grid(&src))?;
    Ok(())
}

/// One erosion or dilation request.
#[derive(Debug, Clone, Copy)]
struct Morph {
    shape: MorphShape,
    ksize: u32,
    iterations: u32,
    border: Option<Border>,
    is_min: bool,
}

/// Erodes (`is_min`) or dilates `src` into `dst` as the CPU backend does: nothing for a 1×1
/// element, one larger rect for a rect element with several iterations, else the element
/// applied `iterations` times.
fn morph<D: Device>(gpu: &mut D, src: View, dst: View, m: &Morph) -> Result<(), PluginError> {
    let what = if m.is_min { "erode" } else { "dilate" };
    if m.ksize == 0 || m.ksize % 2 == 0 {
        return Err(PluginError::invalid(format!(
            "{what}: ksize {} is not allowed (an odd size >= 1)",
            m.ksize
        )));
    }
    let dtype = src.dtype();
    if m.iterations == 0 || m.ksize == 1 {
        return copy_view(gpu, src, dst);
    }
    let (mode, cval) = match m.border {
        None => (BorderMode::Constant, neutral(dtype, m.is_min)),
        Some(Border {
            mode: BorderMode::Constant,
            value,
        }) => (BorderMode::Constant, value),
        Some(b) => (b.mode, 0.0),
    };
    let ctx = MorphCtx {
        defines: type_defines(dtype),
        mode: Arg::I32(border_code(mode)),
        cval: elem_arg(dtype, cval),
        is_min: Arg::I32(i32::from(m.is_min)),
    };
    let k = m.ksize as usize;
    let iterations = m.iterations as usize;
    let runs = exact::element_runs(m.shape, k);
    if runs.iter().all(|&(a, b)| a == 0 && b == k) {
        let big = k + (iterations - 1) * (k - 1);
        return rect(gpu, &ctx, src, dst, big);
    }
    // Ping-pong temporaries between iterations: none for one, one for two, else two.
    let mut bufs = Vec::new();
    for _ in 0..(iterations - 1).min(2) {
        bufs.push(temp(gpu, &src, dtype)?);
    }
    for i in 0..iterations {
        let input = if i == 0 { src } else { bufs[(i - 1) % 2].1 };
        let output = if i + 1 == iterations {
            dst
        } else {
            bufs[i % 2].1
        };
        general(gpu, &ctx, input, output, &runs)?;
    }
    Ok(())
}

/// Per-call constants of the morphology kernels.
#[derive(Debug)]
struct MorphCtx {
    defines: String,
    mode: Arg,
    cval: Arg,
    is_min: Arg,
}

fn rect<D: Device>(
    gpu: &mut D,
    m: &MorphCtx,
    src: View,
    dst: View,
    k: usize,
) -> Result<(), PluginError> {
    let (h, w, c) = src.dims();
    let (tmp, _) = temp(gpu, &src, src.dtype())?;
    let common = [Arg::I32(w), Arg::I32(h), Arg::I32(c), Arg::I32(k as i32)];
    let mut args = src.args().to_vec();
    args.extend(common);
    args.extend([m.mode, m.cval, m.is_min, Arg::Ptr(D::address(&tmp))]);
    gpu.launch(Source::Morph, &m.defines, "rect_rows", &args, grid(&src))?;
    let mut args = vec![Arg::Ptr(D::address(&tmp))];
    args.extend(common);
    args.extend([m.mode, m.cval, m.is_min]);
    args.extend(dst.args());
    gpu.launch(Source::Morph, &m.defines, "rect_cols", &args, grid(&src))?;
    Ok(())
}

/// One application of an element given as runs: sparse tables of the padded rows, then two
/// lookups per element row.
fn general<D: Device>(
    gpu: &mut D,
    m: &MorphCtx,
    src: View,
    dst: View,
    runs: &[(usize, usize)],
) -> Result<(), PluginError> {
    let (h, w, c) = src.dims();
    let k = runs.len();
    let r = k / 2;
    let longest = runs.iter().map(|&(a, b)| b - a).max().unwrap_or(1).max(1);
    let levels = longest.ilog2() as usize + 1;
    let size = src.dtype().size_bytes();
    let plane = src.desc.height() * (src.desc.width() + 2 * r) * src.desc.channels();
    let table = gpu.alloc(levels * plane * size)?;
    let padded = Launch::grid_2d(src.desc.width() + 2 * r, src.desc.height());
    let mut args = src.args().to_vec();
    args.extend([
        Arg::I32(w),
        Arg::I32(h),
        Arg::I32(c),
        Arg::I32(r as i32),
        m.mode,
        m.cval,
        Arg::Ptr(D::address(&table)),
    ]);
    gpu.launch(Source::Morph, &m.defines, "table_level0", &args, padded)?;
    for p in 1..levels {
        let args = [
            Arg::Ptr(D::address(&table)),
            Arg::I32(w),
            Arg::I32(h),
            Arg::I32(c),
            Arg::I32(r as i32),
            Arg::I32(p as i32),
            m.is_min,
        ];
        gpu.launch(Source::Morph, &m.defines, "table_level", &args, padded)?;
    }
    let packed: Vec<i32> = runs
        .iter()
        .flat_map(|&(a, b)| {
            let level = if b > a { (b - a).ilog2() as i32 } else { 0 };
            [a as i32, b as i32, level, 0]
        })
        .collect();
    let runs_buf = upload_values(gpu, &packed)?;
    let mut args = vec![
        Arg::Ptr(D::address(&table)),
        Arg::I32(w),
        Arg::I32(h),
        Arg::I32(c),
        Arg::I32(k as i32),
        Arg::Ptr(D::address(&runs_buf)),
        m.mode,
        m.cval,
        m.is_min,
    ];
    args.extend(dst.args());
    gpu.launch(Source::Morph, &m.defines, "runs_apply", &args, grid(&src))?;
    Ok(())
}

fn morphology<D: Device>(
    gpu: &mut D,
    p: &MorphologyParams,
    src: View,
    dst: View,
) -> Result<(), PluginError> {
    let dtype = src.dtype();
    let (_b1, t1) = temp(gpu, &src, dtype)?;
    let (_b2, t2) = temp(gpu, &src, dtype)?;
    let base = Morph {
        shape: p.shape,
        ksize: p.ksize,
        iterations: p.iterations,
        border: None,
        is_min: true,
    };
    let ero = Morph {
        is_min: true,
        ..base
    };
    let dil = Morph {
        is_min: false,
        ..base
    };
    match p.op {
        MorphOp::Open => {
            morph(gpu, src, t1, &ero)?;
            morph(gpu, t1, dst, &dil)
        }
        MorphOp::Close => {
            morph(gpu, src, t1, &dil)?;
            morph(gpu, t1, dst, &ero)
        }
        MorphOp::Gradient => {
            morph(gpu, src, t1, &dil)?;
            morph(gpu, src, t2, &ero)?;
            difference(gpu, t1, t2, dst)
        }
        MorphOp::Tophat => {
            morph(gpu, src, t1, &ero)?;
            morph(gpu, t1, t2, &dil)?;
            difference(gpu, src, t2, dst)
        }
        MorphOp::Blackhat => {
            morph(gpu, src, t1, &dil)?;
            morph(gpu, t1, t2, &ero)?;
            difference(gpu, t2, src, dst)
        }
    }
}

fn difference<D: Device>(gpu: &mut D, a: View, b: View, dst: View) -> Result<(), PluginError> {
    let (h, w, c) = a.dims();
    let mut args = a.args().to_vec();
    args.extend(b.args());
    args.extend([Arg::I32(w), Arg::I32(h), Arg::I32(c)]);
    args.extend(dst.args());
    let defines = type_defines(a.dtype());
    gpu.launch(Source::Morph, &defines, "difference", &args, grid(&a))?;
    Ok(())
}

/// The CPU backend's integer threshold table over every value of a `levels`-level type.
pub fn threshold_lut(levels: usize, thresh: f64, p: &ThresholdParams) -> Vec<u32> {
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

fn threshold<D: Device>(
    gpu: &mut D,
    p: &ThresholdParams,
    src: View,
    dst: View,
) -> Result<Option<f64>, PluginError> {
    if src.desc.channels() != 1 {
        return Err(PluginError::invalid(format!(
            "threshold: input must have 1 channel, got {}",
            src.desc.channels()
        )));
    }
    let dtype = src.dtype();
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
            gpu.launch(Source::Threshold, &defines, "thresh_f32", &args, grid(&src))?;
            return Ok(None);
        }
        other => {
            return Err(PluginError::unsupported(format!(
                "threshold: dtype {other} is not supported (u8, u16, f32)"
            )))
        }
    };
    // Otsu needs the histogram on the host (the threshold is computed there with the shared
    // exact code, and reported): the one wait of this kernel.
    let otsu = if p.otsu {
        let hist = gpu.alloc_zeroed(levels * 4)?;
        let mut args = src.args().to_vec();
        args.extend([
            Arg::I32(w),
            Arg::I32(h),
            Arg::I32(levels as i32),
            Arg::Ptr(D::address(&hist)),
        ]);
        let mut cfg = grid(&src);
        // About 32 rows per thread: enough work to amortise each block's tables.
        cfg.grid.1 = cfg.grid.1.div_ceil(32).max(1);
        if levels == 256 {
            cfg.shared_bytes = 256 * 4 * cfg.block.1;
        }
        gpu.launch(Source::Threshold, &defines, "histogram", &args, cfg)?;
        let mut bytes = vec![0u8; levels * 4];
        gpu.download(D::address(&hist), &mut bytes)?;
        let counts: Vec<u64> = bytes
            .chunks_exact(4)
            .map(|b| u64::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])))
            .collect();
        Some(exact::otsu_threshold(&counts))
    } else {
        None
    };
    let lut = threshold_lut(levels, otsu.unwrap_or(p.thresh), p);
    let lut_buf = if dtype == DType::U8 {
        let v: Vec<u8> = lut.iter().map(|&x| x as u8).collect();
        upload_values(gpu, &v)?
    } else {
        let v: Vec<u16> = lut.iter().map(|&x| x as u16).collect();
        upload_values(gpu, &v)?
    };
    let mut args = src.args().to_vec();
    args.extend([Arg::I32(w), Arg::I32(h), Arg::Ptr(D::address(&lut_buf))]);
    args.extend(dst.args());
    gpu.launch(Source::Threshold, &defines, "lut_apply", &args, grid(&src))?;
    Ok(otsu)
}

/// OpenCV `adaptiveThreshold` as the CPU backend computes it: the local mean (the u8 box
/// mean, or the Gaussian of `block_size` with f32-cast taps summed in double and rounded half
/// to even), both with replicate borders, then the comparison with `ceil(c)` (binary) or
/// `floor(c)` (binary_inv).
fn adaptive<D: Device>(
    gpu: &mut D,
    p: &AdaptiveThresholdParams,
    src: View,
    dst: View,
) -> Result<(), PluginError> {
    let invalid = |what: String| Err(PluginError::invalid(format!("adaptive_threshold: {what}")));
    let dtype = src.dtype();
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
    let (mean_buf, mean) = temp(gpu, &src, DType::U8)?;
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
            let k = block as usize;
            let taps = upload_values(gpu, &f32_taps(exact::gaussian_kernel(k, 0.0)))?;
            // rint(acc * 1 + 0) clamped to [0, 255]: the CPU's round half to even.
            let mut plan = SepPlan::new(types("u8", "f64", "f64", "u8"), Finish::I16Real);
            plan.fa = 1.0;
            plan.omax = 255;
            separable(gpu, src, mean, (&taps, k), (&taps, k), replicate, plan)?;
        }
    }
    let (h, w, _) = src.dims();
    let mut args = src.args().to_vec();
    args.extend([
        Arg::Ptr(D::address(&mean_buf)),
        Arg::I32(w),
        Arg::I32(h),
        Arg::I32(idelta),
        Arg::I32(inv),
        Arg::U8(imax),
    ]);
    args.extend(dst.args());
    gpu.launch(
        Source::Threshold,
        &type_defines(DType::U8),
        "adaptive_cmp",
        &args,
        grid(&src),
    )?;
    Ok(())
}

/// Pixels per row tile of the labeling's first pass (`CC_TILE` in labeling.cu).
const CC_TILE: usize = 256;

/// Elements per block of the prefix sum (`SCAN_BLOCK` in labeling.cu).
const SCAN_BLOCK: usize = 1024;

/// In-place inclusive prefix sum of the `n` i32s at `data`, queued.
fn scan<D: Device>(gpu: &mut D, data: &D::Buffer, n: usize) -> Result<(), PluginError> {
    let defines = type_defines(DType::U8);
    let blocks = n.div_ceil(SCAN_BLOCK);
    let sums = gpu.alloc(blocks * 4)?;
    let cfg = Launch::grid_1d(n, SCAN_BLOCK as u32);
    let args = [
        Arg::Ptr(D::address(data)),
        Arg::I32(n as i32),
        Arg::Ptr(D::address(&sums)),
    ];
    gpu.launch(Source::Labeling, &defines, "scan_blocks", &args, cfg)?;
    if blocks > 1 {
        scan(gpu, &sums, blocks)?;
        gpu.launch(Source::Labeling, &defines, "scan_add", &args, cfg)?;
    }
    Ok(())
}

/// Labels the u8 mask `src` into the i32 image `dst`; returns the label count with the
/// background (OpenCV's return value). The count is read back: the one wait of this kernel.
fn connected_components<D: Device>(
    gpu: &mut D,
    connectivity: u8,
    src: View,
    dst: View,
) -> Result<u64, PluginError> {
    if connectivity != 4 && connectivity != 8 {
        return Err(PluginError::invalid(format!(
            "connected_components: connectivity {connectivity} is not allowed (4 or 8)"
        )));
    }
    if src.dtype() != DType::U8 || src.desc.channels() != 1 {
        return Err(PluginError::unsupported(format!(
            "connected_components: input must be a 1-channel u8 mask, got {} with {} channels",
            src.dtype(),
            src.desc.channels()
        )));
    }
    let (w, h) = (src.desc.width(), src.desc.height());
    let n = w * h;
    if n > i32::MAX as usize {
        return Err(PluginError::unsupported(format!(
            "connected_components: {w}x{h} has more pixels than i32 labels can index"
        )));
    }
    let eight = i32::from(connectivity == 8);
    let keys = if connectivity == 8 {
        h.div_ceil(2) * w.div_ceil(2)
    } else {
        n
    };
    let defines = type_defines(DType::U8);
    let (wi, hi) = (Arg::I32(w as i32), Arg::I32(h as i32));
    let parent = gpu.alloc(n * 4)?;
    let minkey = gpu.alloc(n * 4)?;
    let mark = gpu.alloc_zeroed(keys * 4)?;
    let (pp, mp, kp) = (
        Arg::Ptr(D::address(&parent)),
        Arg::Ptr(D::address(&minkey)),
        Arg::Ptr(D::address(&mark)),
    );
    let g2 = grid(&src);
    let g1 = Launch::grid_1d(n, 256);
    let ni = Arg::I32(n as i32);
    let mut args = src.args().to_vec();
    args.extend([wi, hi, pp]);
    let tiles = Launch {
        grid: (w.div_ceil(CC_TILE) as u32, h.min(65535) as u32, 1),
        block: (CC_TILE as u32, 1, 1),
        shared_bytes: 0,
    };
    gpu.launch(Source::Labeling, &defines, "cc_init", &args, tiles)?;
    let lab = |gpu: &mut D, name, args: &[Arg], cfg| {
        gpu.launch(Source::Labeling, &defines, name, args, cfg)
    };
    lab(gpu, "cc_merge", &[wi, hi, Arg::I32(eight), pp], g2)?;
    lab(gpu, "cc_flatten", &[ni, pp], g1)?;
    lab(gpu, "cc_fill", &[ni, Arg::I32(i32::MAX), mp], g1)?;
    lab(gpu, "cc_minkey", &[wi, hi, Arg::I32(eight), pp, mp], g2)?;
    lab(gpu, "cc_mark", &[ni, pp, mp, kp], g1)?;
    scan(gpu, &mark, keys)?;
    let mut args = vec![pp, mp, kp, wi, hi];
    args.extend(dst.args());
    lab(gpu, "cc_write", &args, g2)?;
    let mut last = [0u8; 4];
    gpu.download(D::address(&mark) + ((keys - 1) * 4) as u64, &mut last)?;
    Ok(u64::from(i32::from_ne_bytes(last).max(0) as u32) + 1)
}
