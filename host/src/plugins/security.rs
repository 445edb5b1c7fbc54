//! Refuses plugin files an attacker could have swapped, and applies the optional allowlist.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Why a file or folder may not be trusted: world-writable, or owned by another non-root user.
/// `None` when it is fine.
pub fn untrusted(path: &Path) -> Option<String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return Some(format!(
                "{}: cannot read its permissions: {e}",
                path.display()
            ))
        }
    };
    if meta.mode() & 0o002 != 0 {
        return Some(format!(
            "{} is world-writable (mode {:o}): anyone could replace it; run chmod o-w on it",
            path.display(),
            meta.mode() & 0o7777
        ));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != 0 && meta.uid() != me {
        return Some(format!(
            "{} is owned by uid {}, neither root nor the current user (uid {me})",
            path.display(),
            meta.uid()
        ));
    }
    None
}

/// Checks a plugin library and the folder holding it.
pub fn check_plugin_file(library: &Path) -> Result<(), String> {
    let dir = library
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    for p in [dir, library] {
        if let Some(reason) = untrusted(p) {
            return Err(reason);
        }
    }
    Ok(())
}

/// Hex SHA-256 of a file's contents.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The digests of `YAM_PLUGIN_ALLOWLIST`: one hex SHA-256 per line (anything after it on the
/// line, such as a file name, is ignored; `#` starts a comment). `Ok(None)` when unset.
pub fn allowlist_from_env() -> Result<Option<Vec<String>>, String> {
    let Some(path) = std::env::var_os("YAM_PLUGIN_ALLOWLIST") else {
        return Ok(None);
    };
    let path = Path::new(&path);
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("YAM_PLUGIN_ALLOWLIST={}: cannot read: {e}", path.display()))?;
    let mut digests = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(first) = line.split_whitespace().next() else {
            continue;
        };
        let ok = first.len() == 64 && first.chars().all(|c| c.is_ascii_hexdigit());
        if !ok {
            return Err(format!(
                "YAM_PLUGIN_ALLOWLIST={}:{}: {first:?} is not a SHA-256 digest (64 hex digits)",
                path.display(),
                n + 1
            ));
        }
        digests.push(first.to_ascii_lowercase());
    }
    Ok(Some(digests))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn world_writable_files_and_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("libx.so");
        std::fs::write(&lib, b"x").unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(check_plugin_file(&lib), Ok(()));
        std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = check_plugin_file(&lib).unwrap_err();
        assert!(e.contains("libx.so is world-writable (mode 666)"), "{e}");
        std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_plugin_file(&lib).unwrap_err();
        assert!(e.contains("world-writable (mode 777)"), "{e}");
    }

    #[test]
    fn sha256_of_known_content() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("abc");
        std::fs::write(&f, b"abc").unwrap();
        // FIPS 180-2 test vector for "abc".
        assert_eq!(
            sha256_file(&f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
