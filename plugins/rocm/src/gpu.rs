//! One HIP device in use: the executor's stream, code objects compiled by hiprtc (or loaded
//! from the disk cache), device memory, pinned staging memory and kernel launches. Work is
//! queued on one stream; only downloads and `synchronize` wait.

use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::path::PathBuf;

use hip_sys::hiprt::{
    hipDeviceptr_t, hipDriverGetVersion, hipFree, hipFunction_t, hipHostFree, hipHostMalloc,
    hipMalloc, hipMemcpyDtoDAsync, hipMemcpyDtoHAsync, hipMemcpyHtoDAsync, hipMemsetD8Async,
    hipModuleGetFunction, hipModuleLaunchKernel, hipModuleLoadData, hipModule_t, hipSetDevice,
    hipStreamCreate, hipStreamDestroy, hipStreamSynchronize, hipStream_t,
};
use yam_plugin_api::{
    dl_device,
    gpu::{
        cache,
        kernels::variants,
        staging::{HostBlock, StagingPool},
        Arg, Device, Launch, Source,
    },
    DeviceInfo, DlDevice, PluginError,
};

use crate::{
    error::{check, HipError},
    hiprtc, runtime,
};

/// How a code object was obtained (for tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Built {
    /// Loaded from the disk cache.
    FromCache,
    /// Compiled by hiprtc (and stored in the cache when possible).
    FromSource,
}

/// A device allocation, freed on drop (`hipFree` waits for work that may still use it).
#[derive(Debug)]
pub struct HipBuffer {
    ptr: *mut c_void,
}

// SAFETY: a device address owned by this value; HIP allows freeing it from any thread.
unsafe impl Send for HipBuffer {}

impl Drop for HipBuffer {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from hipMalloc and is freed once.
        let _ = unsafe { hipFree(self.ptr) };
    }
}

/// Page-locked host memory for transfers.
struct Pinned {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: plain host memory owned by this value, used by one executor at a time.
unsafe impl Send for Pinned {}

impl HostBlock for Pinned {
    fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    fn size(&self) -> usize {
        self.len
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from hipHostMalloc and is freed once.
        let _ = unsafe { hipHostFree(self.ptr.cast()) };
    }
}

/// A stream on one HIP device, with its compiled code objects.
pub struct HipGpu {
    /// Pinned blocks for transfers (reused once the stream has been waited for).
    staging: StagingPool<Pinned>,
    /// The device.
    pub found: runtime::Found,
    /// `hipDriverGetVersion`.
    pub driver_version: i32,
    stream: hipStream_t,
    /// Folder of cached code objects (`None`: no disk cache).
    pub cache: Option<PathBuf>,
    modules: HashMap<(Source, String), hipModule_t>,
    functions: HashMap<(Source, String, &'static str), hipFunction_t>,
    /// How each code object was obtained, in load order.
    pub build_log: Vec<(Source, String, Built)>,
}

// SAFETY: the raw stream, module and function handles belong to this value and are used by
// one thread at a time (the executor is `&mut`); HIP handles are not tied to a thread.
unsafe impl Send for HipGpu {}

impl std::fmt::Debug for HipGpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HipGpu")
            .field("device", &self.found.name)
            .field("arch", &self.found.arch)
            .field("modules", &self.modules.len())
            .finish()
    }
}

impl Drop for HipGpu {
    fn drop(&mut self) {
        // SAFETY: the stream was created by `open` and is destroyed once.
        let _ = unsafe { hipStreamDestroy(self.stream) };
    }
}

impl HipGpu {
    /// Opens device `ordinal` with a new stream.
    pub fn open(ordinal: u32) -> Result<HipGpu, HipError> {
        let found = runtime::usable()
            .map_err(HipError::Unavailable)?
            .into_iter()
            .find(|d| d.ordinal == ordinal)
            .ok_or_else(|| HipError::Unavailable(format!("no HIP device {ordinal}")))?;
        // SAFETY: plain runtime calls with valid out-pointers.
        check(unsafe { hipSetDevice(ordinal as i32) }, || {
            "hipSetDevice".into()
        })?;
        let mut stream: hipStream_t = std::ptr::null_mut();
        // SAFETY: as above.
        check(unsafe { hipStreamCreate(&mut stream) }, || {
            "hipStreamCreate".into()
        })?;
        let mut driver_version = 0;
        // SAFETY: as above.
        check(unsafe { hipDriverGetVersion(&mut driver_version) }, || {
            "hipDriverGetVersion".into()
        })?;
        Ok(HipGpu {
            found,
            driver_version,
            stream,
            cache: cache::dir("rocm", "YAM_ROCM_CACHE"),
            modules: HashMap::new(),
            functions: HashMap::new(),
            staging: StagingPool::default(),
            build_log: Vec::new(),
        })
    }

    fn select(&self) -> Result<(), HipError> {
        // SAFETY: a valid ordinal found at open.
        check(unsafe { hipSetDevice(self.found.ordinal as i32) }, || {
            "hipSetDevice".into()
        })
    }

    fn module(&mut self, source: Source, defines: &str) -> Result<hipModule_t, HipError> {
        let key = (source, defines.to_string());
        if let Some(m) = self.modules.get(&key) {
            return Ok(*m);
        }
        if !variants().contains(&key) {
            return Err(HipError::Unavailable(format!(
                "internal error: kernel variant {} `{defines}` is not in the compile-checked list",
                source.name()
            )));
        }
        let arch = self.found.arch.clone();
        let file = self.cache.as_ref().map(|dir| {
            let digest = cache::digest(&[
                source.full_text().as_bytes(),
                defines.as_bytes(),
                hiprtc::BASE_OPTIONS.join(" ").as_bytes(),
            ]);
            let safe_arch: String = arch
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            dir.join(format!(
                "{}-{safe_arch}-driver{}-{digest}.co",
                source.name(),
                self.driver_version
            ))
        });
        let mut loaded = None;
        if let Some(bin) = file.as_ref().and_then(|f| std::fs::read(f).ok()) {
            loaded = self.load(&bin).ok().map(|m| (m, Built::FromCache));
        }
        let (module, built) = match loaded {
            Some(found) => found,
            None => {
                let bin = hiprtc::compile(source, defines, &arch)?;
                if let Some(f) = &file {
                    cache::store(f, &bin);
                }
                (self.load(&bin)?, Built::FromSource)
            }
        };
        self.build_log.push((source, defines.to_string(), built));
        self.modules.insert(key, module);
        Ok(module)
    }

    fn load(&self, code: &[u8]) -> Result<hipModule_t, HipError> {
        self.select()?;
        let mut module: hipModule_t = std::ptr::null_mut();
        // SAFETY: `code` is a complete code object that outlives the call.
        let r = unsafe { hipModuleLoadData(&mut module, code.as_ptr().cast()) };
        check(r, || "hipModuleLoadData".into())?;
        Ok(module)
    }

    fn function(
        &mut self,
        source: Source,
        defines: &str,
        name: &'static str,
    ) -> Result<hipFunction_t, HipError> {
        let key = (source, defines.to_string(), name);
        if let Some(f) = self.functions.get(&key) {
            return Ok(*f);
        }
        let module = self.module(source, defines)?;
        let cname = CString::new(name).expect("kernel names have no NUL");
        let mut f: hipFunction_t = std::ptr::null_mut();
        // SAFETY: a loaded module and a valid name.
        let r = unsafe { hipModuleGetFunction(&mut f, module, cname.as_ptr()) };
        check(r, || format!("finding kernel {name} in {}", source.name()))?;
        self.functions.insert(key, f);
        Ok(f)
    }

    fn pinned(&mut self, len: usize) -> Result<Pinned, HipError> {
        self.staging.take(len, |size| {
            let mut p: *mut c_void = std::ptr::null_mut();
            // SAFETY: valid out-pointer; freed by `Pinned::drop`.
            check(unsafe { hipHostMalloc(&mut p, size, 0) }, || {
                format!("allocating {size} bytes of pinned memory")
            })?;
            Ok(Pinned {
                ptr: p.cast(),
                len: size,
            })
        })
    }

    /// Waits for everything queued; pinned blocks become free again.
    fn wait(&mut self) -> Result<(), HipError> {
        // SAFETY: the stream is live.
        check(unsafe { hipStreamSynchronize(self.stream) }, || {
            "waiting for the stream".into()
        })?;
        self.staging.waited();
        Ok(())
    }
}

/// A kernel argument stored in an 8-byte slot (little-endian: the value's bytes come first,
/// so a pointer to the slot is a pointer to the value whatever its size).
fn slot(a: &Arg) -> u64 {
    match *a {
        Arg::Ptr(v) | Arg::U64(v) => v,
        Arg::U8(v) => u64::from(v),
        Arg::U16(v) => u64::from(v),
        Arg::I32(v) => u64::from(v as u32),
        Arg::I64(v) => v as u64,
        Arg::F32(v) => u64::from(v.to_bits()),
        Arg::F64(v) => v.to_bits(),
    }
}

impl Device for HipGpu {
    type Buffer = HipBuffer;

    fn backend(&self) -> &'static str {
        "rocm"
    }

    fn info(&self) -> DeviceInfo {
        runtime::info(&self.found)
    }

    fn dl_device(&self) -> DlDevice {
        DlDevice {
            device_type: dl_device::ROCM,
            device_id: self.found.ordinal as i32,
        }
    }

    fn alloc(&mut self, bytes: usize) -> Result<HipBuffer, PluginError> {
        self.select()?;
        let mut p: *mut c_void = std::ptr::null_mut();
        // SAFETY: valid out-pointer; freed by `HipBuffer::drop`.
        check(unsafe { hipMalloc(&mut p, bytes.max(1)) }, || {
            format!("allocating {bytes} bytes of device memory")
        })?;
        Ok(HipBuffer { ptr: p })
    }

    fn alloc_zeroed(&mut self, bytes: usize) -> Result<HipBuffer, PluginError> {
        let buf = self.alloc(bytes)?;
        // SAFETY: the range lies inside `buf`.
        let r =
            unsafe { hipMemsetD8Async(buf.ptr as hipDeviceptr_t, 0, bytes.max(1), self.stream) };
        check(r, || "zero-filling device memory".into())?;
        Ok(buf)
    }

    fn address(buf: &HipBuffer) -> u64 {
        buf.ptr as u64
    }

    fn upload(&mut self, dst: u64, bytes: &[u8]) -> Result<(), PluginError> {
        self.select()?;
        let block = self.pinned(bytes.len())?;
        // SAFETY: the block holds at least `bytes.len()` bytes and no queued copy uses it.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), block.ptr, bytes.len()) };
        // SAFETY: `dst` is a device allocation of at least that many bytes (checked by the
        // executor); the block stays allocated and untouched until the next wait.
        let r = unsafe {
            hipMemcpyHtoDAsync(
                dst as hipDeviceptr_t,
                block.ptr.cast(),
                bytes.len(),
                self.stream,
            )
        };
        self.staging.queued(block);
        Ok(check(r, || "copying to the device".into())?)
    }

    fn download(&mut self, src: u64, out: &mut [u8]) -> Result<(), PluginError> {
        self.select()?;
        let block = self.pinned(out.len())?;
        // SAFETY: `src` holds at least `out.len()` bytes; so does the block.
        let r = unsafe {
            hipMemcpyDtoHAsync(
                block.ptr.cast(),
                src as hipDeviceptr_t,
                out.len(),
                self.stream,
            )
        };
        let done = check(r, || "copying from the device".into()).and_then(|()| self.wait());
        match done {
            Ok(()) => {
                // SAFETY: the copy has finished; the block holds `out.len()` bytes.
                unsafe { std::ptr::copy_nonoverlapping(block.ptr, out.as_mut_ptr(), out.len()) };
                self.staging.give_back(block);
                Ok(())
            }
            Err(e) => {
                // The stream may still use the block after a failed copy: keep it in flight.
                self.staging.queued(block);
                Err(e.into())
            }
        }
    }

    fn copy(&mut self, src: u64, dst: u64, bytes: usize) -> Result<(), PluginError> {
        self.select()?;
        // SAFETY: both ranges lie inside live allocations (checked by the callers).
        let r = unsafe {
            hipMemcpyDtoDAsync(
                dst as hipDeviceptr_t,
                src as hipDeviceptr_t,
                bytes,
                self.stream,
            )
        };
        Ok(check(r, || "copying on the device".into())?)
    }

    fn launch(
        &mut self,
        source: Source,
        defines: &str,
        name: &'static str,
        args: &[Arg],
        launch: Launch,
    ) -> Result<(), PluginError> {
        if launch.is_empty() {
            return Ok(());
        }
        self.select()?;
        let f = self.function(source, defines, name)?;
        let mut slots: Vec<u64> = args.iter().map(slot).collect();
        let mut params: Vec<*mut c_void> = slots
            .iter_mut()
            .map(|s| (s as *mut u64).cast::<c_void>())
            .collect();
        let (g, b) = (launch.grid, launch.block);
        // SAFETY: the argument list matches the kernel's parameters (each call site in
        // yam_plugin_api::gpu::ops mirrors its signature); every pointer is a live allocation
        // of this device large enough for its view (checked by the executor). `slots` outlives
        // the call, which copies the values.
        let r = unsafe {
            hipModuleLaunchKernel(
                f,
                g.0,
                g.1,
                g.2,
                b.0,
                b.1,
                b.2,
                launch.shared_bytes,
                self.stream,
                params.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        };
        Ok(check(r, || {
            format!("launching {name} of {}", source.name())
        })?)
    }

    fn synchronize(&mut self) -> Result<(), PluginError> {
        Ok(self.wait()?)
    }
}
