//! Every kernel variant the ROCm backend can run, compiled by the plugin's own hiprtc path for
//! two AMD architectures: gfx90a (MI200) and gfx1030 (RDNA2). hiprtc needs no GPU, so this
//! runs wherever ROCm's runtime is installed (CI installs Debian's ROCm 5.2) and keeps the
//! shared sources compiling for HIP between runs on AMD hardware.

use yam_plugin_api::gpu::kernels::{variants, COMMON};
use yam_rocm::{error::HipError, hiprtc};

/// Architectures checked. (ROCm 5.2's device libraries stop at gfx940 and gfx1036, so gfx942
/// and gfx1100 need a newer ROCm.)
const ARCHS: [&str; 2] = ["gfx90a", "gfx1030"];

/// A code object is an ELF file for the AMDGPU target (e_machine 224).
fn is_amdgpu_elf(bin: &[u8]) -> bool {
    bin.len() > 20 && &bin[..4] == b"\x7fELF" && u16::from_le_bytes([bin[18], bin[19]]) == 224
}

#[test]
fn every_kernel_variant_compiles_for_gfx90a_and_gfx1030() {
    let mut failures = Vec::new();
    let mut compiled = 0;
    for arch in ARCHS {
        for (source, defines) in variants() {
            match hiprtc::compile(source, &defines, arch) {
                Ok(bin) => {
                    assert!(
                        is_amdgpu_elf(&bin) || bin.starts_with(b"__CLANG_OFFLOAD_BUNDLE__"),
                        "{} {defines} for {arch}: not a code object",
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
        "{} of {} variants failed:\n{}",
        failures.len(),
        compiled + failures.len(),
        failures.join("\n\n")
    );
    assert_eq!(compiled, ARCHS.len() * variants().len());
}

#[test]
fn a_kernel_error_fails_with_the_compiler_log() {
    let broken = format!("{COMMON}\nKERNEL void broken(int* p) {{ p[0] = undeclared_name; }}");
    let err = hiprtc::compile_text("broken", &broken, "-DT=u8", "gfx90a").unwrap_err();
    let HipError::Compile { log, arch, .. } = &err else {
        panic!("expected a compile error, got {err}");
    };
    assert_eq!(arch, "gfx90a");
    assert!(log.contains("undeclared_name"), "{log}");
}
