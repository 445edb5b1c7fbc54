//! Devices: discovery (never blocking, never panicking), the context and queue of one device,
//! buffers, and programs built once per device and cached on disk.

use std::collections::HashMap;
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use ocl::core::{
    self, CommandQueue, Context, ContextProperties, DeviceId, DeviceInfo as Info, DeviceType,
    Kernel, Mem, PlatformId, PlatformInfo, Program, ProgramBuildInfo, ProgramBuildInfoResult,
    ProgramInfo, ProgramInfoResult,
};
use sha2::{Digest, Sha256};
use yam_plugin_api::{dl_device, DeviceInfo, DlDevice, ProbeReport};

use crate::{error::ClError, ffi, kernels::Source};

/// The environment variable that picks a device: an index into the list of all devices, or a
/// case-insensitive substring of "platform: device".
pub const DEVICE_ENV: &str = "YAM_OPENCL_DEVICE";

/// Why nothing can run when the ICD loader finds no platform.
pub const NO_PLATFORM: &str =
    "no OpenCL platform found (is an ICD installed in /etc/OpenCL/vendors?)";

/// One OpenCL device as discovered.
#[derive(Debug, Clone)]
pub struct Found {
    /// Position in the list of all devices of all platforms (the executor index).
    pub index: u32,
    /// Platform handle.
    pub platform: PlatformId,
    /// Device handle.
    pub device: DeviceId,
    /// "platform name: device name".
    pub name: String,
    /// Global memory in bytes.
    pub memory: u64,
    /// Driver version string (part of the program cache key).
    pub driver: String,
    /// Supports `cl_khr_fp64`.
    pub fp64: bool,
}

/// Runs `f`, turning a panic inside the OpenCL wrapper into `None`.
fn quietly<T>(f: impl FnOnce() -> Option<T>) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok().flatten()
}

fn device_text(d: DeviceId, what: Info) -> Option<String> {
    quietly(|| core::get_device_info(d, what).ok().map(|r| r.to_string()))
}

/// Serialises platform discovery, context creation and program builds: the ICD loader's
/// first-time initialisation and PoCL's compiler are not safe to enter from several threads
/// at once (observed: a segfault when test threads probe and build concurrently).
static RUNTIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn runtime_lock() -> std::sync::MutexGuard<'static, ()> {
    RUNTIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every device of every platform, or why there are none.
pub fn enumerate() -> Result<Vec<Found>, String> {
    let _serial = runtime_lock();
    let platforms = quietly(|| Some(ffi::platform_ids()))
        .ok_or("querying OpenCL platforms panicked")?
        .map_err(|code| format!("clGetPlatformIDs failed with OpenCL error {code}"))?;
    if platforms.is_empty() {
        return Err(NO_PLATFORM.into());
    }
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for p in platforms {
        let pname = quietly(|| core::get_platform_info(p, PlatformInfo::Name).ok())
            .map_or_else(|| "unknown platform".into(), |r| r.to_string());
        let devices = quietly(|| Some(core::get_device_ids(p, Some(DeviceType::ALL), None)));
        let devices = match devices {
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                notes.push(format!("{pname}: {}", first_line(&e.to_string())));
                continue;
            }
            None => {
                notes.push(format!("{pname}: listing devices panicked"));
                continue;
            }
        };
        for d in devices {
            let dname = device_text(d, Info::Name).unwrap_or_else(|| "unknown device".into());
            let memory = quietly(
                || match core::get_device_info(d, Info::GlobalMemSize).ok()? {
                    core::DeviceInfoResult::GlobalMemSize(m) => Some(m),
                    _ => None,
                },
            )
            .unwrap_or(0);
            let extensions = device_text(d, Info::Extensions).unwrap_or_default();
            found.push(Found {
                index: found.len() as u32,
                platform: p,
                device: d,
                name: format!("{}: {}", pname.trim(), dname.trim()),
                memory,
                driver: device_text(d, Info::DriverVersion).unwrap_or_default(),
                fp64: extensions.split_whitespace().any(|e| e == "cl_khr_fp64"),
            });
        }
    }
    if found.is_empty() {
        let detail = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        return Err(format!("OpenCL platforms found but no devices{detail}"));
    }
    Ok(found)
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim()
}

/// The devices this backend offers: all of them, or the one `YAM_OPENCL_DEVICE` picks.
pub fn usable() -> Result<Vec<Found>, String> {
    select(enumerate()?, std::env::var(DEVICE_ENV).ok().as_deref())
}

/// The devices of `all` that `choice` (the value of `YAM_OPENCL_DEVICE`, if set) picks.
pub fn select(all: Vec<Found>, choice: Option<&str>) -> Result<Vec<Found>, String> {
    let Some(choice) = choice else {
        return Ok(all);
    };
    let choice = choice.trim();
    if choice.is_empty() {
        return Ok(all);
    }
    let picked: Vec<Found> = match choice.parse::<u32>() {
        Ok(i) => all.iter().filter(|d| d.index == i).cloned().collect(),
        Err(_) => {
            let needle = choice.to_lowercase();
            all.iter()
                .find(|d| d.name.to_lowercase().contains(&needle))
                .cloned()
                .into_iter()
                .collect()
        }
    };
    if picked.is_empty() {
        let names: Vec<String> = all
            .iter()
            .map(|d| format!("{} = {}", d.index, d.name))
            .collect();
        return Err(format!(
            "{DEVICE_ENV}={choice} matches no OpenCL device (devices: {})",
            names.join(", ")
        ));
    }
    Ok(picked)
}

/// The ABI description of a device.
pub fn info(d: &Found) -> DeviceInfo {
    DeviceInfo {
        index: d.index,
        name: d.name.clone().into(),
        memory_bytes: d.memory,
        dl_device: DlDevice {
            device_type: dl_device::OPENCL,
            device_id: d.index as i32,
        },
    }
}

/// Runtime and device discovery for the plugin's `probe`.
pub fn probe() -> ProbeReport {
    ProbeReport::from_search(usable().map(|found| found.iter().map(info).collect()))
}

/// Where compiled program binaries are kept: `$XDG_CACHE_HOME/yam/opencl` (or
/// `~/.cache/yam/opencl`); `YAM_OPENCL_CACHE` overrides, `YAM_OPENCL_CACHE=off` disables.
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("YAM_OPENCL_CACHE") {
        Some(v) if v == "off" => return None,
        Some(v) if !v.is_empty() => return Some(PathBuf::from(v)),
        _ => {}
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("yam").join("opencl"))
}

/// How a program was obtained (for tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Built {
    /// Loaded from the disk cache.
    FromCache,
    /// Compiled from source (and stored in the cache when possible).
    FromSource,
}

/// A context and an in-order queue on one device, with its programs.
pub struct Gpu {
    /// The device.
    pub found: Found,
    /// Its context.
    pub context: Context,
    /// Its queue.
    pub queue: CommandQueue,
    /// Folder of cached program binaries (`None`: no disk cache).
    pub cache: Option<PathBuf>,
    programs: HashMap<(Source, String), Program>,
    kernels: HashMap<(Source, String, &'static str), Kernel>,
    /// How each program was obtained, in build order.
    pub build_log: Vec<(Source, String, Built)>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("device", &self.found.name)
            .field("programs", &self.programs.len())
            .finish()
    }
}

impl Gpu {
    /// A context and queue on device `index` (an index of [`enumerate`]).
    pub fn open(index: u32) -> Result<Gpu, ClError> {
        let found = usable()
            .map_err(ClError::NoDevice)?
            .into_iter()
            .find(|d| d.index == index)
            .ok_or_else(|| ClError::NoDevice(format!("no OpenCL device with index {index}")))?;
        let _serial = runtime_lock();
        let props = ContextProperties::new().platform(found.platform);
        let context = core::create_context(Some(&props), &[found.device], None, None)
            .map_err(ClError::api(format!("create context on {}", found.name)))?;
        let queue = core::create_command_queue(&context, found.device, None)
            .map_err(ClError::api(format!("create queue on {}", found.name)))?;
        Ok(Gpu {
            found,
            context,
            queue,
            cache: cache_dir(),
            programs: HashMap::new(),
            kernels: HashMap::new(),
            build_log: Vec::new(),
        })
    }

    /// A new device buffer of `len` bytes.
    pub fn buffer(&self, len: usize) -> Result<Mem, ClError> {
        ffi::create_buffer(&self.context, len)
            .map_err(ClError::api(format!("allocate {len} bytes")))
    }

    /// Copies `len` bytes from `src` to `dst` on the device.
    pub fn copy(&self, src: &Mem, dst: &Mem, len: usize) -> Result<(), ClError> {
        if len == 0 {
            return Ok(());
        }
        core::enqueue_copy_buffer::<u8, _, _, _>(
            &self.queue,
            src,
            dst,
            0,
            0,
            len,
            None::<core::Event>,
            None::<&mut core::Event>,
        )
        .map_err(ClError::api(format!("copy {len} bytes")))
    }

    /// Waits for all queued work.
    pub fn finish(&self) -> Result<(), ClError> {
        core::finish(&self.queue).map_err(ClError::api("finish"))
    }

    /// Build options for `defines` (`-D` pairs) on this device.
    fn options(&self, defines: &str) -> String {
        format!(
            "-cl-std=CL1.2 -DYAM_FP64={} {defines}",
            u8::from(self.found.fp64)
        )
    }

    /// Kernel `name` of `source` built with `defines`, building the program on first use.
    pub fn kernel(
        &mut self,
        source: Source,
        defines: &str,
        name: &'static str,
    ) -> Result<&Kernel, ClError> {
        let key = (source, defines.to_string(), name);
        if !self.kernels.contains_key(&key) {
            let program = self.program(source, defines)?;
            let k = core::create_kernel(program, name).map_err(ClError::api(format!(
                "create kernel {name} of {}",
                source.name()
            )))?;
            self.kernels.insert(key.clone(), k);
        }
        Ok(&self.kernels[&key])
    }

    /// The program `source` with `defines`: from memory, the disk cache or a source build.
    pub fn program(&mut self, source: Source, defines: &str) -> Result<&Program, ClError> {
        let key = (source, defines.to_string());
        if !self.programs.contains_key(&key) {
            let (program, how) = self.build(source, defines)?;
            self.build_log.push((source, defines.to_string(), how));
            self.programs.insert(key.clone(), program);
        }
        Ok(&self.programs[&key])
    }

    /// Cache file of `source` with `options`: keyed by device name, driver version and a
    /// hash of the source text and options.
    pub fn cache_file(&self, source: Source, options: &str) -> Option<PathBuf> {
        let mut h = Sha256::new();
        for part in [
            self.found.name.as_str(),
            self.found.driver.as_str(),
            options,
            &source.full_text(),
        ] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Some(
            self.cache
                .as_ref()?
                .join(format!("{}-{}.bin", source.name(), &hex[..32])),
        )
    }

    fn build(&self, source: Source, defines: &str) -> Result<(Program, Built), ClError> {
        let _serial = runtime_lock();
        let options = self.options(defines);
        let copts = CString::new(options.clone()).expect("build options have no NUL");
        let file = self.cache_file(source, &options);
        if let Some(bytes) = file.as_ref().and_then(|f| std::fs::read(f).ok()) {
            let cached = core::create_program_with_binary(
                &self.context,
                &[self.found.device],
                &[bytes.as_slice()],
            )
            .and_then(|p| {
                core::build_program(&p, Some(&[self.found.device]), &copts, None, None).map(|_| p)
            });
            if let Ok(p) = cached {
                return Ok((p, Built::FromCache));
            }
            // A stale or foreign binary: rebuild from source and overwrite it below.
        }
        let text = CString::new(source.full_text()).expect("kernel sources have no NUL");
        let program = core::create_program_with_source(&self.context, &[text])
            .map_err(ClError::api(format!("create program {}", source.name())))?;
        if core::build_program(&program, Some(&[self.found.device]), &copts, None, None).is_err() {
            let log = match core::get_program_build_info(
                &program,
                self.found.device,
                ProgramBuildInfo::BuildLog,
            ) {
                Ok(ProgramBuildInfoResult::BuildLog(l)) => l,
                _ => "(no build log)".into(),
            };
            return Err(ClError::Build {
                program: source.name(),
                options,
                log,
            });
        }
        if let Some(file) = file {
            if let Ok(ProgramInfoResult::Binaries(bins)) =
                core::get_program_info(&program, ProgramInfo::Binaries)
            {
                if let Some(bin) = bins.into_iter().next().filter(|b| !b.is_empty()) {
                    store(&file, &bin);
                }
            }
        }
        Ok((program, Built::FromSource))
    }
}

/// Writes `bytes` to `file` atomically (temporary file, then rename); failures only cost a
/// rebuild next time, so they are ignored.
fn store(file: &std::path::Path, bytes: &[u8]) {
    let Some(dir) = file.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("program"),
        std::process::id()
    ));
    if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, file).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}
