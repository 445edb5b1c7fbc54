//! The backends available to a run: the built-in CPU backend (and, later, loaded plugins).

use std::path::PathBuf;

use yam_plugin_api::{BackendKind, ExecutorBox, PluginError, PluginModule_Ref};

use crate::abi::{module_facts, DeclaredKernel, Device, ModuleFacts};

/// Where a backend comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Linked into the `yam` binary.
    Builtin,
    /// Loaded from a plugin library.
    Plugin(PathBuf),
}

/// A backend the host can run steps on.
pub struct Backend {
    /// What it said about itself.
    pub facts: ModuleFacts,
    /// Where it comes from.
    pub source: Source,
    module: PluginModule_Ref,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("facts", &self.facts)
            .field("source", &self.source)
            .finish()
    }
}

impl Backend {
    /// Wraps a root module, asking it for its facts.
    pub fn from_module(module: PluginModule_Ref, source: Source) -> Result<Backend, String> {
        Ok(Backend {
            facts: module_facts(module)?,
            source,
            module,
        })
    }

    /// The built-in CPU backend, through the same root module a plugin exports.
    pub fn builtin_cpu() -> Backend {
        let module = yam_plugin_api::export::plugin_module::<yam_cpu::CpuBackend>();
        Backend::from_module(module, Source::Builtin)
            .expect("the built-in cpu backend describes itself")
    }

    /// Unique name.
    pub fn name(&self) -> &str {
        &self.facts.name
    }

    /// Kind.
    pub fn kind(&self) -> BackendKind {
        self.facts.kind
    }

    /// The declaration of kernel `id`, if implemented.
    pub fn kernel(&self, id: &str) -> Option<&DeclaredKernel> {
        self.facts.kernels.iter().find(|k| k.id == id)
    }

    /// The first device, if any.
    pub fn first_device(&self) -> Option<&Device> {
        self.facts.devices.first()
    }

    /// A new executor on `device`.
    pub fn create_executor(&self, device: u32) -> Result<ExecutorBox, PluginError> {
        (self.module.create_executor())(device).into_result()
    }
}
