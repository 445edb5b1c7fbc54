//! Scanning a plugin in a child process.
//!
//! The `yam` binary re-executes itself as `yam __scan LIBRARY` (like GStreamer's plugin
//! scanner): the child loads the library, checks its ABI, asks it for its descriptor, kernels
//! and devices, and prints the answer as one JSON line. A plugin that crashes, hangs or aborts
//! takes only the child down; the parent reports it as quarantined with the reason.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use abi_stable::library::{lib_header_from_path, LibraryError};
use serde::{Deserialize, Serialize};
use yam_plugin_api::{PluginModule_Ref, API_VERSION};

use crate::abi::{module_facts, DeclaredKernel, Device};

/// What a successful scan learnt from the library itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanFacts {
    /// plugin-api version the library was built with.
    pub api_version: String,
    /// Descriptor name.
    pub name: String,
    /// Descriptor vendor.
    pub vendor: String,
    /// Descriptor version.
    pub version: String,
    /// Descriptor kind name.
    pub kind: String,
    /// Deterministic flag.
    pub deterministic: bool,
    /// Kernels the library reports.
    pub kernels: Vec<DeclaredKernel>,
    /// Devices the probe found.
    pub devices: Vec<Device>,
    /// Why the backend cannot run here, when it has no device.
    pub unavailable: Option<String>,
}

/// The outcome of scanning one library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ScanOutcome {
    /// Loaded and answered.
    Scanned(Box<ScanFacts>),
    /// Loaded nothing usable: not a library, not a yam plugin, incompatible ABI, an entry point
    /// returned an error.
    Rejected {
        /// Why.
        reason: String,
    },
    /// The library needs a runtime library that is not installed (e.g. libamdhip64.so.5).
    Unavailable {
        /// Which one.
        reason: String,
    },
    /// The scan crashed, hung or panicked.
    Quarantined {
        /// What happened.
        reason: String,
    },
}

/// Host and plugin api versions are compatible when the plugin's is semver-compatible with the
/// host's: same major, and for 0.x the same minor (patch and, for 1.x+, minor may differ).
pub fn api_compatible(plugin: &str, host: &str) -> Result<(), String> {
    let p = semver::Version::parse(plugin).map_err(|e| format!("api version {plugin:?}: {e}"))?;
    let h = semver::Version::parse(host).expect("the host's own version is semver");
    let same = p.major == h.major && (h.major > 0 || p.minor == h.minor);
    if same {
        Ok(())
    } else {
        Err(format!(
            "built against yam-plugin-api {p}, which is incompatible with this host's {h} \
             (major versions, and for 0.x minor versions, must match)"
        ))
    }
}

/// Flattens an error and its sources into one line (libloading's Display alone says only
/// "dlopen failed").
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = inner.source();
    }
    s
}

fn library_error(path: &Path, e: &LibraryError) -> ScanOutcome {
    match e {
        LibraryError::OpenError { .. } => {
            // abi_stable spreads this message over several indented lines; keep it on one.
            let text = chain(e).split_whitespace().collect::<Vec<_>>().join(" ");
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            // dlopen names the first file it could not open; if that is a dependency rather
            // than the plugin, the plugin is fine but its runtime is not installed.
            let missing_dep = text
                .split(": ")
                .find(|part| {
                    part.ends_with("cannot open shared object file") || part.contains(".so")
                })
                .filter(|_| text.contains("cannot open shared object file"))
                .and_then(|_| {
                    text.split(": ")
                        .find(|p| p.contains(".so") && !p.contains(&file))
                });
            match missing_dep {
                Some(dep) => ScanOutcome::Unavailable {
                    reason: format!(
                        "needs {}: not found",
                        dep.trim().rsplit('/').next().unwrap_or(dep)
                    ),
                },
                None => ScanOutcome::Rejected {
                    reason: format!("not a loadable library: {text}"),
                },
            }
        }
        LibraryError::GetSymbolError { .. } => ScanOutcome::Rejected {
            reason: "not a yam plugin: the library exports no abi_stable root module \
                     (use yam_plugin_api::export_plugin!)"
                .into(),
        },
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => ScanOutcome::Rejected {
            reason: format!(
                "built against yam-plugin-api {actual_version}, incompatible with this host's \
                     {expected_version}"
            ),
        },
        LibraryError::AbiInstability(_) => ScanOutcome::Rejected {
            reason: format!(
                "ABI layout mismatch with this host's yam-plugin-api {API_VERSION}: {:.300}",
                summarise_layout_error(&e.to_string())
            ),
        },
        LibraryError::InvalidAbiHeader(_) | LibraryError::InvalidCAbi { .. } => {
            ScanOutcome::Rejected {
                reason: format!("built with an incompatible abi_stable: {}", chain(e)),
            }
        }
        _ => ScanOutcome::Rejected { reason: chain(e) },
    }
}

/// abi_stable's layout report runs to hundreds of lines (both layouts in full); keep its
/// `Error:<what>` / `Expected:` / `Found:` blocks, which name the difference.
fn summarise_layout_error(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut found: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(what) = line.strip_prefix("Error:") else {
            continue;
        };
        let mut s = what.trim().to_string();
        if let [expected_tag, expected, found_tag, actual, ..] = &lines[i + 1..] {
            if *expected_tag == "Expected:" && *found_tag == "Found:" {
                s = format!("{s}: expected {expected}, found {actual}");
            }
        }
        if !found.contains(&s) {
            found.push(s);
        }
    }
    if found.is_empty() {
        lines.into_iter().take(3).collect::<Vec<_>>().join(" / ")
    } else {
        found.join("; ")
    }
}

/// Loads a library in this process and returns its root module, or why not.
pub fn load_module(path: &Path) -> Result<PluginModule_Ref, ScanOutcome> {
    let header = lib_header_from_path(path).map_err(|e| library_error(path, &e))?;
    // Check the ABI version before the layout: abi_stable accepts a newer 0.x minor and would
    // then report a plugin built against another yam-plugin-api as a layout mismatch, which
    // names neither version.
    let version = header.version_strings().version;
    if let Err(reason) = api_compatible(version.as_str(), API_VERSION) {
        return Err(ScanOutcome::Rejected { reason });
    }
    header
        .init_root_module::<PluginModule_Ref>()
        .map_err(|e| library_error(path, &e))
}

/// The scan itself; runs in the child process.
pub fn scan_here(path: &Path) -> ScanOutcome {
    let module = match load_module(path) {
        Ok(m) => m,
        Err(outcome) => return outcome,
    };
    let api_version = (module.api_version())().to_string();
    if let Err(reason) = api_compatible(&api_version, API_VERSION) {
        return ScanOutcome::Rejected { reason };
    }
    match module_facts(module) {
        Ok(f) => ScanOutcome::Scanned(Box::new(ScanFacts {
            api_version: f.api_version,
            name: f.name,
            vendor: f.vendor,
            version: f.version,
            kind: f.kind.name().into(),
            deterministic: f.deterministic,
            kernels: f.kernels,
            devices: f.devices,
            unavailable: f.unavailable,
        })),
        Err(reason) => ScanOutcome::Rejected { reason },
    }
}

/// Entry point of `yam __scan LIBRARY`: prints one JSON line.
pub fn scanner_main(path: &Path) -> u8 {
    let outcome = scan_here(path);
    println!("{}", serde_json::to_string(&outcome).expect("plain data"));
    0
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        _ => "signal",
    }
}

/// Scans `library` in a child process, killing it after `timeout`.
pub fn scan_in_child(library: &Path, timeout: Duration) -> ScanOutcome {
    use std::os::unix::process::ExitStatusExt;
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            return ScanOutcome::Quarantined {
                reason: format!("cannot start the scanner: {e}"),
            }
        }
    };
    let mut child = match Command::new(exe)
        .arg("__scan")
        .arg(library)
        .env("YAM_LOG", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return ScanOutcome::Quarantined {
                reason: format!("cannot start the scanner: {e}"),
            }
        }
    };
    // Drain the pipes on threads so a chatty plugin cannot block the child on a full pipe.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let last_stderr = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    let Some(status) = status else {
        return ScanOutcome::Quarantined {
            reason: format!(
                "scan hung: no answer within {:.1} s (YAM_SCAN_TIMEOUT)",
                timeout.as_secs_f64()
            ),
        };
    };
    if let Some(sig) = status.signal() {
        return ScanOutcome::Quarantined {
            reason: format!(
                "scan crashed: killed by signal {sig} ({}){}",
                signal_name(sig),
                suffix(&last_stderr)
            ),
        };
    }
    match stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<ScanOutcome>(l).ok())
    {
        Some(outcome) if status.success() => outcome,
        _ => ScanOutcome::Quarantined {
            reason: format!(
                "scan failed: exit status {}{}",
                status.code().unwrap_or(-1),
                suffix(&last_stderr)
            ),
        },
    }
}

fn suffix(stderr_line: &str) -> String {
    if stderr_line.is_empty() {
        String::new()
    } else {
        format!(": {stderr_line:.300}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions() {
        assert!(api_compatible("0.1.5", "0.1.0").is_ok());
        assert!(api_compatible("0.1.0", "0.1.7").is_ok());
        let e = api_compatible("0.2.0", "0.1.0").unwrap_err();
        assert!(e.contains("0.2.0") && e.contains("0.1.0"), "{e}");
        assert!(api_compatible("1.4.0", "1.0.0").is_ok());
        assert!(api_compatible("2.0.0", "1.0.0").is_err());
        assert!(api_compatible("x", "0.1.0").is_err());
    }

    #[test]
    fn a_file_that_is_not_a_library_is_rejected_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("libfake.so");
        std::fs::write(&f, b"definitely not ELF").unwrap();
        match scan_here(&f) {
            ScanOutcome::Rejected { reason } => {
                assert!(reason.starts_with("not a loadable library"), "{reason}");
                assert!(reason.contains("libfake.so"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
