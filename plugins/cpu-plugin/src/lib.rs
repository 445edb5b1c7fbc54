//! yam's reference CPU backend packaged as a loadable plugin, `cpu-plugin`: the kernels and
//! executor of `yam-cpu` under their own name, so the plugin can be installed beside the
//! built-in backend and the loader and the conformance suite exercise the whole plugin path on
//! machines without a GPU.
//!
//! The root module lives in this crate, not in `yam-cpu`: every library that links `yam-cpu`
//! (the host, the conformance test doubles) can then export its own without a duplicate
//! symbol at link time.

use yam_cpu::{CpuBackend, CpuExecutor};
use yam_plugin_api::{
    export::Backend, BackendDescriptor, KernelDeclaration, PluginError, ProbeReport,
};

/// The CPU backend under the plugin name `cpu-plugin`.
#[derive(Debug)]
pub struct CpuPlugin;

impl Backend for CpuPlugin {
    type Executor = CpuExecutor;

    fn descriptor() -> BackendDescriptor {
        let mut d = CpuBackend::descriptor();
        d.name = "cpu-plugin".into();
        d
    }

    fn declared_kernels() -> Vec<KernelDeclaration> {
        CpuBackend::declared_kernels()
    }

    fn probe() -> ProbeReport {
        CpuBackend::probe()
    }

    fn create_executor(index: u32) -> Result<CpuExecutor, PluginError> {
        CpuBackend::create_executor(index)
    }
}

yam_plugin_api::export_plugin!(CpuPlugin);

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed manifest must declare exactly what the library declares, or the host
    /// rejects the plugin; this catches the two drifting apart when a kernel is added.
    #[test]
    fn committed_manifest_matches_the_library() {
        let manifest = include_str!("../cpu-plugin.json");
        yam_plugin_api::export::check_manifest::<CpuPlugin>(manifest, "libyam_cpu_plugin.so")
            .unwrap_or_else(|e| panic!("plugins/cpu-plugin/cpu-plugin.json: {e}"));
    }
}
