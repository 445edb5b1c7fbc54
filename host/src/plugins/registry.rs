//! Discovery and the registry cache: every plugin found, and whether it may be loaded.
//!
//! Scan results are cached in `$XDG_CACHE_HOME/yam/registry.json` (default `~/.cache`), keyed by
//! the library's path, size, mtime and SHA-256 (and the manifest's SHA-256). A changed file is
//! rescanned by itself — which is also how a quarantine heals; `yam plugins scan --force`
//! rescans everything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::manifest::Manifest;
use super::scan::{api_compatible, scan_in_child, ScanFacts, ScanOutcome};
use super::search::{search_dirs, NameFilter, SearchDir};
use super::security::{allowlist_from_env, check_plugin_file, sha256_file, untrusted};

/// Whether a plugin can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Scanned, matches its manifest, has a device: it is loaded for runs.
    Ready,
    /// Fine, but its runtime or device is missing here.
    Unavailable,
    /// Refused: bad manifest, untrusted file, incompatible ABI, lying capabilities, ...
    Rejected,
    /// Its scan crashed, hung or panicked; healed when the file changes.
    Quarantined,
    /// Filtered out by YAM_PLUGINS_SELECT / YAM_PLUGINS_DISABLE.
    Disabled,
}

impl Status {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ready => "ready",
            Status::Unavailable => "unavailable",
            Status::Rejected => "rejected",
            Status::Quarantined => "quarantined",
            Status::Disabled => "disabled",
        }
    }
}

/// One plugin as found on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginRecord {
    /// Name from the manifest (or the manifest's file stem when it could not be read).
    pub name: String,
    /// Plugin version from the manifest.
    pub version: Option<String>,
    /// Backend kind from the manifest.
    pub backend: Option<String>,
    /// api_version from the manifest.
    pub api_version: Option<String>,
    /// The manifest file.
    pub manifest: PathBuf,
    /// The library file.
    pub library: Option<PathBuf>,
    /// Status.
    pub status: Status,
    /// Why it is not ready.
    pub reason: Option<String>,
    /// When the status was decided (seconds since the Unix epoch).
    pub since: u64,
    /// What the library said about itself, when it was scanned.
    pub facts: Option<ScanFacts>,
    /// The manifest, when it could be read.
    #[serde(skip)]
    pub manifest_data: Option<Manifest>,
}

/// The result of discovery.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// Folders searched, in order.
    pub dirs: Vec<SearchDir>,
    /// Plugins found, in search order.
    pub plugins: Vec<PluginRecord>,
    /// Where the cache lives.
    pub cache_path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CacheKey {
    size: u64,
    mtime_ns: u128,
    sha256: String,
    manifest_sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CacheEntry {
    key: CacheKey,
    outcome: ScanOutcome,
    since: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    yam_version: String,
    entries: BTreeMap<PathBuf, CacheEntry>,
}

/// Options of discovery.
#[derive(Debug, Clone, Default)]
pub struct DiscoverOptions {
    /// `--plugin-dir` folders.
    pub plugin_dirs: Vec<PathBuf>,
    /// Rescan even when the cache is valid.
    pub force_rescan: bool,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The registry cache file.
pub fn cache_path() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("yam/registry.json")
}

fn scan_timeout() -> Duration {
    let secs = std::env::var("YAM_SCAN_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(10.0);
    Duration::from_secs_f64(secs.clamp(0.1, 600.0))
}

fn key_of(library: &Path, manifest: &Path) -> std::io::Result<CacheKey> {
    let meta = std::fs::metadata(library)?;
    let mtime_ns = meta
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Ok(CacheKey {
        size: meta.len(),
        mtime_ns,
        sha256: sha256_file(library)?,
        manifest_sha256: sha256_file(manifest)?,
    })
}

fn load_cache(path: &Path) -> CacheFile {
    let cache: CacheFile = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    // A cache written by another yam version may hold scans made with another ABI.
    if cache.yam_version == env!("CARGO_PKG_VERSION") {
        cache
    } else {
        CacheFile::default()
    }
}

fn save_cache(path: &Path, cache: &CacheFile) {
    let write = || -> std::io::Result<()> {
        let dir = path.parent().expect("cache path has a folder");
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer_pretty(&mut tmp, cache)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    if let Err(e) = write() {
        tracing::warn!(
            "could not write the plugin registry cache {}: {e}",
            path.display()
        );
    }
}

/// Compares what the library said with its manifest; `Err` names every difference.
pub fn check_against_manifest(m: &Manifest, f: &ScanFacts) -> Result<(), String> {
    let mut problems = Vec::new();
    if f.name != m.name {
        problems.push(format!(
            "the library calls itself {:?}, the manifest {:?}",
            f.name, m.name
        ));
    }
    if f.kind != m.backend {
        problems.push(format!(
            "the library is a {} backend, the manifest says {}",
            f.kind, m.backend
        ));
    }
    if f.deterministic != m.deterministic {
        problems.push(format!(
            "the library says deterministic = {}, the manifest {}",
            f.deterministic, m.deterministic
        ));
    }
    if f.api_version != m.api_version {
        problems.push(format!(
            "the library was built against yam-plugin-api {}, the manifest says {}",
            f.api_version, m.api_version
        ));
    }
    for k in &m.kernels {
        if yam_plugin_api::kernel(&k.id).is_none() {
            problems.push(format!(
                "manifest kernel {:?} is not a catalogue kernel",
                k.id
            ));
        }
        match f.kernels.iter().find(|d| d.id == k.id) {
            None => problems.push(format!(
                "manifest declares {} but the library does not implement it",
                k.id
            )),
            Some(d) => {
                let (mut md, mut ld) = (k.dtypes.clone(), d.dtypes.clone());
                let (mut mc, mut lc) = (k.channels.clone(), d.channels.clone());
                md.sort_by_key(|t| *t as u8);
                ld.sort_by_key(|t| *t as u8);
                mc.sort_unstable();
                lc.sort_unstable();
                if md != ld || mc != lc {
                    problems.push(format!(
                        "{}: manifest declares {:?} x {:?}, the library {:?} x {:?}",
                        k.id, md, mc, ld, lc
                    ));
                }
                if k.max_pixels != d.max_pixels || k.supports_inplace != d.supports_inplace {
                    problems.push(format!(
                        "{}: manifest declares max_pixels {} and supports_inplace {}, the library {} and {}",
                        k.id, k.max_pixels, k.supports_inplace, d.max_pixels, d.supports_inplace
                    ));
                }
            }
        }
    }
    for d in &f.kernels {
        if yam_plugin_api::kernel(&d.id).is_none() {
            problems.push(format!(
                "the library reports {:?}, which is not a catalogue kernel",
                d.id
            ));
        } else if !m.kernels.iter().any(|k| k.id == d.id) {
            problems.push(format!(
                "the library implements {} but the manifest does not declare it",
                d.id
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "capabilities do not match the manifest: {}",
            problems.join("; ")
        ))
    }
}

fn record_from(m: Option<&Manifest>, manifest: &Path) -> PluginRecord {
    PluginRecord {
        name: m.map(|m| m.name.clone()).unwrap_or_else(|| {
            manifest
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        }),
        version: m.map(|m| m.version.clone()),
        backend: m.map(|m| m.backend.clone()),
        api_version: m.map(|m| m.api_version.clone()),
        manifest: manifest.to_path_buf(),
        library: None,
        status: Status::Rejected,
        reason: None,
        since: now(),
        facts: None,
        manifest_data: m.cloned(),
    }
}

/// Finds every plugin on the search path and decides its status, scanning (in a child process)
/// those whose cache entry is missing or stale.
pub fn discover(opts: &DiscoverOptions) -> Discovery {
    let dirs = search_dirs(&opts.plugin_dirs);
    let filter = NameFilter::from_env();
    let allowlist = allowlist_from_env();
    let cache_path = cache_path();
    let mut cache = load_cache(&cache_path);
    let mut plugins: Vec<PluginRecord> = Vec::new();
    let mut dirty = false;

    for dir in &dirs {
        let Ok(entries) = std::fs::read_dir(&dir.path) else {
            continue;
        };
        let mut manifests: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
            .collect();
        manifests.sort();
        for manifest_path in manifests {
            let manifest = Manifest::load(&manifest_path);
            let mut rec = record_from(manifest.as_ref().ok(), &manifest_path);
            let m = match manifest {
                Ok(m) => m,
                Err(e) => {
                    rec.reason = Some(format!("bad manifest: {}", e.message));
                    plugins.push(rec);
                    continue;
                }
            };
            let library = m.library_path(&manifest_path);
            rec.library = Some(library.clone());
            if let Some(first) = plugins
                .iter()
                .find(|p| p.name == m.name && p.status != Status::Rejected)
            {
                rec.reason = Some(format!(
                    "shadowed by {} (same name, earlier on the search path)",
                    first.manifest.display()
                ));
                plugins.push(rec);
                continue;
            }
            if let Some(reason) = filter.excludes(&m.name) {
                rec.status = Status::Disabled;
                rec.reason = Some(reason);
                plugins.push(rec);
                continue;
            }
            let decided = decide(
                &m,
                &manifest_path,
                &library,
                &allowlist,
                &mut cache,
                opts.force_rescan,
                &mut dirty,
            );
            rec.status = decided.0;
            rec.reason = decided.1;
            rec.since = decided.2;
            rec.facts = decided.3;
            plugins.push(rec);
        }
    }
    if dirty {
        cache.yam_version = env!("CARGO_PKG_VERSION").into();
        save_cache(&cache_path, &cache);
    }
    Discovery {
        dirs,
        plugins,
        cache_path,
    }
}

type Decision = (Status, Option<String>, u64, Option<ScanFacts>);

fn decide(
    m: &Manifest,
    manifest_path: &Path,
    library: &Path,
    allowlist: &Result<Option<Vec<String>>, String>,
    cache: &mut CacheFile,
    force: bool,
    dirty: &mut bool,
) -> Decision {
    let reject = |reason: String| (Status::Rejected, Some(reason), now(), None);
    if !library.is_file() {
        return reject(format!(
            "library {} not found (named by the manifest)",
            library.display()
        ));
    }
    if let Some(reason) = untrusted(manifest_path) {
        return reject(reason);
    }
    if let Err(reason) = check_plugin_file(library) {
        return reject(reason);
    }
    if let Err(reason) = api_compatible(&m.api_version, yam_plugin_api::API_VERSION) {
        return reject(format!("manifest api_version: {reason}"));
    }
    let key = match key_of(library, manifest_path) {
        Ok(k) => k,
        Err(e) => return reject(format!("cannot read {}: {e}", library.display())),
    };
    match allowlist {
        Err(reason) => return reject(reason.clone()),
        Ok(Some(list)) if !list.contains(&key.sha256) => {
            return reject(format!(
                "SHA-256 {} is not in YAM_PLUGIN_ALLOWLIST",
                key.sha256
            ));
        }
        _ => {}
    }
    let cached = cache
        .entries
        .get(library)
        .filter(|e| e.key == key && !force)
        .cloned();
    let entry = match cached {
        Some(e) => e,
        None => {
            tracing::info!("scanning plugin {}", library.display());
            let e = CacheEntry {
                key,
                outcome: scan_in_child(library, scan_timeout()),
                since: now(),
            };
            cache.entries.insert(library.to_path_buf(), e.clone());
            *dirty = true;
            e
        }
    };
    match entry.outcome {
        ScanOutcome::Scanned(facts) => {
            if let Err(reason) = check_against_manifest(m, &facts) {
                return (Status::Rejected, Some(reason), entry.since, Some(*facts));
            }
            match facts.unavailable.clone() {
                Some(reason) => (Status::Unavailable, Some(reason), entry.since, Some(*facts)),
                None => (Status::Ready, None, entry.since, Some(*facts)),
            }
        }
        ScanOutcome::Rejected { reason } => (Status::Rejected, Some(reason), entry.since, None),
        ScanOutcome::Unavailable { reason } => {
            (Status::Unavailable, Some(reason), entry.since, None)
        }
        ScanOutcome::Quarantined { reason } => {
            (Status::Quarantined, Some(reason), entry.since, None)
        }
    }
}
