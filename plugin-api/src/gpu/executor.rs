//! An executor over any [`Device`]: device buffers holding whole allocations, kernels on
//! strided views, all queued in order. A segment of steps is one upload, kernels queued back
//! to back, and one download; the host waits only in `download`, `synchronize`, and the two
//! kernels that must read a value back (Otsu's histogram, the label count).

use std::collections::HashMap;

use crate::{
    export::Executor,
    gpu::{dlpack, ops, Device, View},
    kernel,
    kernels::KernelOutput,
    BufferHandle, DLTensor, DeviceInfo, DlpackView, KernelCall, PluginError, StepCall, StepOutcome,
    TensorDesc,
};

/// Where a buffer's bytes live.
enum Memory<B> {
    /// Allocated by this executor, released when the slot goes.
    Owned(B),
    /// Imported through DLPack: owned by someone else, never freed here.
    Borrowed(u64),
}

struct Slot<B> {
    desc: TensorDesc,
    memory: Memory<B>,
    bytes: usize,
    /// Uploaded or written by a kernel: reading it before is an error, as on the CPU backend.
    written: bool,
}

impl<B> Slot<B> {
    fn base<D: Device<Buffer = B>>(&self) -> u64 {
        match &self.memory {
            Memory::Owned(buf) => D::address(buf),
            Memory::Borrowed(ptr) => *ptr,
        }
    }
}

/// Executes catalogue kernels on one GPU through its [`Device`].
pub struct DeviceExecutor<D: Device> {
    gpu: D,
    slots: HashMap<u64, Slot<D::Buffer>>,
    next: u64,
    bytes_in_use: u64,
}

impl<D: Device> std::fmt::Debug for DeviceExecutor<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceExecutor")
            .field("device", &self.gpu.info().name)
            .field("buffers", &self.slots.len())
            .field("bytes_in_use", &self.bytes_in_use)
            .finish()
    }
}

impl<D: Device> DeviceExecutor<D> {
    /// An executor driving `gpu`.
    pub fn new(gpu: D) -> DeviceExecutor<D> {
        DeviceExecutor {
            gpu,
            slots: HashMap::new(),
            next: 0,
            bytes_in_use: 0,
        }
    }

    /// The device.
    pub fn device_ref(&self) -> &D {
        &self.gpu
    }

    fn slot(&self, buffer: BufferHandle) -> Result<&Slot<D::Buffer>, PluginError> {
        self.slots.get(&buffer.0).ok_or_else(|| {
            PluginError::invalid_buffer(format!(
                "buffer {} is not allocated (or already freed)",
                buffer.0
            ))
        })
    }

    fn insert(&mut self, slot: Slot<D::Buffer>) -> BufferHandle {
        self.next += 1;
        if matches!(slot.memory, Memory::Owned(_)) {
            self.bytes_in_use += slot.bytes as u64;
        }
        self.slots.insert(self.next, slot);
        BufferHandle(self.next)
    }

    /// `buffer` as a DLPack tensor on this device (`kDLCUDA`, `kDLROCM`), valid while the
    /// buffer is allocated. Waits for
    /// queued work first, so the consumer sees the finished data.
    pub fn export_dlpack(&mut self, buffer: BufferHandle) -> Result<DlpackView, PluginError> {
        self.gpu.synchronize()?;
        let slot = self.slot(buffer)?;
        Ok(dlpack::export(
            slot.desc,
            slot.base::<D>(),
            self.gpu.dl_device(),
        ))
    }

    /// Uses a foreign DLPack tensor on this device as a buffer, without a copy. It counts as
    /// written; freeing the handle leaves the memory to its owner.
    ///
    /// # Safety
    /// `t` must satisfy the DLPack contract, and its memory must stay allocated, and not be
    /// written by others, until the handle is freed.
    pub unsafe fn import_dlpack(&mut self, t: &DLTensor) -> Result<BufferHandle, PluginError> {
        // SAFETY: forwarded from the caller.
        let imported =
            unsafe { dlpack::import(t, self.gpu.dl_device()) }.map_err(PluginError::invalid)?;
        check_desc(&imported.desc)?;
        Ok(self.insert(Slot {
            desc: imported.desc,
            memory: Memory::Borrowed(imported.base),
            bytes: imported.bytes,
            written: true,
        }))
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
            "shape {:?} is too large for GPU kernels (each extent below 2^31)",
            desc.shape
        )));
    }
    Ok(())
}

impl<D: Device> Executor for DeviceExecutor<D> {
    fn device(&self) -> DeviceInfo {
        self.gpu.info()
    }

    fn allocate(&mut self, desc: TensorDesc) -> Result<BufferHandle, PluginError> {
        check_desc(&desc)?;
        let bytes = desc.required_bytes().unwrap_or(0);
        let buf = self.gpu.alloc(bytes)?;
        Ok(self.insert(Slot {
            desc: desc.on(self.gpu.dl_device()),
            memory: Memory::Owned(buf),
            bytes,
            written: false,
        }))
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
        let base = slot.base::<D>();
        self.gpu.upload(base, bytes)?;
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
        let base = slot.base::<D>();
        self.gpu.download(base, out)?;
        Ok(())
    }

    fn free(&mut self, buffer: BufferHandle) -> Result<(), PluginError> {
        let slot = self.slots.remove(&buffer.0).ok_or_else(|| {
            PluginError::invalid_buffer(format!(
                "free of buffer {}: not allocated or already freed",
                buffer.0
            ))
        })?;
        if matches!(slot.memory, Memory::Owned(_)) {
            self.bytes_in_use -= slot.bytes as u64;
        }
        // An owned allocation is freed in stream order, after the kernels that use it.
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
                "{what}: not implemented by the {} backend",
                self.gpu.backend()
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
                "{what}: analysis kernels are not implemented by the {} backend",
                self.gpu.backend()
            )));
        };
        let out = output
            .ok_or_else(|| PluginError::invalid(format!("{what}: no output buffer given")))?;
        let out_slot = self.slot(out)?;
        let out_desc = out_slot.desc;
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
        let out_base = out_slot.base::<D>();
        let (src_base, src_bytes) = (self.slot(first)?.base::<D>(), self.slot(first)?.bytes);
        // In place: read from a device copy of the input, since neighbourhood kernels read
        // pixels that other threads overwrite.
        let copy = if out == first {
            let buf = self.gpu.alloc(src_bytes)?;
            self.gpu.copy(src_base, D::address(&buf), src_bytes)?;
            Some(buf)
        } else {
            None
        };
        let read_base = copy.as_ref().map_or(src_base, D::address);
        let src_view = View::new(read_base, in_desc)?;
        let dst_view = View::new(out_base, out_desc)?;
        let info = ops::run(&mut self.gpu, &call, src_view, dst_view)
            .map_err(|e| PluginError::new(e.kind(), format!("{what}: {}", e.message)))?;
        // The copy is freed in stream order, after the kernels that read it.
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
        self.gpu.synchronize()
    }

    fn memory_in_use(&self) -> u64 {
        self.bytes_in_use
    }
}
