//! Every CUDA kernel variant the backend can run, compiled by the plugin's own NVRTC path for
//! real GPU architectures (sm_80: A100, sm_90: H100/H200). NVRTC needs no GPU, so this runs on
//! every machine and keeps the kernels from rotting between GPU runs.
//!
//! NVRTC comes from `YAM_NVRTC`, else from `target/nvrtc` (where `plugins/cuda/scripts/fetch-nvrtc.py`, run
//! by the README's set-up command and by CI, unpacks NVIDIA's PyPI wheel), else from the
//! system. Without any of them this test fails and says how to get one.

use std::path::{Path, PathBuf};

use yam_cuda::{error::CuError, nvrtc};
use yam_plugin_api::gpu::kernels::{variants, Source, COMMON};

const ARCHS: [&str; 2] = ["sm_80", "sm_90"];

fn fetched_nvrtc() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/nvrtc/nvidia/cuda_nvrtc/lib/libnvrtc.so.12")
}

fn load_nvrtc() {
    if std::env::var_os("YAM_NVRTC").is_none() && fetched_nvrtc().is_file() {
        nvrtc::preload(&fetched_nvrtc()).unwrap();
    }
    if let Err(e) = nvrtc::ensure_loaded() {
        panic!(
            "{e}\nThe CUDA compile check needs NVRTC (no GPU): run `python3 plugins/cuda/scripts/fetch-nvrtc.py` \
             (downloads NVIDIA's nvidia-cuda-nvrtc-cu12 wheel into target/nvrtc) or set YAM_NVRTC."
        );
    }
}

#[test]
fn every_kernel_variant_compiles_for_sm80_and_sm90() {
    load_nvrtc();
    let (major, minor) = nvrtc::version().unwrap();
    let mut failures = Vec::new();
    let mut compiled = 0;
    for arch in ARCHS {
        for (source, defines) in variants() {
            match nvrtc::compile_cubin(source, &defines, arch) {
                Ok(bin) => {
                    assert_eq!(
                        &bin[..4],
                        b"\x7fELF",
                        "{} {defines}: not a CUBIN",
                        source.name()
                    );
                    compiled += 1;
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "NVRTC {major}.{minor}: {} of {} variants failed:\n{}",
        failures.len(),
        compiled + failures.len(),
        failures.join("\n\n")
    );
    assert_eq!(compiled, ARCHS.len() * variants().len());
}

#[test]
fn a_kernel_error_fails_with_the_compiler_log() {
    load_nvrtc();
    let broken = format!(
        "{}\nKERNEL void broken(int* p) {{ p[0] = undeclared_name; }}",
        COMMON
    );
    let err = nvrtc::compile_text("broken", &broken, "-DT=u8", "sm_90").unwrap_err();
    let CuError::Compile { log, arch, .. } = &err else {
        panic!("expected a compile error, got {err}");
    };
    assert_eq!(arch, "sm_90");
    assert!(log.contains("undeclared_name"), "{log}");
}

#[test]
fn every_source_defines_the_kernels_the_host_launches() {
    load_nvrtc();
    // A launch of a missing kernel would only fail on a GPU; check the names here.
    let names: &[(Source, &[&str])] = &[
        (Source::Separable, &["sep_rows", "sep_cols"]),
        (
            Source::Morph,
            &[
                "rect_rows",
                "rect_cols",
                "table_level0",
                "table_level",
                "runs_apply",
                "difference",
                "copy_view",
            ],
        ),
        (Source::Median, &["median3", "median5", "median_hist"]),
        (
            Source::Threshold,
            &["lut_apply", "histogram", "adaptive_cmp", "thresh_f32"],
        ),
        (
            Source::Labeling,
            &[
                "cc_init",
                "cc_merge",
                "cc_flatten",
                "cc_fill",
                "cc_minkey",
                "cc_mark",
                "cc_write",
                "scan_blocks",
                "scan_add",
            ],
        ),
    ];
    for (source, kernels) in names {
        for k in *kernels {
            assert!(
                source.text().contains(&format!("KERNEL void {k}(")),
                "{} lacks {k}",
                source.name()
            );
        }
    }
    let ops_src = include_str!("../../../plugin-api/src/gpu/ops.rs");
    for (_, kernels) in names {
        for k in *kernels {
            assert!(
                ops_src.contains(&format!("\"{k}\"")),
                "ops.rs never launches {k}"
            );
        }
    }
}
