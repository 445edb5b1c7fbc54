//! The root module: the one symbol a plugin library exports.
#![allow(
    non_camel_case_types,
    reason = "abi_stable names the prefix reference `PluginModule_Ref`"
)]

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings,
    sabi_types::VersionStrings,
    std_types::{RResult, RString, RVec},
    StableAbi,
};

use crate::{BackendDescriptor, ExecutorBox, KernelDeclaration, PluginError, ProbeReport};

/// The plugin's entry points.
///
/// This is an abi_stable *prefix type*: fields are only ever appended, in minor versions of
/// this crate, so a plugin built against an older minor version keeps loading. A host reads a
/// field newer than the plugin as `None` (accessors of fields after `create_executor` return
/// `Option`).
#[repr(C)]
#[derive(StableAbi)]
#[allow(
    missing_debug_implementations,
    reason = "a table of function pointers; nothing useful to print"
)]
#[sabi(kind(Prefix(prefix_ref = PluginModule_Ref)))]
pub struct PluginModule {
    /// The version of `yam-plugin-api` the plugin was compiled against (semver).
    pub api_version: extern "C" fn() -> RString,

    /// Identity of the backend. Cheap; must not touch devices.
    pub descriptor: extern "C" fn() -> RResult<BackendDescriptor, PluginError>,

    /// Kernels the plugin implements. Must equal the kernels of its manifest.
    pub declared_kernels: extern "C" fn() -> RResult<RVec<KernelDeclaration>, PluginError>,

    /// Looks for the runtime and devices. Must return promptly and never abort.
    pub probe: extern "C" fn() -> RResult<ProbeReport, PluginError>,

    /// Creates an executor on device `index` (from [`ProbeReport::devices`]).
    ///
    /// `last_prefix_field`: every field up to here is present in every 0.1.x plugin; fields
    /// appended after it in later minor versions are optional for the host.
    #[sabi(last_prefix_field)]
    pub create_executor: extern "C" fn(device: u32) -> RResult<ExecutorBox, PluginError>,
}

impl RootModule for PluginModule_Ref {
    declare_root_module_statics! {PluginModule_Ref}
    const BASE_NAME: &'static str = "yam_plugin";
    const NAME: &'static str = "yam_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The version of this crate, which is the ABI version (`0.1.0`).
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");
