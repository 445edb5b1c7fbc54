//! hiprtc, HIP's run-time compiler (inside libamdhip64 on ROCm 5): the shared kernel sources
//! compiled for one gfx architecture into a code object. hip-sys has no hiprtc bindings, so
//! the seven entry points used are declared here, as `hip/hiprtc.h` declares them.
//!
//! hiprtc needs no GPU, so CI compiles every kernel variant for two architectures through
//! this very path (`tests/hiprtc_compile.rs`).

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::Mutex;

use yam_plugin_api::gpu::Source;

use crate::error::HipError;

#[allow(non_camel_case_types)]
type hiprtcProgram = *mut std::ffi::c_void;
/// `hiprtcResult`: 0 is success.
#[allow(non_camel_case_types)]
type hiprtcResult = c_int;

extern "C" {
    fn hiprtcCreateProgram(
        prog: *mut hiprtcProgram,
        src: *const c_char,
        name: *const c_char,
        num_headers: c_int,
        headers: *const *const c_char,
        include_names: *const *const c_char,
    ) -> hiprtcResult;
    fn hiprtcCompileProgram(
        prog: hiprtcProgram,
        num_options: c_int,
        options: *const *const c_char,
    ) -> hiprtcResult;
    fn hiprtcGetCodeSize(prog: hiprtcProgram, size: *mut usize) -> hiprtcResult;
    fn hiprtcGetCode(prog: hiprtcProgram, code: *mut c_char) -> hiprtcResult;
    fn hiprtcGetProgramLogSize(prog: hiprtcProgram, size: *mut usize) -> hiprtcResult;
    fn hiprtcGetProgramLog(prog: hiprtcProgram, log: *mut c_char) -> hiprtcResult;
    fn hiprtcDestroyProgram(prog: *mut hiprtcProgram) -> hiprtcResult;
    fn hiprtcGetErrorString(result: hiprtcResult) -> *const c_char;
}

/// Options every kernel is compiled with. No contraction of a*b+c into fused multiply-adds:
/// the CPU backend never fuses, and float results must match it bit for bit.
pub const BASE_OPTIONS: &[&str] = &["-O3", "-ffp-contract=off"];

fn result_text(r: hiprtcResult) -> String {
    // SAFETY: hiprtcGetErrorString returns a static string for any value.
    let p = unsafe { hiprtcGetErrorString(r) };
    if p.is_null() {
        format!("hiprtc error {r}")
    } else {
        // SAFETY: non-null, NUL-terminated, static.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// Compiles `source` with `defines` into a code object for `arch` (`gfx90a`).
pub fn compile(source: Source, defines: &str, arch: &str) -> Result<Vec<u8>, HipError> {
    compile_text(source.name(), &source.full_text(), defines, arch)
}

/// Compiles the program `text` (named `program` in messages); see [`compile`].
pub fn compile_text(
    program: &'static str,
    text: &str,
    defines: &str,
    arch: &str,
) -> Result<Vec<u8>, HipError> {
    let fail = |log: String| HipError::Compile {
        program,
        options: defines.to_string(),
        arch: arch.to_string(),
        log,
    };
    let src = CString::new(text).map_err(|_| fail("source holds a NUL".into()))?;
    let name = CString::new(format!("{program}.hip")).map_err(|_| fail("NUL in name".into()))?;
    let mut options: Vec<CString> = BASE_OPTIONS
        .iter()
        .map(|o| CString::new(*o).expect("no NUL"))
        .collect();
    options.push(CString::new(format!("--offload-arch={arch}")).map_err(|_| fail("NUL".into()))?);
    for d in defines.split_whitespace() {
        options.push(CString::new(d).map_err(|_| fail("NUL in a define".into()))?);
    }
    let ptrs: Vec<*const c_char> = options.iter().map(|o| o.as_ptr()).collect();
    // One compilation at a time: ROCm 5.2's hiprtc (LLVM 15 in comgr) is not safe to enter
    // from two threads at once; a test run compiling on two threads spun forever in
    // llvm::TargetRegistry::lookupTarget.
    static COMPILER: Mutex<()> = Mutex::new(());
    let _one_at_a_time = COMPILER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut prog: hiprtcProgram = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated strings; no headers.
    let r = unsafe {
        hiprtcCreateProgram(
            &mut prog,
            src.as_ptr(),
            name.as_ptr(),
            0,
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(fail(format!("hiprtcCreateProgram: {}", result_text(r))));
    }
    // SAFETY: `prog` is live; `ptrs` points at live option strings.
    let r = unsafe { hiprtcCompileProgram(prog, ptrs.len() as c_int, ptrs.as_ptr()) };
    let out = if r == 0 {
        code(prog).map_err(fail)
    } else {
        Err(fail(format!("{}: {}", result_text(r), log(prog))))
    };
    // SAFETY: `prog` came from hiprtcCreateProgram and is not used afterwards.
    unsafe { hiprtcDestroyProgram(&mut prog) };
    out
}

fn code(prog: hiprtcProgram) -> Result<Vec<u8>, String> {
    let mut size = 0usize;
    // SAFETY: `prog` is a compiled program; valid out-pointer.
    let r = unsafe { hiprtcGetCodeSize(prog, &mut size) };
    if r != 0 || size == 0 {
        return Err(format!(
            "hiprtcGetCodeSize: {} (size {size})",
            result_text(r)
        ));
    }
    let mut buf = vec![0u8; size];
    // SAFETY: `buf` holds the `size` bytes asked for.
    let r = unsafe { hiprtcGetCode(prog, buf.as_mut_ptr().cast()) };
    if r != 0 {
        return Err(format!("hiprtcGetCode: {}", result_text(r)));
    }
    Ok(buf)
}

fn log(prog: hiprtcProgram) -> String {
    let mut size = 0usize;
    // SAFETY: `prog` is live; valid out-pointer.
    if unsafe { hiprtcGetProgramLogSize(prog, &mut size) } != 0 || size <= 1 {
        return String::new();
    }
    let mut buf = vec![0u8; size];
    // SAFETY: `buf` holds the `size` bytes asked for.
    if unsafe { hiprtcGetProgramLog(prog, buf.as_mut_ptr().cast()) } != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).trim().to_string()
}
