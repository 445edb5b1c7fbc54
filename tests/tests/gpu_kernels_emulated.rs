//! The GPU backends' kernels (`plugin-api/kernels/*.cu`, shared by CUDA and ROCm) and their
//! shared host-side code, run on the CPU through the GPU emulator test double
//! (`tests/fixtures/gpu-emulator`: g++, one fiber per GPU thread), against the CPU backend:
//! every output must be identical, byte for byte. This checks kernel logic, launch arguments,
//! taps, tables, temporaries, strided views and in-place use without a GPU; it does not check
//! the CUDA/HIP runtimes or real parallel interleavings (the conformance run on a GPU does).

use gpu_emulator::EmuDevice;
use yam_plugin_api::{
    export::Executor, gpu::DeviceExecutor, kernel, kernels::KernelOutput, BufferHandle, DType,
    Image, KernelCall, ParamValue, PixelData, StepCall, TensorDesc,
};

fn executor() -> DeviceExecutor<EmuDevice> {
    let dir = std::env::temp_dir().join(format!("yam-gpu-emulator-{}", std::process::id()));
    DeviceExecutor::new(EmuDevice::new(dir))
}

/// Deterministic test pixels: smooth structure plus noise, every value of the range used.
fn image(w: usize, h: usize, c: usize, dtype: DType, seed: u64) -> Image {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    let n = w * h * c;
    let mut unit = Vec::with_capacity(n);
    for i in 0..n {
        let (x, y) = ((i / c) % w, i / c / w);
        let smooth = ((x as f64 / 5.0).sin() * (y as f64 / 7.0).cos() + 1.0) / 2.0;
        let noise = f64::from(next() % 1000) / 1000.0;
        unit.push(if next() % 9 == 0 {
            noise
        } else {
            0.8 * smooth + 0.2 * noise
        });
    }
    let data = match dtype {
        DType::U8 => PixelData::U8(unit.iter().map(|v| (v * 255.0).round() as u8).collect()),
        DType::U16 => PixelData::U16(unit.iter().map(|v| (v * 65535.0).round() as u16).collect()),
        DType::F32 => PixelData::F32(unit.iter().map(|&v| (v * 2.0 - 0.5) as f32).collect()),
        other => panic!("no test images of {other}"),
    };
    Image {
        width: w,
        height: h,
        channels: c,
        data,
    }
}

fn params(id: &str, json: &str) -> yam_plugin_api::ParamSet {
    let spec = kernel(id).unwrap();
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
    let pairs: Vec<(&str, ParamValue)> = v
        .iter()
        .map(|(k, v)| (k.as_str(), ParamValue::from_json(v).unwrap()))
        .collect();
    spec.resolve(pairs).unwrap()
}

/// Runs `id` on the emulated GPU with the input laid out as `layout` says and on the CPU
/// backend; panics with the first differing element.
fn compare(id: &str, json: &str, img: &Image, layout: Layout) {
    let spec = kernel(id).unwrap();
    let p = params(id, json);
    let call = KernelCall::parse(id, &p, img.dtype()).unwrap().unwrap();
    let cpu = yam_cpu::ops::execute(&call, img, None)
        .unwrap_or_else(|e| panic!("cpu {id} {json}: {e}"))
        .image
        .expect("an image kernel");
    let mut ex = executor();
    let packed = img.desc();
    let size = img.dtype().size_bytes();
    // The input: packed, or with padded rows and an offset (bytes outside the view are junk).
    let (in_desc, in_bytes) = match layout {
        Layout::Packed | Layout::InPlace => (packed, img.data.to_ne_bytes()),
        Layout::Padded => {
            let mut d = packed;
            let row = img.width * img.channels;
            d.strides[0] = (row + 3) as u64;
            d.byte_offset = (2 * size) as u64;
            let mut bytes = vec![0x5Au8; d.required_bytes().unwrap()];
            let src = img.data.to_ne_bytes();
            for y in 0..img.height {
                let at = 2 * size + y * (row + 3) * size;
                bytes[at..at + row * size]
                    .copy_from_slice(&src[y * row * size..(y + 1) * row * size]);
            }
            (d, bytes)
        }
    };
    let input = ex.allocate(in_desc).unwrap();
    ex.upload(input, &in_bytes).unwrap();
    let KernelOutput::Image(out_desc) = call.output(&packed) else {
        panic!("{id} is an image kernel")
    };
    let output = if layout == Layout::InPlace {
        input
    } else {
        ex.allocate(out_desc).unwrap()
    };
    let step = StepCall {
        name: format!("emulated {id}").into(),
        kernel: id.into(),
        schema_version: spec.schema_version,
        params: p.clone(),
        metadata: Default::default(),
    };
    ex.execute(&step, &[input], Some(output))
        .unwrap_or_else(|e| panic!("emulated {id} {json}: {}", e.message));
    let mut got = vec![0u8; out_desc.required_bytes().unwrap()];
    ex.download(output, &mut got).unwrap();
    let want = cpu.data.to_ne_bytes();
    assert_eq!(got.len(), want.len(), "{id} {json}: output size");
    if got != want {
        let esize = cpu.dtype().size_bytes();
        let i = got.iter().zip(&want).position(|(a, b)| a != b).unwrap() / esize;
        let px = i / cpu.channels;
        panic!(
            "{id} {json} on {}x{}x{} {} ({layout:?}): element {i} (x {}, y {}) differs: gpu {:?} \
             cpu {:?}",
            img.width,
            img.height,
            img.channels,
            img.dtype(),
            px % cpu.width,
            px / cpu.width,
            &got[i * esize..(i + 1) * esize],
            &want[i * esize..(i + 1) * esize]
        );
    }
    let _ = ex.free(input);
    if output != input {
        let _ = ex.free(output);
    }
    let _: (BufferHandle, TensorDesc) = (output, out_desc);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Packed,
    Padded,
    InPlace,
}

/// Sizes that cross the 32x8 block and the 128-pixel row segment, and degenerate ones.
const SIZES: [(usize, usize); 4] = [(37, 29), (130, 9), (1, 7), (5, 1)];

fn each_image(dtypes: &[DType], channels: &[usize], mut f: impl FnMut(&Image)) {
    let mut seed = 1;
    for &dtype in dtypes {
        for &c in channels {
            for (w, h) in SIZES {
                seed += 1;
                f(&image(w, h, c, dtype, seed));
            }
        }
    }
}

const ALL: [DType; 3] = [DType::U8, DType::U16, DType::F32];

#[test]
fn gaussian_blur_matches_the_cpu_backend() {
    for json in [
        r#"{"ksize":5,"sigma":1.5}"#,
        r#"{"ksize":3,"sigma":0}"#,
        r#"{"ksize":0,"sigma":2.2,"sigma_y":0.8,"border":"reflect"}"#,
        r#"{"ksize":7,"sigma":1.2,"border":"constant","border_value":9}"#,
        // Next to ±3e38 only the CPU's f32 operations in its order agree bit for bit.
        r#"{"ksize":5,"sigma":1.5,"border":"constant","border_value":3e38}"#,
        r#"{"ksize":0,"sigma":2.5,"border":"constant","border_value":-3.4e38}"#,
        r#"{"ksize":5,"sigma":1,"border":"wrap"}"#,
        r#"{"ksize":5,"sigma":1,"border":"replicate"}"#,
    ] {
        each_image(&ALL, &[1, 3, 4], |img| {
            compare("gaussian_blur", json, img, Layout::Packed)
        });
    }
    each_image(&ALL, &[3], |img| {
        compare(
            "gaussian_blur",
            r#"{"ksize":5,"sigma":1.5}"#,
            img,
            Layout::Padded,
        );
        compare(
            "gaussian_blur",
            r#"{"ksize":5,"sigma":1.5}"#,
            img,
            Layout::InPlace,
        );
    });
}

#[test]
fn box_blur_and_sobel_match_the_cpu_backend() {
    for json in [
        r#"{"ksize":5}"#,
        r#"{"ksize":3,"normalize":false}"#,
        r#"{"ksize":17,"border":"reflect"}"#,
        r#"{"ksize":1}"#,
    ] {
        each_image(&ALL, &[1, 3], |img| {
            compare("box_blur", json, img, Layout::Packed)
        });
    }
    for json in [
        r#"{"dx":1,"dy":0}"#,
        r#"{"dx":0,"dy":2,"ksize":5}"#,
        r#"{"dx":1,"dy":1,"ksize":7,"scale":0.5,"delta":3}"#,
        r#"{"dx":1,"dy":0,"out":"f32"}"#,
    ] {
        each_image(&[DType::U8], &[1], |img| {
            compare("sobel", json, img, Layout::Packed)
        });
    }
    each_image(&[DType::U16, DType::F32], &[1], |img| {
        compare(
            "sobel",
            r#"{"dx":1,"dy":0,"out":"f32"}"#,
            img,
            Layout::Padded,
        )
    });
}

#[test]
fn median_blur_matches_the_cpu_backend() {
    each_image(&ALL, &[1, 3], |img| {
        compare("median_blur", r#"{"ksize":3}"#, img, Layout::Packed);
        compare("median_blur", r#"{"ksize":5}"#, img, Layout::InPlace);
    });
    each_image(&[DType::U8], &[1, 4], |img| {
        compare("median_blur", r#"{"ksize":9}"#, img, Layout::Padded)
    });
}

#[test]
fn morphology_matches_the_cpu_backend() {
    for json in [
        r#"{"ksize":3}"#,
        r#"{"ksize":5,"shape":"ellipse"}"#,
        r#"{"ksize":3,"shape":"cross","iterations":3}"#,
        r#"{"ksize":3,"iterations":2}"#,
        r#"{"ksize":5,"border":"reflect"}"#,
    ] {
        each_image(&ALL, &[1, 3], |img| {
            compare("erode", json, img, Layout::Packed);
            compare("dilate", json, img, Layout::Packed);
        });
    }
    for op in ["open", "close", "gradient", "tophat", "blackhat"] {
        let json = format!(r#"{{"op":"{op}","ksize":5,"shape":"ellipse"}}"#);
        each_image(&ALL, &[1], |img| {
            compare("morphology", &json, img, Layout::Packed)
        });
    }
    each_image(&[DType::U8], &[1], |img| {
        compare(
            "morphology",
            r#"{"op":"open","ksize":3}"#,
            img,
            Layout::InPlace,
        )
    });
}

#[test]
fn thresholds_match_the_cpu_backend() {
    // Thresholds at a pixel's own value (ties decide > against >=) and between values.
    for kind in ["binary", "binary_inv", "trunc", "tozero", "tozero_inv"] {
        each_image(&ALL, &[1], |img| {
            let at = match &img.data {
                PixelData::U8(v) => f64::from(v[v.len() / 2]),
                PixelData::U16(v) => f64::from(v[v.len() / 2]),
                PixelData::F32(v) => f64::from(v[v.len() / 2]),
                _ => unreachable!(),
            };
            for t in [at, at + 0.4] {
                let json = format!(r#"{{"thresh":{t},"maxval":200,"type":"{kind}"}}"#);
                compare("threshold", &json, img, Layout::Packed);
            }
        });
    }
    each_image(&[DType::U8, DType::U16], &[1], |img| {
        compare("threshold", r#"{"otsu":true}"#, img, Layout::Padded)
    });
    for json in [
        r#"{"block_size":11,"c":2}"#,
        r#"{"block_size":5,"c":-3,"method":"gaussian","type":"binary_inv"}"#,
    ] {
        each_image(&[DType::U8], &[1], |img| {
            compare("adaptive_threshold", json, img, Layout::Packed)
        });
    }
}

#[test]
fn connected_components_number_by_first_block_not_first_pixel() {
    // A's first pixel (10,0) is right of B's (6,0), but A reaches back to (1,1), in block 0:
    // with 8-connectivity OpenCV numbers A first. The GPU finds A's smallest block key among
    // the pixels of its root's block row, not only its root's row.
    let rows = [
        "......B...A.",
        ".A.......A..",
        "..AAAAAAA...",
        "............",
    ];
    let data: Vec<u8> = rows
        .iter()
        .flat_map(|r| r.bytes().map(|b| if b == b'.' { 0 } else { 255 }))
        .collect();
    compare(
        "connected_components",
        r#"{"connectivity":8}"#,
        &mask(12, 4, data),
        Layout::Packed,
    );
}

fn mask(width: usize, height: usize, data: Vec<u8>) -> Image {
    Image {
        width,
        height,
        channels: 1,
        data: PixelData::U8(data),
    }
}

#[test]
fn connected_components_match_the_cpu_backend_labels_and_order() {
    // Masks with many small components, holes and diagonal-only contacts.
    // Wider than 256 pixels: runs cross the row tiles of the first pass.
    for (w, h) in [
        (37, 29),
        (64, 40),
        (1, 9),
        (9, 1),
        (130, 17),
        (600, 9),
        (513, 4),
    ] {
        for density in [3u64, 5, 8] {
            let mut state = w as u64 * 31 + h as u64 + density;
            let data: Vec<u8> = (0..w * h)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    if (state >> 33) % 10 < density {
                        255
                    } else {
                        0
                    }
                })
                .collect();
            let img = mask(w, h, data);
            compare(
                "connected_components",
                r#"{"connectivity":8}"#,
                &img,
                Layout::Packed,
            );
            compare(
                "connected_components",
                r#"{"connectivity":4}"#,
                &img,
                Layout::Padded,
            );
        }
    }
}
