//! The on-disk CUBIN cache: `$XDG_CACHE_HOME/yam/cuda` (or `~/.cache/yam/cuda`). File names
//! carry the source, architecture, driver and NVRTC versions and a hash of the source text
//! and options, so a changed kernel or a new driver never loads a stale binary.

use std::path::{Path, PathBuf};

/// The cache folder; `YAM_CUDA_CACHE` overrides it, `YAM_CUDA_CACHE=off` disables caching.
pub fn dir() -> Option<PathBuf> {
    match std::env::var_os("YAM_CUDA_CACHE") {
        Some(v) if v == "off" => return None,
        Some(v) if !v.is_empty() => return Some(PathBuf::from(v)),
        _ => {}
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("yam").join("cuda"))
}

/// Stores `bin` at `file` atomically (write a temporary, rename). A cache that cannot be
/// written only costs a recompilation next time, so failures are ignored.
pub fn store(file: &Path, bin: &[u8]) {
    let Some(parent) = file.parent() else { return };
    if std::fs::create_dir_all(parent).is_err() {
        return;
    }
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, bin).is_ok() && std::fs::rename(&tmp, file).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}
