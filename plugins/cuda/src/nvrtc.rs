//! NVRTC, the CUDA run-time compiler: finding it without panicking and compiling the kernel
//! sources to CUBIN for one GPU architecture.
//!
//! NVRTC needs no GPU, so the same path compiles every kernel for `sm_80` and `sm_90` in CI
//! (see `tests/nvrtc_compile.rs`). `YAM_NVRTC` names a `libnvrtc.so.*` outside the loader's
//! search path (for example the one `plugins/cuda/scripts/fetch-nvrtc.py` unpacks from PyPI); it is opened
//! first, and cudarc's own lookup then finds it by its soname.

use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::OnceLock;

use cudarc::nvrtc::{result, sys};

use crate::error::{panic_text, CuError};
use yam_plugin_api::gpu::Source;

/// Options every kernel is compiled with. No fused multiply-add: the CPU backend never fuses,
/// and float results must match it bit for bit.
pub const BASE_OPTIONS: &[&str] = &["--fmad=false", "--std=c++14"];

/// Makes NVRTC loadable, or says why it is not.
pub fn ensure_loaded() -> Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED.get_or_init(load).clone()
}

fn load() -> Result<(), String> {
    if let Some(path) = std::env::var_os("YAM_NVRTC").filter(|p| !p.is_empty()) {
        preload(Path::new(&path)).map_err(|e| format!("YAM_NVRTC={e}"))?;
    }
    // SAFETY: a presence check only opens and closes the library.
    let present = catch_unwind(|| unsafe { sys::is_culib_present() }).unwrap_or(false);
    if present {
        Ok(())
    } else {
        let names = cudarc::get_lib_name_candidates("nvrtc");
        Err(format!(
            "libnvrtc.so not found (searched {}; install the CUDA toolkit's NVRTC or point \
             YAM_NVRTC at a libnvrtc.so)",
            names
                .iter()
                .filter(|n| n.starts_with("libnvrtc.so"))
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// Opens the NVRTC library at `path` and keeps it loaded, so that the loader finds it by its
/// soname (`libnvrtc.so.12`) when cudarc asks. Call before the first [`ensure_loaded`].
pub fn preload(path: &Path) -> Result<(), String> {
    // SAFETY: loading NVRTC runs its initialisers, which have no preconditions. The handle is
    // leaked on purpose: the library must stay mapped for the life of the process.
    match unsafe { libloading::Library::new(path) } {
        Ok(lib) => {
            std::mem::forget(lib);
            Ok(())
        }
        Err(e) => Err(format!("{} cannot be loaded: {e}", path.display())),
    }
}

/// NVRTC's version as `(major, minor)`.
pub fn version() -> Result<(i32, i32), String> {
    ensure_loaded()?;
    catch_unwind(|| {
        let (mut major, mut minor) = (0, 0);
        // SAFETY: two valid out-pointers.
        let r = unsafe { sys::nvrtcVersion(&mut major, &mut minor) };
        if r == sys::nvrtcResult::NVRTC_SUCCESS {
            Ok((major, minor))
        } else {
            Err(format!("nvrtcVersion failed: {r:?}"))
        }
    })
    .unwrap_or_else(|p| Err(format!("nvrtcVersion panicked: {}", panic_text(&*p))))
}

/// Compiles `source` with `defines` (`-DT=u8 ...`) into a CUBIN for `arch` (`sm_90`).
pub fn compile_cubin(source: Source, defines: &str, arch: &str) -> Result<Vec<u8>, CuError> {
    compile_text(source.name(), &source.full_text(), defines, arch)
}

/// Compiles the program `text` (named `program` in messages); see [`compile_cubin`].
pub fn compile_text(
    program: &'static str,
    text: &str,
    defines: &str,
    arch: &str,
) -> Result<Vec<u8>, CuError> {
    ensure_loaded().map_err(CuError::Unavailable)?;
    let fail = |log: String| CuError::Compile {
        program,
        options: defines.to_string(),
        arch: arch.to_string(),
        log,
    };
    let text = CString::new(text).map_err(|_| fail("source holds a NUL".into()))?;
    let name = CString::new(format!("{program}.cu")).map_err(|_| fail("NUL in name".into()))?;
    let mut options: Vec<String> = BASE_OPTIONS.iter().map(|s| s.to_string()).collect();
    options.push(format!("--gpu-architecture={arch}"));
    options.extend(defines.split_whitespace().map(str::to_string));
    let run = AssertUnwindSafe(|| -> Result<Vec<u8>, CuError> {
        let prog = result::create_program(&text, Some(&name))
            .map_err(|e| fail(format!("nvrtcCreateProgram: {e:?}")))?;
        // SAFETY: `prog` is a live program; it is destroyed once below on every path.
        let compiled = unsafe { result::compile_program(prog, &options) };
        let out = match compiled {
            Ok(()) => cubin(prog).map_err(|e| fail(format!("nvrtcGetCUBIN: {e}"))),
            Err(e) => {
                // SAFETY: as above.
                let log = unsafe { result::get_program_log(prog) }
                    .map(|raw| log_text(&raw))
                    .unwrap_or_default();
                Err(fail(format!("{e:?}: {log}")))
            }
        };
        // SAFETY: `prog` came from create_program and is not used afterwards.
        let _ = unsafe { result::destroy_program(prog) };
        out
    });
    catch_unwind(run).unwrap_or_else(|p| Err(fail(format!("NVRTC panicked: {}", panic_text(&*p)))))
}

fn cubin(prog: sys::nvrtcProgram) -> Result<Vec<u8>, String> {
    let mut size = 0usize;
    // SAFETY: `prog` is a compiled program; `size` is a valid out-pointer.
    let r = unsafe { sys::nvrtcGetCUBINSize(prog, &mut size) };
    if r != sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(format!("{r:?}"));
    }
    if size == 0 {
        return Err("empty CUBIN (was the architecture virtual, compute_XX?)".into());
    }
    let mut buf = vec![0u8; size];
    // SAFETY: `buf` holds the `size` bytes NVRTC asked for.
    let r = unsafe { sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr().cast::<c_char>()) };
    if r != sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(format!("{r:?}"));
    }
    Ok(buf)
}

fn log_text(raw: &[c_char]) -> String {
    let bytes: Vec<u8> = raw
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).trim().to_string()
}
