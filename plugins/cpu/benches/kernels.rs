//! Criterion benchmarks of every CPU kernel with its default parameters, on the bench image
//! shapes of ../shared/bench (smaller by default so `cargo bench` finishes in minutes; set
//! `YAM_BENCH_FULL=1` for 4096² u8 and 2048² u16/f32/RGB).
//!
//! Kernels whose algorithm changes with a parameter also run at the sizes that switch it
//! ([`VARIANTS`], on u8).
//!
//!     cargo bench -p yam-cpu                      # all kernels
//!     cargo bench -p yam-cpu -- gaussian_blur     # one kernel
//!     cargo bench -p yam-cpu -- 'median_blur k'   # the median's window sizes

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use yam_cpu::ops::{execute, IMPLEMENTED};
use yam_plugin_api::{kernel, DType, Image, KernelCall, ParamValue, PixelData};

/// (kernel, group name, parameters): each algorithm the parameters select, on u8 gray.
const VARIANTS: &[(&str, &str, &str)] = &[
    ("median_blur", "median_blur k5", r#"{"ksize":5}"#),
    ("median_blur", "median_blur k7", r#"{"ksize":7}"#),
    ("median_blur", "median_blur k15", r#"{"ksize":15}"#),
    ("median_blur", "median_blur k21", r#"{"ksize":21}"#),
    ("erode", "erode k15", r#"{"ksize":15}"#),
    (
        "erode",
        "erode ellipse k7",
        r#"{"ksize":7,"shape":"ellipse"}"#,
    ),
];

fn image(dtype: DType, side: usize, channels: usize, mask: bool) -> Image {
    let n = side * side * channels;
    let unit = |i: usize| {
        let (x, y) = ((i / channels) % side, (i / channels) / side);
        let smooth = 0.5 + 0.4 * ((x as f64 * 0.05).sin() * (y as f64 * 0.031).cos());
        let noise = ((i.wrapping_mul(2_654_435_761) >> 7) % 1000) as f64 / 4000.0;
        (smooth + noise - 0.125).clamp(0.0, 1.0)
    };
    let data = match dtype {
        DType::U8 if mask => PixelData::U8(
            (0..n)
                .map(|i| if unit(i) > 0.6 { 255 } else { 0 })
                .collect(),
        ),
        DType::U8 => PixelData::U8((0..n).map(|i| (unit(i) * 255.0) as u8).collect()),
        DType::U16 => PixelData::U16((0..n).map(|i| (unit(i) * 65535.0) as u16).collect()),
        DType::F32 => PixelData::F32((0..n).map(|i| unit(i) as f32).collect()),
        DType::I16 | DType::I32 => unreachable!("not a bench input"),
    };
    Image::new(side, side, channels, data).expect("sized")
}

fn kernels(c: &mut Criterion) {
    let full = std::env::var_os("YAM_BENCH_FULL").is_some();
    for id in IMPLEMENTED {
        let spec = kernel(id).expect("catalogue kernel");
        let mut group = c.benchmark_group(*id);
        group.sample_size(10);
        for &dtype in spec
            .dtypes
            .iter()
            .filter(|d| matches!(d, DType::U8 | DType::U16 | DType::F32))
        {
            let channels = *spec.channels.first().expect("a channel count") as usize;
            let side = match (full, dtype) {
                (true, DType::U8) => 4096,
                (true, _) => 2048,
                (false, _) => 1024,
            };
            let mask = matches!(*id, "connected_components" | "region_props");
            let input = image(dtype, side, channels, mask);
            let params = spec.resolve([]).expect("defaults are valid");
            let Some(Ok(call)) = KernelCall::parse(id, &params, dtype) else {
                continue;
            };
            group.throughput(Throughput::Bytes((input.len() * dtype.size_bytes()) as u64));
            let name = format!("{dtype}_{side}x{side}x{channels}");
            group.bench_with_input(BenchmarkId::from_parameter(name), &input, |b, img| {
                b.iter(|| execute(&call, img, None).expect("kernel runs"));
            });
        }
        group.finish();
    }
}

fn variants(c: &mut Criterion) {
    let side = if std::env::var_os("YAM_BENCH_FULL").is_some() {
        4096
    } else {
        1024
    };
    let input = image(DType::U8, side, 1, false);
    for &(id, name, json) in VARIANTS {
        let spec = kernel(id).expect("catalogue kernel");
        let values: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).expect("valid JSON");
        let pairs: Vec<(&str, ParamValue)> = values
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    ParamValue::from_json(v).expect("a parameter value"),
                )
            })
            .collect();
        let params = spec.resolve(pairs).expect("valid parameters");
        let call = KernelCall::parse(id, &params, DType::U8)
            .expect("a kernel call")
            .expect("valid for u8");
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("u8_{side}x{side}x1")),
            &input,
            |b, img| b.iter(|| execute(&call, img, None).expect("kernel runs")),
        );
        group.finish();
    }
}

criterion_group!(benches, kernels, variants);
criterion_main!(benches);
