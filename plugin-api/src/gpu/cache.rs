//! The on-disk cache of compiled GPU code: `$XDG_CACHE_HOME/yam/<backend>` (or
//! `~/.cache/yam/<backend>`). Backends name files after the source, architecture, driver and
//! compiler versions and a hash of the source text and options, so a changed kernel or a new
//! driver never loads a stale binary.

use std::path::{Path, PathBuf};

/// The cache folder of `backend`; the variable `override_var` (`YAM_CUDA_CACHE`) overrides
/// it, and set to `off` disables caching.
pub fn dir(backend: &str, override_var: &str) -> Option<PathBuf> {
    match std::env::var_os(override_var) {
        Some(v) if v == "off" => return None,
        Some(v) if !v.is_empty() => return Some(PathBuf::from(v)),
        _ => {}
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("yam").join(backend))
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

/// The digest part of a cache file name: 24 hex digits of SHA-256 over the parts.
pub fn digest(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
        h.update(b"\0");
    }
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
