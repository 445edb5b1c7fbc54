//! Plugin manifests: the JSON file installed beside a plugin library.
//!
//! Listing reads manifests only — no plugin code runs to list. Schema (version 1):
//!
//! ```json
//! {
//!   "manifest_version": 1,
//!   "name": "cuda",
//!   "version": "0.1.0",
//!   "library": "libyam_cuda.so",
//!   "api_version": "0.1.0",
//!   "backend": "cuda",
//!   "vendor": "yam project",
//!   "deterministic": true,
//!   "kernels": [
//!     {"id": "gaussian_blur", "dtypes": ["u8", "u16", "f32"], "channels": [1, 3, 4],
//!      "max_pixels": 0, "supports_inplace": true, "schema_version": 1}
//!   ]
//! }
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use yam_plugin_api::{BackendKind, DType};

/// The manifest schema version this host reads.
pub const MANIFEST_VERSION: u32 = 1;

/// One declared kernel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestKernel {
    /// Catalogue id.
    pub id: String,
    /// Input dtypes.
    pub dtypes: Vec<DType>,
    /// Input channel counts.
    pub channels: Vec<u32>,
    /// Largest input in pixels, 0 = unlimited.
    #[serde(default)]
    pub max_pixels: u64,
    /// Output may alias the input.
    #[serde(default)]
    pub supports_inplace: bool,
    /// Parameter schema version implemented.
    #[serde(default = "one")]
    pub schema_version: u32,
}

fn one() -> u32 {
    1
}

/// A plugin manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Schema version of this file ([`MANIFEST_VERSION`]).
    pub manifest_version: u32,
    /// Unique plugin name (`[a-z0-9_-]+`).
    pub name: String,
    /// Plugin version (semver).
    pub version: String,
    /// Library file, relative to the manifest's folder.
    pub library: String,
    /// `yam-plugin-api` version the plugin was built with (semver).
    pub api_version: String,
    /// Backend kind: cpu, cuda, rocm, opencl, metal.
    pub backend: String,
    /// Vendor.
    pub vendor: String,
    /// Bit-identical results run to run.
    #[serde(default)]
    pub deterministic: bool,
    /// Kernels implemented.
    pub kernels: Vec<ManifestKernel>,
}

/// A manifest file that could not be used, with the reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ManifestError {
    /// The manifest file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl Manifest {
    /// Reads and checks a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let err = |message: String| ManifestError {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| {
            err(format!(
                "not a valid plugin manifest (line {}, column {}): {e}",
                e.line(),
                e.column()
            ))
        })?;
        m.check().map_err(err)?;
        Ok(m)
    }

    fn check(&self) -> Result<(), String> {
        if self.manifest_version != MANIFEST_VERSION {
            return Err(format!(
                "manifest_version {} is not supported; this yam reads version {MANIFEST_VERSION}",
                self.manifest_version
            ));
        }
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !name_ok {
            return Err(format!(
                "name {:?}: expected lowercase letters, digits, - or _",
                self.name
            ));
        }
        semver::Version::parse(&self.version)
            .map_err(|e| format!("version {:?}: {e}", self.version))?;
        semver::Version::parse(&self.api_version)
            .map_err(|e| format!("api_version {:?}: {e}", self.api_version))?;
        if BackendKind::from_name(&self.backend).is_none() {
            return Err(format!(
                "backend {:?}: expected cpu, cuda, rocm, opencl or metal",
                self.backend
            ));
        }
        let lib = Path::new(&self.library);
        if self.library.is_empty() || lib.is_absolute() || lib.components().count() != 1 {
            return Err(format!(
                "library {:?}: expected a file name in the manifest's folder",
                self.library
            ));
        }
        Ok(())
    }

    /// The backend kind (checked by [`Manifest::load`]).
    pub fn kind(&self) -> BackendKind {
        BackendKind::from_name(&self.backend).unwrap_or(BackendKind::Cpu)
    }

    /// The library path, resolved against the manifest's folder.
    pub fn library_path(&self, manifest_path: &Path) -> PathBuf {
        manifest_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&self.library)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.json");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    const GOOD: &str = r#"{"manifest_version":1,"name":"cpu-plugin","version":"0.1.0",
        "library":"libyam_cpu_plugin.so","api_version":"0.1.0","backend":"cpu","vendor":"yam",
        "kernels":[{"id":"threshold","dtypes":["u8"],"channels":[1]}]}"#;

    #[test]
    fn good_manifest_loads_and_resolves_its_library() {
        let (_d, p) = write(GOOD);
        let m = Manifest::load(&p).unwrap();
        assert_eq!(m.kind(), BackendKind::Cpu);
        assert_eq!(m.kernels[0].schema_version, 1);
        assert_eq!(
            m.library_path(&p),
            p.parent().unwrap().join("libyam_cpu_plugin.so")
        );
    }

    #[test]
    fn bad_manifests_say_which_field_and_what_was_expected() {
        let cases = [
            (GOOD.replace("\"cpu\",", "\"tpu\","), "backend \"tpu\""),
            (
                GOOD.replace(
                    "\"0.1.0\",\n        \"library\"",
                    "\"one\",\n        \"library\"",
                ),
                "version \"one\"",
            ),
            (
                GOOD.replace("libyam_cpu_plugin.so", "../evil.so"),
                "library \"../evil.so\"",
            ),
            (
                GOOD.replace("cpu-plugin", "CPU Plugin"),
                "name \"CPU Plugin\"",
            ),
            (
                GOOD.replace("\"manifest_version\":1", "\"manifest_version\":9"),
                "manifest_version 9",
            ),
            (
                GOOD.replace("\"vendor\":\"yam\"", "\"vendr\":\"yam\""),
                "unknown field `vendr`",
            ),
            ("{".to_string(), "line 1"),
        ];
        for (text, expected) in cases {
            let (_d, p) = write(&text);
            let e = Manifest::load(&p).unwrap_err().to_string();
            assert!(e.contains(expected), "expected {expected:?} in {e}");
            assert!(e.starts_with(&p.display().to_string()), "{e}");
        }
    }
}
