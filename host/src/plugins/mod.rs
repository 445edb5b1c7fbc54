//! Backend plugins: manifests, the search path, security checks, scanning in a child process,
//! the registry cache, and loading the plugins that passed.

pub mod manifest;
pub mod registry;
pub mod scan;
pub mod search;
pub mod security;

use crate::backends::{Backend, Source};
use registry::{Discovery, Status};

/// Loads every ready plugin into this process. Returns the backends and, for each plugin that
/// could not be loaded now, a line saying why.
pub fn load_ready(discovery: &Discovery) -> (Vec<Backend>, Vec<String>) {
    let mut loaded = Vec::new();
    let mut problems = Vec::new();
    for p in discovery
        .plugins
        .iter()
        .filter(|p| p.status == Status::Ready)
    {
        let Some(library) = &p.library else { continue };
        let result = scan::load_module(library)
            .map_err(|o| format!("{o:?}"))
            .and_then(|module| Backend::from_module(module, Source::Plugin(library.clone())));
        match result {
            Ok(b) => loaded.push(b),
            Err(reason) => problems.push(format!(
                "{}: {} could not be loaded: {reason}",
                p.name,
                library.display()
            )),
        }
    }
    (loaded, problems)
}

/// Everything a command needs to know about backends: the built-in CPU backend plus the loaded
/// plugins, and what discovery found.
#[derive(Debug)]
pub struct Available {
    /// Loaded plugins first (search order), the built-in CPU backend last.
    pub backends: Vec<Backend>,
    /// Discovery results, including plugins that are not ready.
    pub discovery: Discovery,
    /// Ready plugins that still failed to load in this process.
    pub load_problems: Vec<String>,
}

impl Available {
    /// Discovers plugins (scanning stale ones) and loads the ready ones.
    pub fn gather(opts: &registry::DiscoverOptions) -> Available {
        let discovery = registry::discover(opts);
        let (mut backends, load_problems) = load_ready(&discovery);
        for p in &load_problems {
            tracing::warn!("{p}");
        }
        for p in &discovery.plugins {
            match p.status {
                Status::Ready | Status::Disabled => {}
                Status::Unavailable => tracing::info!(
                    "plugin {}: unavailable: {}",
                    p.name,
                    p.reason.as_deref().unwrap_or("")
                ),
                _ => tracing::warn!(
                    "plugin {} ({}): {}: {}",
                    p.name,
                    p.manifest.display(),
                    p.status.name(),
                    p.reason.as_deref().unwrap_or("")
                ),
            }
        }
        backends.push(Backend::builtin_cpu());
        Available {
            backends,
            discovery,
            load_problems,
        }
    }

    /// `"<name>: <status>: <reason>"` for every installed plugin that is not ready (disabled
    /// ones excluded: the user asked for that). Runs report these as passed over.
    pub fn not_ready(&self) -> Vec<(String, Option<String>, String)> {
        self.discovery
            .plugins
            .iter()
            .filter(|p| !matches!(p.status, Status::Ready | Status::Disabled))
            .map(|p| {
                let line = format!(
                    "{} is {}: {}",
                    p.name,
                    p.status.name(),
                    p.reason.as_deref().unwrap_or("no reason given")
                );
                (p.name.clone(), p.backend.clone(), line)
            })
            .collect()
    }
}
