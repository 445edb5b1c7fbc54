//! One CUDA device in use: its context, the executor's stream, compiled modules (from the
//! disk cache or NVRTC), device memory, pinned staging memory and kernel launches.
//!
//! Everything is queued on one stream; nothing here waits for the device except
//! [`Gpu::synchronize`] and the downloads, so the kernels of a segment run back to back.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use cudarc::driver::{
    result, sys, CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr,
    LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::Ptx;
use yam_plugin_api::{
    gpu::{
        cache, dlpack,
        kernels::variants,
        staging::{HostBlock, StagingPool},
        Arg, Device, Launch, Source,
    },
    DeviceInfo, DlDevice, PluginError,
};

use crate::{error::CuError, nvrtc, runtime};

mod transfer;

/// How a module was obtained (for tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Built {
    /// Loaded from the disk cache.
    FromCache,
    /// Compiled by NVRTC (and stored in the cache when possible).
    FromSource,
}

/// Page-locked host memory for transfers (DMA straight from and to it).
pub(crate) struct Pinned {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the allocation is plain host memory owned by this value; only its owner (one
// executor, used by one thread at a time) touches it.
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
        // SAFETY: `ptr` came from malloc_host and is freed once.
        let _ = unsafe { result::free_host(self.ptr.cast()) };
    }
}

/// A context and a stream on one device, with its compiled modules.
pub struct Gpu {
    /// Pinned blocks for transfers; declared first so they are freed while the context lives.
    staging: StagingPool<Pinned>,
    /// Threads that copy between pageable and pinned memory (None: the calling thread).
    copy_pool: Option<rayon::ThreadPool>,
    /// Device ordinal.
    pub ordinal: usize,
    /// Device name.
    pub name: String,
    /// `sm_XY` of the device.
    pub arch: String,
    /// Total device memory in bytes.
    pub memory: u64,
    /// `cuDriverGetVersion` (e.g. 13000).
    pub driver_version: i32,
    /// The context (the device's primary context).
    pub ctx: Arc<CudaContext>,
    /// The executor's stream: every copy and kernel is queued here, in order.
    pub stream: Arc<CudaStream>,
    /// Folder of cached CUBINs (`None`: no disk cache).
    pub cache: Option<PathBuf>,
    modules: HashMap<(Source, String), Arc<CudaModule>>,
    functions: HashMap<(Source, String, &'static str), CudaFunction>,
    /// How each module was obtained, in load order.
    pub build_log: Vec<(Source, String, Built)>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("ordinal", &self.ordinal)
            .field("name", &self.name)
            .field("arch", &self.arch)
            .field("modules", &self.modules.len())
            .finish()
    }
}

/// Stream-ordered frees return memory to the device's pool, which by default hands it back to
/// the driver at every synchronisation, so each call re-maps its buffers (a 64 MiB label image
/// and its temporaries cost milliseconds). Keeping it in the pool makes a repeated allocation
/// of the same size free, as CuPy's memory pool does.
fn keep_freed_memory(device: sys::CUdevice) -> Result<(), CuError> {
    let mut threshold = u64::MAX;
    // SAFETY: `device` comes from a live context, and the release threshold attribute takes a
    // pointer to a u64.
    unsafe {
        let pool = result::device::get_default_mem_pool(device)
            .map_err(CuError::driver("reading the default memory pool"))?;
        result::mem_pool::set_attribute(
            pool,
            sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            (&mut threshold as *mut u64).cast(),
        )
        .map_err(CuError::driver(
            "setting the memory pool's release threshold",
        ))
    }
}

impl Gpu {
    /// Opens device `ordinal` (call only after [`crate::runtime::check`] succeeded: cudarc
    /// panics when libcuda is missing).
    pub fn open(ordinal: usize) -> Result<Gpu, CuError> {
        nvrtc::ensure_loaded().map_err(CuError::Unavailable)?;
        let ctx = CudaContext::new(ordinal)
            .map_err(CuError::driver(format!("opening device {ordinal}")))?;
        // One stream per executor and stream-ordered frees: cudarc's per-buffer events
        // would only add work.
        // SAFETY: every buffer of this context is used on `stream` only.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx
            .new_stream()
            .map_err(CuError::driver("creating a stream"))?;
        if ctx.has_async_alloc() {
            keep_freed_memory(ctx.cu_device())?;
        }
        let (major, minor) = ctx
            .compute_capability()
            .map_err(CuError::driver("reading the compute capability"))?;
        let name = ctx
            .name()
            .map_err(CuError::driver("reading the device name"))?;
        let memory = ctx
            .total_mem()
            .map_err(CuError::driver("reading the memory size"))? as u64;
        let mut driver_version = 0;
        // SAFETY: a valid out-pointer.
        unsafe { sys::cuDriverGetVersion(&mut driver_version) }
            .result()
            .map_err(CuError::driver("cuDriverGetVersion"))?;
        Ok(Gpu {
            ordinal,
            name,
            arch: format!("sm_{major}{minor}"),
            memory,
            driver_version,
            ctx,
            stream,
            cache: cache::dir("cuda", "YAM_CUDA_CACHE"),
            modules: HashMap::new(),
            functions: HashMap::new(),
            staging: StagingPool::default(),
            copy_pool: transfer::copy_pool(),
            build_log: Vec::new(),
        })
    }

    /// The module of `source` built with `defines`, from memory, the disk cache or NVRTC.
    fn module(&mut self, source: Source, defines: &str) -> Result<Arc<CudaModule>, CuError> {
        let key = (source, defines.to_string());
        if let Some(m) = self.modules.get(&key) {
            return Ok(m.clone());
        }
        if !variants().contains(&key) {
            // Only compile-checked variants may run (see kernels::variants).
            return Err(CuError::Unavailable(format!(
                "internal error: kernel variant {} `{defines}` is not in the compile-checked list",
                source.name()
            )));
        }
        let nvrtc_version = nvrtc::version().map_err(CuError::Unavailable)?;
        let file = self.cache.as_ref().map(|dir| {
            let digest = cache::digest(&[
                source.full_text().as_bytes(),
                defines.as_bytes(),
                nvrtc::BASE_OPTIONS.join(" ").as_bytes(),
            ]);
            dir.join(format!(
                "{}-{}-driver{}-nvrtc{}.{}-{digest}.cubin",
                source.name(),
                self.arch,
                self.driver_version,
                nvrtc_version.0,
                nvrtc_version.1
            ))
        });
        let cached = file.as_ref().and_then(|f| std::fs::read(f).ok());
        let loaded = match cached {
            Some(bin) => self
                .ctx
                .load_module(Ptx::from_binary(bin))
                .ok()
                .map(|m| (m, Built::FromCache)),
            None => None,
        };
        let (module, built) = match loaded {
            Some(found) => found,
            None => {
                let bin = nvrtc::compile_cubin(source, defines, &self.arch)?;
                if let Some(f) = &file {
                    cache::store(f, &bin);
                }
                let m = self
                    .ctx
                    .load_module(Ptx::from_binary(bin))
                    .map_err(CuError::driver(format!("loading module {}", source.name())))?;
                (m, Built::FromSource)
            }
        };
        self.build_log.push((source, defines.to_string(), built));
        self.modules.insert(key, module.clone());
        Ok(module)
    }

    fn function(
        &mut self,
        source: Source,
        defines: &str,
        name: &'static str,
    ) -> Result<CudaFunction, CuError> {
        let key = (source, defines.to_string(), name);
        if let Some(f) = self.functions.get(&key) {
            return Ok(f.clone());
        }
        let f = self
            .module(source, defines)?
            .load_function(name)
            .map_err(CuError::driver(format!(
                "finding kernel {name} in {}",
                source.name()
            )))?;
        self.functions.insert(key, f.clone());
        Ok(f)
    }

    /// Queues kernel `name` of `source` (built with `defines`) with `args`.
    pub fn launch_kernel(
        &mut self,
        source: Source,
        defines: &str,
        name: &'static str,
        args: &[Arg],
        launch: Launch,
    ) -> Result<(), CuError> {
        if launch.is_empty() {
            return Ok(());
        }
        let cfg = LaunchConfig {
            grid_dim: launch.grid,
            block_dim: launch.block,
            shared_mem_bytes: launch.shared_bytes,
        };
        let f = self.function(source, defines, name)?;
        let stream = self.stream.clone();
        let mut b = stream.launch_builder(&f);
        for a in args {
            match a {
                Arg::Ptr(v) | Arg::U64(v) => b.arg(v),
                Arg::U8(v) => b.arg(v),
                Arg::U16(v) => b.arg(v),
                Arg::I32(v) => b.arg(v),
                Arg::I64(v) => b.arg(v),
                Arg::F32(v) => b.arg(v),
                Arg::F64(v) => b.arg(v),
            };
        }
        // SAFETY: the argument list matches the kernel's parameters (each call site mirrors
        // its signature in kernels/*.cu), and every pointer is a live allocation of this
        // context large enough for the view it describes (checked by the executor).
        unsafe { b.launch(cfg) }
            .map(|_| ())
            .map_err(CuError::driver(format!(
                "launching {name} of {}",
                source.name()
            )))
    }

    /// A device allocation of `bytes` (at least one byte), stream-ordered.
    pub fn alloc(&self, bytes: usize) -> Result<CudaSlice<u8>, CuError> {
        // SAFETY: device memory is written before it is read (kernels, uploads, zero fills).
        unsafe { self.stream.alloc::<u8>(bytes.max(1)) }.map_err(CuError::driver(format!(
            "allocating {bytes} bytes of device memory"
        )))
    }

    /// A device allocation of `bytes`, zero-filled.
    pub fn alloc_zeroed(&self, bytes: usize) -> Result<CudaSlice<u8>, CuError> {
        let buf = self.alloc(bytes)?;
        // SAFETY: the range is inside `buf`.
        unsafe {
            result::memset_d8_async(Self::ptr(&buf), 0, bytes.max(1), self.stream.cu_stream())
        }
        .map_err(CuError::driver("zero-filling device memory"))?;
        Ok(buf)
    }

    /// The raw device address of `buf`.
    pub fn ptr(buf: &CudaSlice<u8>) -> sys::CUdeviceptr {
        // Event tracking is off, so the guard has nothing to record.
        buf.device_ptr(buf.stream()).0
    }

    pub(crate) fn pinned(&mut self, len: usize) -> Result<Pinned, CuError> {
        self.bind()?;
        self.staging.take(len, |size| {
            // SAFETY: a plain page-locked allocation; freed by `Pinned::drop`.
            let ptr = unsafe { result::malloc_host(size, 0) }.map_err(CuError::driver(format!(
                "allocating {size} bytes of pinned memory"
            )))?;
            Ok(Pinned {
                ptr: ptr.cast(),
                len: size,
            })
        })
    }

    /// Copies `bytes` bytes between device addresses, queued.
    pub fn copy_on_device(
        &self,
        src: sys::CUdeviceptr,
        dst: sys::CUdeviceptr,
        bytes: usize,
    ) -> Result<(), CuError> {
        self.bind()?;
        // SAFETY: both ranges lie inside live allocations (checked by the callers).
        unsafe { result::memcpy_dtod_async(dst, src, bytes, self.stream.cu_stream()) }
            .map_err(CuError::driver("copying on the device"))
    }

    /// Makes the context current on the calling thread (the host may call from any thread;
    /// the raw copy calls need it, cudarc's own calls bind by themselves).
    pub(crate) fn bind(&self) -> Result<(), CuError> {
        self.ctx
            .bind_to_thread()
            .map_err(CuError::driver("binding the context to this thread"))
    }

    /// Waits for everything queued; errors of asynchronous work surface here. Pinned blocks
    /// become free again.
    pub fn wait(&mut self) -> Result<(), CuError> {
        self.stream
            .synchronize()
            .map_err(CuError::driver("waiting for the stream"))?;
        self.staging.waited();
        Ok(())
    }
}

impl Device for Gpu {
    type Buffer = CudaSlice<u8>;

    fn backend(&self) -> &'static str {
        "cuda"
    }

    fn info(&self) -> DeviceInfo {
        let digits = self.arch.trim_start_matches("sm_");
        let (major, minor) = digits.split_at(digits.len().saturating_sub(1));
        runtime::info(&runtime::Found {
            ordinal: self.ordinal as u32,
            name: self.name.clone(),
            memory: self.memory,
            capability: (major.parse().unwrap_or(0), minor.parse().unwrap_or(0)),
        })
    }

    fn dl_device(&self) -> DlDevice {
        dlpack::cuda_device(self.ordinal)
    }

    fn alloc(&mut self, bytes: usize) -> Result<CudaSlice<u8>, PluginError> {
        Ok(Gpu::alloc(self, bytes)?)
    }

    fn alloc_zeroed(&mut self, bytes: usize) -> Result<CudaSlice<u8>, PluginError> {
        Ok(Gpu::alloc_zeroed(self, bytes)?)
    }

    fn address(buf: &CudaSlice<u8>) -> u64 {
        Gpu::ptr(buf)
    }

    fn upload(&mut self, dst: u64, bytes: &[u8]) -> Result<(), PluginError> {
        Ok(self.upload_bytes(dst, bytes)?)
    }

    fn download(&mut self, src: u64, out: &mut [u8]) -> Result<(), PluginError> {
        Ok(self.download_bytes(src, out)?)
    }

    fn copy(&mut self, src: u64, dst: u64, bytes: usize) -> Result<(), PluginError> {
        Ok(self.copy_on_device(src, dst, bytes)?)
    }

    fn launch(
        &mut self,
        source: Source,
        defines: &str,
        name: &'static str,
        args: &[Arg],
        launch: Launch,
    ) -> Result<(), PluginError> {
        Ok(self.launch_kernel(source, defines, name, args, launch)?)
    }

    fn synchronize(&mut self) -> Result<(), PluginError> {
        Ok(self.wait()?)
    }
}
