//! Unit tests. Those that need a device run when the probe finds one and otherwise assert the
//! precise reason it gives; none pretends to have run a kernel.

use yam_plugin_api::{
    export::{Backend, Executor},
    kernel, BufferHandle, DType, ErrorKind, Image, ParamValue, PixelData, StepCall, TensorDesc,
};

use crate::{device, OclExecutor, OpenClBackend};

/// The first usable device, or `None` after checking that the probe says precisely why.
fn device_or_reason() -> Option<u32> {
    let report = OpenClBackend::probe();
    match report.devices.first() {
        Some(d) => {
            assert!(report.unavailable_reason.is_empty());
            Some(d.index)
        }
        None => {
            let reason = report.unavailable_reason.as_str();
            assert!(
                reason == device::NO_PLATFORM
                    || reason.starts_with("OpenCL platforms found but no devices")
                    || reason.starts_with(device::DEVICE_ENV),
                "imprecise reason: {reason}"
            );
            eprintln!("no OpenCL device, device tests skipped: {reason}");
            None
        }
    }
}

#[test]
fn probe_names_platform_and_device_or_says_why_not() {
    let t = std::time::Instant::now();
    if device_or_reason().is_some() {
        for d in OpenClBackend::probe().devices.iter() {
            assert!(d.name.contains(": "), "{}", d.name);
            assert_eq!(d.dl_device.device_type, yam_plugin_api::dl_device::OPENCL);
        }
    } else {
        let e = OpenClBackend::create_executor(0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DeviceUnavailable, "{e}");
    }
    assert!(
        t.elapsed().as_secs_f64() < 5.0,
        "probe took {:?}",
        t.elapsed()
    );
}

/// Runs only inside the child started by `without_icds_the_probe_says_so_quickly`.
#[test]
fn probe_in_child() {
    if std::env::var_os("YAM_OPENCL_TEST_CHILD").is_none() {
        return;
    }
    let t = std::time::Instant::now();
    let r = OpenClBackend::probe();
    println!(
        "CHILD devices={} ms={} reason={}",
        r.devices.len(),
        t.elapsed().as_millis(),
        r.unavailable_reason
    );
}

#[test]
fn without_icds_the_probe_says_so_quickly() {
    // ocl-icd reads OCL_ICD_VENDORS once per process: probe in a child with an empty one.
    let empty = std::env::temp_dir().join(format!("yam-ocl-no-icds-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tests::probe_in_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("YAM_OPENCL_TEST_CHILD", "1")
        .env("OCL_ICD_VENDORS", &empty)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir(&empty);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("CHILD "))
        .unwrap_or_else(|| panic!("child printed no probe line: {text}"));
    let ms: u64 = line
        .split("ms=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms < 1000, "probe without ICDs took {ms} ms: {line}");
    assert!(
        line.ends_with(&format!("devices=0 ms={ms} reason={}", device::NO_PLATFORM)),
        "{line}"
    );
}

#[test]
fn device_choice_by_index_or_name_and_a_precise_miss() {
    let Some(_) = device_or_reason() else {
        return;
    };
    let all = device::enumerate().unwrap();
    let by_name = all[0].name.split(": ").nth(1).unwrap().to_uppercase();
    let picked = device::select(all.clone(), Some(&by_name)).unwrap();
    assert_eq!(picked[0].index, all[0].index);
    let picked = device::select(all.clone(), Some("0")).unwrap();
    assert_eq!(picked.len(), 1);
    let e = device::select(all, Some("no such device 42")).unwrap_err();
    assert!(
        e.contains("YAM_OPENCL_DEVICE=no such device 42 matches no OpenCL device"),
        "{e}"
    );
}

#[test]
fn taps_equal_the_cpu_backends() {
    use yam_cpu::ops::{blur, edges};
    for n in [1usize, 3, 5, 7, 9, 19, 25, 255] {
        for sigma in [0.0, 0.8, 1.5, 3.0, 1000.0] {
            assert_eq!(
                crate::taps::gaussian_kernel(n, sigma),
                blur::gaussian_kernel(n, sigma)
            );
            for bits in [8, 16] {
                assert_eq!(
                    crate::taps::gaussian_kernel_fixed(n, sigma, bits),
                    blur::gaussian_kernel_fixed(n, sigma, bits)
                );
            }
        }
    }
    for k in [1usize, 3, 5, 7] {
        for order in 0..3 {
            if k > 1 && order >= k {
                continue;
            }
            assert_eq!(
                crate::taps::deriv_kernel(k, order),
                edges::deriv_kernel(k, order)
            );
        }
    }
    // SEMANTICS.md §1 and §2 tables.
    assert_eq!(
        crate::taps::gaussian_kernel_fixed(5, 1.5, 8),
        [31, 60, 74, 60, 31]
    );
    assert_eq!(crate::taps::u8_div_constants(25), (335544, 13));
    assert_eq!(crate::taps::u8_div_constants(121), (69327, 61));
}

fn step(kernel_id: &str, params: &[(&str, ParamValue)]) -> StepCall {
    let spec = kernel(kernel_id).unwrap();
    StepCall {
        name: "t".into(),
        kernel: kernel_id.into(),
        schema_version: spec.schema_version,
        params: spec
            .resolve(params.iter().map(|(n, v)| (*n, v.clone())))
            .unwrap(),
        metadata: Default::default(),
    }
}

fn image(dtype: DType, w: usize, h: usize, c: usize, seed: u64) -> Image {
    let mut s = seed;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as u32
    };
    let n = w * h * c;
    let data = match dtype {
        DType::U8 => PixelData::U8((0..n).map(|_| next() as u8).collect()),
        DType::U16 => PixelData::U16((0..n).map(|_| next() as u16).collect()),
        _ => PixelData::F32((0..n).map(|_| (next() % 10000) as f32 / 7919.0).collect()),
    };
    Image::new(w, h, c, data).unwrap()
}

/// Runs `step` on `img` with `ex` (upload, execute, download, free).
fn run(ex: &mut dyn Executor, step: &StepCall, img: &Image, out_dtype: DType) -> Image {
    let desc = img.desc();
    let src = ex.allocate(desc).unwrap();
    ex.upload(src, &img.data.to_ne_bytes()).unwrap();
    let out_desc = TensorDesc::packed(
        out_dtype,
        img.height,
        img.width,
        1.max(if step.kernel.as_str() == "sobel" {
            1
        } else {
            img.channels
        }),
    );
    let dst = ex.allocate(out_desc).unwrap();
    ex.execute(step, &[src], Some(dst)).unwrap();
    ex.synchronize().unwrap();
    let mut bytes = vec![0u8; out_desc.required_bytes().unwrap()];
    ex.download(dst, &mut bytes).unwrap();
    ex.free(src).unwrap();
    ex.free(dst).unwrap();
    let data = PixelData::from_ne_bytes(out_dtype, &bytes).unwrap();
    Image::new(img.width, img.height, out_desc.channels(), data).unwrap()
}

/// Kernel id, given parameters, input dtype.
type Case = (&'static str, Vec<(&'static str, ParamValue)>, DType);

#[test]
fn kernels_match_the_cpu_backend_bit_for_bit() {
    let Some(index) = device_or_reason() else {
        return;
    };
    let mut ocl = OclExecutor::new(index).unwrap();
    let mut cpu = yam_cpu::CpuExecutor::new();
    let t = |s: &str| ParamValue::Text(s.into());
    let cases: Vec<Case> = vec![
        ("gaussian_blur", vec![], DType::U8),
        (
            "gaussian_blur",
            vec![
                ("ksize", ParamValue::Int(0)),
                ("sigma", ParamValue::Float(3.0)),
            ],
            DType::U16,
        ),
        ("gaussian_blur", vec![("border", t("wrap"))], DType::F32),
        ("box_blur", vec![("ksize", ParamValue::Int(11))], DType::U8),
        (
            "median_blur",
            vec![("ksize", ParamValue::Int(7))],
            DType::U8,
        ),
        (
            "median_blur",
            vec![("ksize", ParamValue::Int(5))],
            DType::F32,
        ),
        (
            "erode",
            vec![("shape", t("ellipse")), ("ksize", ParamValue::Int(5))],
            DType::U16,
        ),
        (
            "dilate",
            vec![("iterations", ParamValue::Int(3)), ("border", t("reflect"))],
            DType::U8,
        ),
        (
            "morphology",
            vec![("op", t("tophat")), ("shape", t("cross"))],
            DType::F32,
        ),
    ];
    for (id, params, dtype) in cases {
        let s = step(id, &params);
        let img = image(dtype, 45, 33, 3, 7);
        let want = run(&mut cpu, &s, &img, dtype);
        let got = run(&mut ocl, &s, &img, dtype);
        assert_eq!(got, want, "{id} {dtype} {params:?}");
    }
    let s = step("threshold", &[("otsu", ParamValue::Bool(true))]);
    let img = image(DType::U8, 64, 40, 1, 3);
    assert_eq!(
        run(&mut ocl, &s, &img, DType::U8),
        run(&mut cpu, &s, &img, DType::U8)
    );
    let s = step("sobel", &[("out", t("i16")), ("ksize", ParamValue::Int(5))]);
    assert_eq!(
        run(&mut ocl, &s, &img, DType::I16),
        run(&mut cpu, &s, &img, DType::I16)
    );
}

/// Both methods and types over block sizes up to 255, fractional and large `c`, and
/// saturated or negative `maxval`, on noise and on a smooth ramp (many pixels at the mean).
#[test]
fn adaptive_threshold_matches_the_cpu_backend() {
    let Some(index) = device_or_reason() else {
        return;
    };
    let mut ocl = OclExecutor::new(index).unwrap();
    let mut cpu = yam_cpu::CpuExecutor::new();
    let t = |s: &str| ParamValue::Text(s.into());
    let noise = image(DType::U8, 37, 29, 1, 11);
    let ramp = Image::new(
        40,
        23,
        1,
        PixelData::U8(
            (0..40 * 23)
                .map(|i| ((i % 40) * 3 + i / 40) as u8)
                .collect(),
        ),
    )
    .unwrap();
    for method in ["mean", "gaussian"] {
        for kind in ["binary", "binary_inv"] {
            for block in [3i64, 5, 9, 11, 31, 255] {
                for (c, maxval) in [
                    (2.0, 255.0),
                    (-0.5, 127.5),
                    (0.5, 300.0),
                    (-1e6, 0.0),
                    (1e6, 255.0),
                    (-300.0, 255.0),
                ] {
                    let s = step(
                        "adaptive_threshold",
                        &[
                            ("method", t(method)),
                            ("type", t(kind)),
                            ("block_size", ParamValue::Int(block)),
                            ("c", ParamValue::Float(c)),
                            ("maxval", ParamValue::Float(maxval)),
                        ],
                    );
                    for img in [&noise, &ramp] {
                        assert_eq!(
                            run(&mut ocl, &s, img, DType::U8),
                            run(&mut cpu, &s, img, DType::U8),
                            "{method} {kind} {block} {c} {maxval}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn buffers_padding_and_errors() {
    let Some(index) = device_or_reason() else {
        return;
    };
    let mut ex = OclExecutor::new(index).unwrap();
    let mut desc = TensorDesc::packed(DType::U16, 3, 2, 1);
    desc.strides[0] = 5;
    desc.byte_offset = 4;
    let buf = ex.allocate(desc).unwrap();
    let n = desc.required_bytes().unwrap();
    assert_eq!(ex.memory_in_use(), n as u64);
    let mut out = vec![0u8; n];
    let e = ex.download(buf, &mut out).unwrap_err();
    assert!(
        e.message.contains("read before anything was written"),
        "{e}"
    );
    let bytes: Vec<u8> = (0..n as u8).collect();
    ex.upload(buf, &bytes).unwrap();
    ex.download(buf, &mut out).unwrap();
    assert_eq!(out, bytes);
    let e = ex.upload(buf, &bytes[1..]).unwrap_err();
    assert!(e.message.contains(&format!("{} bytes given", n - 1)), "{e}");
    // A threshold into a padded output keeps the bytes outside the view.
    let dst = ex.allocate(desc).unwrap();
    ex.upload(dst, &vec![0xAB; n]).unwrap();
    ex.execute(
        &step("threshold", &[("thresh", ParamValue::Float(1000.0))]),
        &[buf],
        Some(dst),
    )
    .unwrap();
    ex.download(dst, &mut out).unwrap();
    for (i, b) in out.iter().enumerate() {
        let inside = i >= 4 && ((i - 4) / 2) % 5 < 2;
        if !inside {
            assert_eq!(*b, 0xAB, "byte {i} outside the view changed");
        }
    }
    ex.free(buf).unwrap();
    ex.free(dst).unwrap();
    assert_eq!(ex.memory_in_use(), 0);
    assert_eq!(ex.free(buf).unwrap_err().kind(), ErrorKind::InvalidBuffer);
    let e = ex
        .execute(&step("threshold", &[]), &[BufferHandle(99)], None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidBuffer);
}

#[test]
fn programs_are_cached_on_disk_per_device() {
    let Some(index) = device_or_reason() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("yam-ocl-cache-{}", std::process::id()));
    let build = || {
        let mut gpu = device::Gpu::open(index).unwrap();
        gpu.cache = Some(dir.clone());
        gpu.program(crate::kernels::Source::Threshold, "-DT=uchar -DT_FLOAT=0")
            .unwrap();
        gpu.build_log[0].2
    };
    let first = build();
    let second = build();
    // A corrupt cached binary falls back to a source build.
    for f in std::fs::read_dir(&dir).unwrap() {
        std::fs::write(f.unwrap().path(), b"not a program binary").unwrap();
    }
    let third = build();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(first, device::Built::FromSource);
    assert_eq!(second, device::Built::FromCache);
    assert_eq!(third, device::Built::FromSource);
}

/// The shipped manifest must declare exactly what the library declares, or the host rejects
/// the plugin.
#[test]
fn committed_manifest_matches_the_declared_kernels() {
    let manifest = include_str!("../opencl.json");
    assert_eq!(
        yam_plugin_api::export::check_manifest::<OpenClBackend>(manifest, "libyam_opencl.so"),
        Ok(()),
        "update plugins/opencl/opencl.json"
    );
}
