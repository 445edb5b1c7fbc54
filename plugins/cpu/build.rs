//! Sets `cfg(yam_avx512)` when the compiler has the AVX-512 intrinsics and target features
//! (stable since Rust 1.89; the workspace's minimum is older), so older compilers still
//! build the crate and run the AVX2 code at the AVX-512 level.

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(yam_avx512)");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok());
    // "rustc 1.95.0 (…)": the minor version.
    let minor = version
        .as_deref()
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo:rustc-cfg=yam_avx512");
    }
}
