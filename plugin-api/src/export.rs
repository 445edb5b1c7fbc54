//! What plugin authors implement, and the wrapper that makes panics impossible to leak.
//!
//! Implement [`Backend`] and [`Executor`] with plain Rust types, then export with
//! `yam_plugin_api::export_plugin!(MyBackend);` (the plugin crate must depend on `abi_stable`
//! directly, since its export attribute names it). Every entry point and every executor method
//! runs inside `catch_unwind`; a panic comes back to the host as an [`ErrorKind::Panic`] error
//! carrying the panic message instead of aborting the host process.

use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RErr, ROk, ROption, RResult, RSlice, RSliceMut, RString, RVec},
};

use crate::{
    BackendDescriptor, BufferHandle, DeviceInfo, ErrorKind, ExecutorBox, GpuExecutor,
    GpuExecutor_TO, KernelDeclaration, PluginError, PluginModule, PluginModule_Ref, ProbeReport,
    StepCall, StepOutcome, TensorDesc,
};

/// The plugin-wide entry points, with Rust types.
pub trait Backend: 'static {
    /// The executor type of this backend.
    type Executor: Executor;
    /// Identity of the backend.
    fn descriptor() -> BackendDescriptor;
    /// Kernels implemented.
    fn declared_kernels() -> Vec<KernelDeclaration>;
    /// Runtime and device discovery; never blocks for long.
    fn probe() -> ProbeReport;
    /// An executor on device `index`.
    fn create_executor(index: u32) -> Result<Self::Executor, PluginError>;
}

/// [`GpuExecutor`] with Rust types; see that trait for the contract of each method.
pub trait Executor: Send + 'static {
    /// The device.
    fn device(&self) -> DeviceInfo;
    /// Allocates a buffer for `desc`.
    fn allocate(&mut self, desc: TensorDesc) -> Result<BufferHandle, PluginError>;
    /// Host → device.
    fn upload(&mut self, buffer: BufferHandle, bytes: &[u8]) -> Result<(), PluginError>;
    /// Device → host.
    fn download(&mut self, buffer: BufferHandle, out: &mut [u8]) -> Result<(), PluginError>;
    /// Releases a buffer.
    fn free(&mut self, buffer: BufferHandle) -> Result<(), PluginError>;
    /// Runs one step.
    fn execute(
        &mut self,
        step: &StepCall,
        inputs: &[BufferHandle],
        output: Option<BufferHandle>,
    ) -> Result<StepOutcome, PluginError>;
    /// Waits for queued work.
    fn synchronize(&mut self) -> Result<(), PluginError>;
    /// Bytes held by live buffers.
    fn memory_in_use(&self) -> u64;
}

/// Runs `f`, turning a panic into an [`ErrorKind::Panic`] error that names `what`.
pub fn guard<T>(what: &str, f: impl FnOnce() -> Result<T, PluginError>) -> RResult<T, PluginError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => ROk(v),
        Ok(Err(e)) => RErr(e),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            RErr(PluginError::new(
                ErrorKind::Panic,
                format!("{what} panicked: {msg}"),
            ))
        }
    }
}

/// Wraps an [`Executor`] so that each call is guarded; what [`into_executor_box`] returns.
#[derive(Debug)]
pub struct Guarded<E>(pub E);

impl<E: Executor> GpuExecutor for Guarded<E> {
    fn device(&self) -> DeviceInfo {
        // A descriptor getter has no error channel; report a placeholder rather than unwind.
        match catch_unwind(AssertUnwindSafe(|| self.0.device())) {
            Ok(d) => d,
            Err(_) => DeviceInfo {
                index: u32::MAX,
                name: "device() panicked".into(),
                memory_bytes: 0,
                dl_device: crate::DlDevice::CPU,
            },
        }
    }
    fn allocate(&mut self, desc: TensorDesc) -> RResult<BufferHandle, PluginError> {
        guard("allocate", || self.0.allocate(desc))
    }
    fn upload(&mut self, buffer: BufferHandle, bytes: RSlice<'_, u8>) -> RResult<(), PluginError> {
        guard("upload", || self.0.upload(buffer, bytes.as_slice()))
    }
    fn download(
        &mut self,
        buffer: BufferHandle,
        mut out: RSliceMut<'_, u8>,
    ) -> RResult<(), PluginError> {
        guard("download", || self.0.download(buffer, out.as_mut_slice()))
    }
    fn free(&mut self, buffer: BufferHandle) -> RResult<(), PluginError> {
        guard("free", || self.0.free(buffer))
    }
    fn execute(
        &mut self,
        step: &StepCall,
        inputs: RSlice<'_, BufferHandle>,
        output: ROption<BufferHandle>,
    ) -> RResult<StepOutcome, PluginError> {
        let what = format!("execute `{}` ({})", step.name, step.kernel);
        guard(&what, || {
            self.0
                .execute(step, inputs.as_slice(), output.into_option())
        })
    }
    fn synchronize(&mut self) -> RResult<(), PluginError> {
        guard("synchronize", || self.0.synchronize())
    }
    fn memory_in_use(&self) -> u64 {
        catch_unwind(AssertUnwindSafe(|| self.0.memory_in_use())).unwrap_or(0)
    }
}

/// Boxes an executor as the ABI trait object, guarded against panics.
pub fn into_executor_box<E: Executor>(executor: E) -> ExecutorBox {
    GpuExecutor_TO::from_value(Guarded(executor), TD_Opaque)
}

extern "C" fn api_version() -> RString {
    crate::module::API_VERSION.into()
}

extern "C" fn descriptor<B: Backend>() -> RResult<BackendDescriptor, PluginError> {
    guard("descriptor", || Ok(B::descriptor()))
}

extern "C" fn declared_kernels<B: Backend>() -> RResult<RVec<KernelDeclaration>, PluginError> {
    guard("declared_kernels", || Ok(B::declared_kernels().into()))
}

extern "C" fn probe<B: Backend>() -> RResult<ProbeReport, PluginError> {
    guard("probe", || Ok(B::probe()))
}

extern "C" fn create_executor<B: Backend>(index: u32) -> RResult<ExecutorBox, PluginError> {
    guard("create_executor", || {
        B::create_executor(index).map(into_executor_box)
    })
}

/// The root module of backend `B`, every entry point guarded. Used by [`export_plugin!`] and by
/// hosts that link a backend in-process (the built-in CPU backend).
///
/// [`export_plugin!`]: crate::export_plugin
pub fn plugin_module<B: Backend>() -> PluginModule_Ref {
    use abi_stable::prefix_type::PrefixTypeTrait;
    PluginModule {
        api_version,
        descriptor: descriptor::<B>,
        declared_kernels: declared_kernels::<B>,
        probe: probe::<B>,
        create_executor: create_executor::<B>,
    }
    .leak_into_prefix()
}

/// Exports backend `$backend` (a type implementing [`Backend`]) as this library's root module.
///
/// ```text
/// yam_plugin_api::export_plugin!(MyBackend);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($backend:ty) => {
        /// The root module of this yam plugin (generated by `export_plugin!`).
        #[::abi_stable::export_root_module]
        pub fn yam_plugin_root_module() -> $crate::PluginModule_Ref {
            $crate::export::plugin_module::<$backend>()
        }
    };
}

/// Checks a backend's shipped manifest (its JSON text) against what the library itself
/// declares, as the host will when it scans the plugin: the name, the backend kind, the
/// library file, the API version and every kernel declaration must agree. For the backend's
/// own tests; returns the first difference.
pub fn check_manifest<B: Backend>(manifest_json: &str, library: &str) -> Result<(), String> {
    let m: serde_json::Value =
        serde_json::from_str(manifest_json).map_err(|e| format!("manifest is not JSON: {e}"))?;
    let d = B::descriptor();
    let kind = d.kind().map(|k| k.name()).unwrap_or("?");
    let declared = serde_json::to_value(B::declared_kernels()).map_err(|e| e.to_string())?;
    let expected = [
        ("name", serde_json::Value::from(d.name.as_str())),
        ("backend", kind.into()),
        ("library", library.into()),
        ("api_version", crate::API_VERSION.into()),
        ("kernels", declared),
    ];
    for (field, want) in expected {
        if m[field] == want {
            continue;
        }
        // Name the first kernel that differs rather than print both lists.
        if let (Some(got), Some(want)) = (m[field].as_array(), want.as_array()) {
            let n = got.iter().zip(want).take_while(|(g, w)| g == w).count();
            return Err(format!(
                "manifest kernel {n}: {}, the library declares {}",
                got.get(n).map_or("missing".into(), |v| v.to_string()),
                want.get(n).map_or("nothing".into(), |v| v.to_string())
            ));
        }
        return Err(format!(
            "manifest field `{field}` is {}, the library declares {want}",
            m[field]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mock executor: this test is about the export wrapper, not about kernels.
    struct PanickyExecutor;

    impl Executor for PanickyExecutor {
        fn device(&self) -> DeviceInfo {
            panic!("device lookup exploded")
        }
        fn allocate(&mut self, _: TensorDesc) -> Result<BufferHandle, PluginError> {
            panic!("allocation exploded")
        }
        fn upload(&mut self, _: BufferHandle, _: &[u8]) -> Result<(), PluginError> {
            Err(PluginError::invalid_buffer("no such buffer 7"))
        }
        fn download(&mut self, _: BufferHandle, _: &mut [u8]) -> Result<(), PluginError> {
            let v: Vec<u8> = Vec::new();
            let _ = v[3];
            Ok(())
        }
        fn free(&mut self, _: BufferHandle) -> Result<(), PluginError> {
            std::panic::panic_any(42_u32)
        }
        fn execute(
            &mut self,
            _: &StepCall,
            _: &[BufferHandle],
            _: Option<BufferHandle>,
        ) -> Result<StepOutcome, PluginError> {
            panic!("kernel exploded")
        }
        fn synchronize(&mut self) -> Result<(), PluginError> {
            Ok(())
        }
        fn memory_in_use(&self) -> u64 {
            panic!("counter exploded")
        }
    }

    #[test]
    fn mock_executor_panics_become_errors_through_the_trait_object() {
        let mut ex = into_executor_box(PanickyExecutor);
        let desc = TensorDesc::packed(crate::DType::U8, 1, 1, 1);
        let e = ex.allocate(desc).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Panic);
        assert!(
            e.message.contains("allocate panicked: allocation exploded"),
            "{e}"
        );
        let e = ex
            .upload(BufferHandle(7), RSlice::from_slice(&[1]))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidBuffer);
        let mut out = [0u8; 1];
        let e = ex
            .download(BufferHandle(1), RSliceMut::from_mut_slice(&mut out))
            .unwrap_err();
        assert!(e.message.contains("index out of bounds"), "{e}");
        let e = ex.free(BufferHandle(1)).unwrap_err();
        assert!(e.message.contains("non-string panic payload"), "{e}");
        let step = StepCall {
            name: "blur-1".into(),
            kernel: "gaussian_blur".into(),
            schema_version: 1,
            params: Default::default(),
            metadata: Default::default(),
        };
        let e = ex
            .execute(&step, RSlice::from_slice(&[]), ROption::RNone)
            .unwrap_err();
        assert!(
            e.message
                .contains("execute `blur-1` (gaussian_blur) panicked"),
            "{e}"
        );
        assert_eq!(ex.device().index, u32::MAX);
        assert_eq!(ex.memory_in_use(), 0);
        assert!(ex.synchronize().is_ok());
    }

    #[test]
    fn error_kind_survives_the_non_exhaustive_wrapper() {
        for kind in [
            ErrorKind::OutOfMemory,
            ErrorKind::CompileFailed,
            ErrorKind::Internal,
        ] {
            assert_eq!(PluginError::new(kind, "x").kind(), kind);
        }
    }
}
