//! The OpenCL executor: device buffers holding whole allocations, kernels on strided views.

use std::collections::HashMap;

use ocl::core::Mem;
use yam_plugin_api::{
    export::Executor, kernel, kernels::KernelOutput, BufferHandle, DeviceInfo, KernelCall,
    PluginError, StepCall, StepOutcome, TensorDesc,
};

use crate::{device, device::Gpu, error::ClError, ffi, launch::View, ops};

struct Slot {
    desc: TensorDesc,
    mem: Mem,
    bytes: usize,
    /// Uploaded or written by a kernel: reading it before is an error, as on the CPU backend.
    written: bool,
}

/// Executes kernels on one OpenCL device; one context and one in-order queue.
pub struct OclExecutor {
    gpu: Gpu,
    slots: HashMap<u64, Slot>,
    next: u64,
    bytes_in_use: u64,
}

impl std::fmt::Debug for OclExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OclExecutor")
            .field("device", &self.gpu.found.name)
            .field("buffers", &self.slots.len())
            .field("bytes_in_use", &self.bytes_in_use)
            .finish()
    }
}

impl OclExecutor {
    /// An executor on device `index` (see [`device::enumerate`]).
    pub fn new(index: u32) -> Result<OclExecutor, ClError> {
        Ok(OclExecutor {
            gpu: Gpu::open(index)?,
            slots: HashMap::new(),
            next: 0,
            bytes_in_use: 0,
        })
    }

    /// The device context (programs built so far, for tests).
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    fn slot(&self, buffer: BufferHandle) -> Result<&Slot, PluginError> {
        self.slots.get(&buffer.0).ok_or_else(|| {
            PluginError::invalid_buffer(format!(
                "buffer {} is not allocated (or already freed)",
                buffer.0
            ))
        })
    }
}

fn check_desc(desc: &TensorDesc) -> Result<(), PluginError> {
    if desc.dtype().is_none() {
        return Err(PluginError::invalid(format!(
            "buffer dtype (code {}, bits {}, lanes {}) is not one of u8, u16, i16, i32, f32",
            desc.dtype.code, desc.dtype.bits, desc.dtype.lanes
        )));
    }
    if desc.strides[2] == 0 || desc.strides[1] < desc.shape[2] * desc.strides[2] {
        return Err(PluginError::invalid(format!(
            "strides {:?} overlap for shape {:?}",
            desc.strides, desc.shape
        )));
    }
    if desc.shape.iter().any(|&d| d > i32::MAX as u64) {
        return Err(PluginError::invalid(format!(
            "shape {:?} is too large for OpenCL kernels",
            desc.shape
        )));
    }
    Ok(())
}

impl Executor for OclExecutor {
    fn device(&self) -> DeviceInfo {
        device::info(&self.gpu.found)
    }

    fn allocate(&mut self, desc: TensorDesc) -> Result<BufferHandle, PluginError> {
        check_desc(&desc)?;
        let bytes = desc.required_bytes().unwrap_or(0);
        let mem = self.gpu.buffer(bytes)?;
        self.next += 1;
        self.slots.insert(
            self.next,
            Slot {
                desc,
                mem,
                bytes,
                written: false,
            },
        );
        self.bytes_in_use += bytes as u64;
        Ok(BufferHandle(self.next))
    }

    fn upload(&mut self, buffer: BufferHandle, bytes: &[u8]) -> Result<(), PluginError> {
        let slot = self.slot(buffer)?;
        if bytes.len() != slot.bytes {
            return Err(PluginError::invalid(format!(
                "upload to buffer {}: {} bytes given, the buffer's descriptor needs {}",
                buffer.0,
                bytes.len(),
                slot.bytes
            )));
        }
        ffi::write(&self.gpu.queue, &slot.mem, bytes)
            .map_err(ClError::api(format!("upload to buffer {}", buffer.0)))?;
        self.slots.get_mut(&buffer.0).expect("checked").written = true;
        Ok(())
    }

    fn download(&mut self, buffer: BufferHandle, out: &mut [u8]) -> Result<(), PluginError> {
        let slot = self.slot(buffer)?;
        if out.len() != slot.bytes {
            return Err(PluginError::invalid(format!(
                "download from buffer {}: destination has {} bytes, the buffer needs {}",
                buffer.0,
                out.len(),
                slot.bytes
            )));
        }
        if !slot.written {
            return Err(PluginError::invalid_buffer(format!(
                "buffer {} was read before anything was written to it",
                buffer.0
            )));
        }
        ffi::read(&self.gpu.queue, &slot.mem, out)
            .map_err(ClError::api(format!("download from buffer {}", buffer.0)))?;
        Ok(())
    }

    fn free(&mut self, buffer: BufferHandle) -> Result<(), PluginError> {
        let slot = self.slots.remove(&buffer.0).ok_or_else(|| {
            PluginError::invalid_buffer(format!(
                "free of buffer {}: not allocated or already freed",
                buffer.0
            ))
        })?;
        self.bytes_in_use -= slot.bytes as u64;
        Ok(())
    }

    fn execute(
        &mut self,
        step: &StepCall,
        inputs: &[BufferHandle],
        output: Option<BufferHandle>,
    ) -> Result<StepOutcome, PluginError> {
        let id = step.kernel.as_str();
        let what = format!("step `{}` ({id})", step.name);
        let spec = kernel(id)
            .ok_or_else(|| PluginError::unsupported(format!("{what}: unknown kernel")))?;
        if !ops::IMPLEMENTED.contains(&id) {
            return Err(PluginError::unsupported(format!(
                "{what}: not implemented by the opencl backend"
            )));
        }
        let first = *inputs
            .first()
            .ok_or_else(|| PluginError::invalid(format!("{what}: no input buffer")))?;
        let src = self.slot(first)?;
        if !src.written {
            return Err(PluginError::invalid_buffer(format!(
                "{what}: input buffer {} was read before anything was written to it",
                first.0
            )));
        }
        let in_desc = src.desc;
        let dtype = in_desc.dtype().expect("checked at allocation");
        spec.check_input(dtype, in_desc.channels() as u32)
            .map_err(|e| PluginError::invalid(format!("{what}: {e}")))?;
        // Re-validate: a host is not trusted to have checked the parameters.
        let params = spec
            .resolve(step.params.iter().map(|(n, v)| (n, v.clone())))
            .map_err(|e| PluginError::invalid(format!("{what}: {e}")))?;
        let call = KernelCall::parse(id, &params, dtype)
            .expect("id is in the catalogue")
            .map_err(|e| PluginError::invalid(format!("{what}: {e}")))?;
        if in_desc.element_count() == 0 {
            return Err(PluginError::invalid(format!(
                "{what}: input is empty ({}x{}x{})",
                in_desc.width(),
                in_desc.height(),
                in_desc.channels()
            )));
        }
        let KernelOutput::Image(expected) = call.output(&in_desc) else {
            return Err(PluginError::unsupported(format!(
                "{what}: analysis kernels are not implemented by the opencl backend"
            )));
        };
        let out = output
            .ok_or_else(|| PluginError::invalid(format!("{what}: no output buffer given")))?;
        let out_desc = self.slot(out)?.desc;
        if out_desc.dtype() != expected.dtype() || out_desc.shape != expected.shape {
            return Err(PluginError::invalid(format!(
                "{what}: output buffer {} is {:?} {:?}, the result is {:?} {:?}",
                out.0,
                out_desc.dtype(),
                out_desc.shape,
                expected.dtype(),
                expected.shape
            )));
        }
        // In place: read from a device copy of the input, since neighbourhood kernels read
        // pixels that other work-items overwrite.
        let copy = if out == first {
            let bytes = self.slot(first)?.bytes;
            let mem = self.gpu.buffer(bytes)?;
            self.gpu.copy(&self.slot(first)?.mem, &mem, bytes)?;
            Some(mem)
        } else {
            None
        };
        let src_mem = match &copy {
            Some(m) => m,
            None => &self.slots[&first.0].mem,
        };
        let src_view = View::new(src_mem, in_desc)?;
        let dst_view = View::new(&self.slots[&out.0].mem, out_desc)?;
        let info = ops::run(&mut self.gpu, &call, src_view, dst_view)
            .map_err(|e| PluginError::new(e.kind(), format!("{what}: {}", e.message)))?;
        self.gpu.finish()?;
        drop(copy);
        self.slots.get_mut(&out.0).expect("checked").written = true;
        let info_json = if info.is_empty() {
            String::new()
        } else {
            serde_json::Value::Object(info).to_string()
        };
        Ok(StepOutcome {
            info_json: info_json.into(),
        })
    }

    fn synchronize(&mut self) -> Result<(), PluginError> {
        Ok(self.gpu.finish()?)
    }

    fn memory_in_use(&self) -> u64 {
        self.bytes_in_use
    }
}
