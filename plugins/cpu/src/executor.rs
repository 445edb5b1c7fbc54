//! The CPU executor: "device" buffers are host memory; strides are honoured on upload/download.

use std::collections::HashMap;

use yam_plugin_api::{
    export::Executor, kernel, kernels::KernelOutput, BufferHandle, DType, DeviceInfo, DlDevice,
    Image, KernelCall, PixelData, PluginError, StepCall, StepOutcome, TensorDesc,
};

use crate::{copy::copy_bytes, isa, ops, recycle::Spares};

struct Slot {
    desc: TensorDesc,
    /// The view's elements, packed; `None` until uploaded or written by a kernel.
    image: Option<Image>,
    /// The whole allocation, for descriptors with padding or an offset: bytes outside the view
    /// must survive a kernel writing the view, as they would on a real device.
    raw: Option<Vec<u8>>,
}

impl Slot {
    fn needs_raw(desc: &TensorDesc) -> bool {
        !desc.is_packed() || desc.byte_offset != 0
    }

    /// Stores `image` as the view's content, and into the raw allocation when there is one;
    /// returns the content it replaces.
    fn write(&mut self, image: Image) -> Option<Image> {
        if let Some(raw) = &mut self.raw {
            let size = image.dtype().size_bytes();
            let bytes = image.data.as_ne_bytes();
            let mut src = bytes.chunks_exact(size);
            for y in 0..self.desc.height() {
                for x in 0..self.desc.width() {
                    for ch in 0..self.desc.channels() {
                        let o = offset(&self.desc, y, x, ch, size);
                        raw[o..o + size].copy_from_slice(src.next().expect("shape checked"));
                    }
                }
            }
        }
        self.image.replace(image)
    }
}

/// Executes kernels on the host CPU.
#[derive(Default)]
pub struct CpuExecutor {
    slots: HashMap<u64, Slot>,
    next: u64,
    bytes_in_use: u64,
    /// Buffers of replaced or freed images, reused for the next outputs and uploads.
    spares: Spares,
}

impl std::fmt::Debug for CpuExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuExecutor")
            .field("buffers", &self.slots.len())
            .field("bytes_in_use", &self.bytes_in_use)
            .finish()
    }
}

/// The one device of this backend; its name says the SIMD level in use (and why, when
/// `YAM_CPU_ISA` changed it), so `yam doctor` and `yam plugins info` show it.
pub fn host_device() -> DeviceInfo {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let simd = isa::selection();
    let simd = match &simd.note {
        None => simd.isa.to_string(),
        Some(note) => format!("{}; {note}", simd.isa),
    };
    DeviceInfo {
        index: 0,
        name: format!("host CPU ({threads} threads, SIMD {simd})").into(),
        memory_bytes: 0,
        dl_device: DlDevice::CPU,
    }
}

fn desc_dtype(desc: &TensorDesc) -> Result<DType, PluginError> {
    desc.dtype().ok_or_else(|| {
        PluginError::invalid(format!(
            "buffer dtype (code {}, bits {}, lanes {}) is not one of u8, u16, i16, i32, f32",
            desc.dtype.code, desc.dtype.bits, desc.dtype.lanes
        ))
    })
}

/// Byte offset of element (y, x, c) of `desc`.
fn offset(desc: &TensorDesc, y: usize, x: usize, c: usize, size: usize) -> usize {
    desc.byte_offset as usize
        + (y * desc.strides[0] as usize
            + x * desc.strides[1] as usize
            + c * desc.strides[2] as usize)
            * size
}

impl CpuExecutor {
    /// A new executor with no buffers.
    pub fn new() -> CpuExecutor {
        CpuExecutor::default()
    }

    fn slot(&self, buffer: BufferHandle) -> Result<&Slot, PluginError> {
        self.slots.get(&buffer.0).ok_or_else(|| {
            PluginError::invalid_buffer(format!(
                "buffer {} is not allocated (or already freed)",
                buffer.0
            ))
        })
    }

    fn image(&self, buffer: BufferHandle) -> Result<&Image, PluginError> {
        self.slot(buffer)?.image.as_ref().ok_or_else(|| {
            PluginError::invalid_buffer(format!(
                "buffer {} was read before anything was written to it",
                buffer.0
            ))
        })
    }
}

impl Executor for CpuExecutor {
    fn device(&self) -> DeviceInfo {
        host_device()
    }

    fn allocate(&mut self, desc: TensorDesc) -> Result<BufferHandle, PluginError> {
        desc_dtype(&desc)?;
        if desc.strides[2] == 0 || desc.strides[1] < desc.shape[2] * desc.strides[2] {
            return Err(PluginError::invalid(format!(
                "strides {:?} overlap for shape {:?}",
                desc.strides, desc.shape
            )));
        }
        let bytes = desc.required_bytes().unwrap_or(0) as u64;
        self.next += 1;
        let raw = Slot::needs_raw(&desc).then(|| vec![0u8; bytes as usize]);
        self.slots.insert(
            self.next,
            Slot {
                desc,
                image: None,
                raw,
            },
        );
        self.bytes_in_use += bytes;
        Ok(BufferHandle(self.next))
    }

    fn upload(&mut self, buffer: BufferHandle, bytes: &[u8]) -> Result<(), PluginError> {
        let desc = self.slot(buffer)?.desc;
        let dtype = desc_dtype(&desc)?;
        let need = desc.required_bytes().unwrap_or(0);
        if bytes.len() != need {
            return Err(PluginError::invalid(format!(
                "upload to buffer {}: {} bytes given, the buffer's descriptor needs {need}",
                buffer.0,
                bytes.len()
            )));
        }
        let size = dtype.size_bytes();
        let (h, w, c) = (desc.height(), desc.width(), desc.channels());
        let len = h * w * c;
        let data = if desc.is_packed() {
            let packed = &bytes[desc.byte_offset as usize..];
            match self.spares.take_like(dtype, len) {
                Some(mut data) => {
                    copy_bytes(data.as_ne_bytes_mut(), packed);
                    Some(data)
                }
                _ if packed.len() % dtype.size_bytes() == 0 => {
                    let mut data = PixelData::zeros(dtype, packed.len() / dtype.size_bytes());
                    let bytes = data.as_ne_bytes_mut();
                    yam_plugin_api::memory::huge_pages(bytes);
                    copy_bytes(bytes, packed);
                    Some(data)
                }
                _ => None,
            }
        } else {
            let mut out = Vec::with_capacity(h * w * c * size);
            for y in 0..h {
                for x in 0..w {
                    for ch in 0..c {
                        let o = offset(&desc, y, x, ch, size);
                        out.extend_from_slice(&bytes[o..o + size]);
                    }
                }
            }
            PixelData::from_ne_bytes(dtype, &out)
        };
        let data = data.ok_or_else(|| {
            PluginError::invalid("upload: byte count is not a multiple of the element size")
        })?;
        let image =
            Image::new(w, h, c, data).map_err(|e| PluginError::invalid(format!("upload: {e}")))?;
        let slot = self.slots.get_mut(&buffer.0).expect("checked above");
        if let Some(raw) = &mut slot.raw {
            raw.copy_from_slice(bytes);
        }
        if let Some(old) = slot.image.replace(image) {
            self.spares.give(old.data);
        }
        Ok(())
    }

    fn download(&mut self, buffer: BufferHandle, out: &mut [u8]) -> Result<(), PluginError> {
        let desc = self.slot(buffer)?.desc;
        let need = desc.required_bytes().unwrap_or(0);
        if out.len() != need {
            return Err(PluginError::invalid(format!(
                "download from buffer {}: destination has {} bytes, the buffer needs {need}",
                buffer.0,
                out.len()
            )));
        }
        let image = self.image(buffer)?;
        match &self.slot(buffer)?.raw {
            Some(raw) => copy_bytes(out, raw),
            None => copy_bytes(out, image.data.as_ne_bytes()),
        }
        Ok(())
    }

    fn free(&mut self, buffer: BufferHandle) -> Result<(), PluginError> {
        let slot = self.slots.remove(&buffer.0).ok_or_else(|| {
            PluginError::invalid_buffer(format!(
                "free of buffer {}: not allocated or already freed",
                buffer.0
            ))
        })?;
        self.bytes_in_use -= slot.desc.required_bytes().unwrap_or(0) as u64;
        if let Some(image) = slot.image {
            self.spares.give(image.data);
        }
        Ok(())
    }

    fn execute(
        &mut self,
        step: &StepCall,
        inputs: &[BufferHandle],
        output: Option<BufferHandle>,
    ) -> Result<StepOutcome, PluginError> {
        let id = step.kernel.as_str();
        // Out of `self` while `src` borrows a slot; lost (only a cache) on an early error.
        let mut spares = std::mem::take(&mut self.spares);
        let what = format!("step `{}` ({id})", step.name);
        let spec = kernel(id)
            .ok_or_else(|| PluginError::unsupported(format!("{what}: unknown kernel")))?;
        if !ops::IMPLEMENTED.contains(&id) {
            return Err(PluginError::unsupported(format!(
                "{what}: not implemented by the cpu backend"
            )));
        }
        let first = inputs
            .first()
            .ok_or_else(|| PluginError::invalid(format!("{what}: no input buffer")))?;
        let src = self.image(*first)?;
        spec.check_input(src.dtype(), src.channels as u32)
            .map_err(|e| PluginError::invalid(format!("{what}: {e}")))?;
        // Re-validate: a host is not trusted to have checked the parameters.
        let params = spec
            .resolve(step.params.iter().map(|(n, v)| (n, v.clone())))
            .map_err(|e| PluginError::invalid(format!("{what}: {e}")))?;
        let call = KernelCall::parse(id, &params, src.dtype())
            .expect("id is in the catalogue")
            .map_err(|e| PluginError::invalid(format!("{what}: {e}")))?;
        // The output's current content is about to be overwritten: its buffer, the one this
        // output used last (still in cache), becomes the first spare. Not for an output that is
        // also an input, one with padding or an offset, or one the result will not fit.
        let expected = match call.output(&src.desc()) {
            KernelOutput::Image(d) => Some((d.dtype(), d.shape)),
            KernelOutput::Json => None,
        };
        let parked = output
            .filter(|o| !inputs.contains(o))
            .and_then(|o| Some((o, self.slots.get_mut(&o.0)?)))
            .filter(|(_, s)| s.raw.is_none() && Some((s.desc.dtype(), s.desc.shape)) == expected)
            .filter(|(_, s)| s.image.as_ref().is_some_and(|i| !i.is_empty()))
            .and_then(|(o, s)| Some((o, s.image.take()?)));
        let parked = parked.map(|(o, old)| {
            let shape = (old.width, old.height, old.channels);
            let buffer = old.data.as_ne_bytes().as_ptr() as usize;
            spares.give(old.data);
            (o, shape, buffer)
        });
        let src = self.image(*first)?;
        let extra = match inputs.get(1) {
            Some(b) => Some(self.image(*b)?),
            None => None,
        };
        let result = spares.lend(|| ops::execute(&call, src, extra));
        if let (Err(_), Some((o, (width, height, channels), buffer))) = (&result, parked) {
            // A failed kernel that had not taken the parked buffer leaves the output as it was.
            if let Some(data) = spares.take_buffer(buffer) {
                let slot = self.slots.get_mut(&o.0).expect("parked above");
                slot.image = Some(Image {
                    width,
                    height,
                    channels,
                    data,
                });
            }
        }
        self.spares = spares;
        let result = result?;
        match (result.image, output) {
            (Some(image), Some(out)) => {
                let desc = self.slot(out)?.desc;
                let fits = desc.dtype() == Some(image.dtype())
                    && (desc.height(), desc.width(), desc.channels())
                        == (image.height, image.width, image.channels);
                if !fits {
                    return Err(PluginError::invalid(format!(
                        "{what}: output buffer {} is {:?} {:?}, the result is {} {}x{}x{}",
                        out.0,
                        desc.dtype(),
                        desc.shape,
                        image.dtype(),
                        image.height,
                        image.width,
                        image.channels
                    )));
                }
                let old = self
                    .slots
                    .get_mut(&out.0)
                    .expect("checked above")
                    .write(image);
                if let Some(old) = old {
                    self.spares.give(old.data);
                }
            }
            (Some(_), None) => {
                return Err(PluginError::invalid(format!(
                    "{what}: no output buffer given"
                )))
            }
            (None, _) => {}
        }
        let info_json = if result.info.is_empty() {
            String::new()
        } else {
            serde_json::Value::Object(result.info).to_string()
        };
        Ok(StepOutcome {
            info_json: info_json.into(),
        })
    }

    fn synchronize(&mut self) -> Result<(), PluginError> {
        Ok(())
    }

    fn memory_in_use(&self) -> u64 {
        self.bytes_in_use
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_rows_round_trip_with_their_padding() {
        let mut ex = CpuExecutor::new();
        let mut desc = TensorDesc::packed(DType::U16, 3, 2, 1);
        desc.strides[0] = 5; // 2 pixels + 3 padding elements per row
        let buf = ex.allocate(desc).unwrap();
        let bytes: Vec<u8> = (0..desc.required_bytes().unwrap() as u8).collect();
        ex.upload(buf, &bytes).unwrap();
        let img = ex.image(buf).unwrap();
        // Row y starts at element 5*y: elements 0,1 | 5,6 | 10,11 as native-endian u16.
        let expect: Vec<u16> = [0usize, 1, 5, 6, 10, 11]
            .iter()
            .map(|&e| u16::from_ne_bytes([bytes[2 * e], bytes[2 * e + 1]]))
            .collect();
        assert_eq!(img.data, PixelData::U16(expect));
        // A download returns the whole allocation, padding included, as uploaded.
        let mut out = vec![0xAAu8; bytes.len()];
        ex.download(buf, &mut out).unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn double_free_and_size_mismatch_are_errors() {
        let mut ex = CpuExecutor::new();
        let desc = TensorDesc::packed(DType::F32, 4, 4, 3);
        let buf = ex.allocate(desc).unwrap();
        assert_eq!(ex.memory_in_use(), 4 * 4 * 3 * 4);
        let e = ex.upload(buf, &[0u8; 10]).unwrap_err();
        assert!(
            e.message.contains("10 bytes given") && e.message.contains("192"),
            "{e}"
        );
        let e = ex.download(buf, &mut [0u8; 192]).unwrap_err();
        assert!(
            e.message.contains("read before anything was written"),
            "{e}"
        );
        ex.free(buf).unwrap();
        assert_eq!(ex.memory_in_use(), 0);
        let e = ex.free(buf).unwrap_err();
        assert_eq!(e.kind(), yam_plugin_api::ErrorKind::InvalidBuffer);
    }

    /// Outputs are recycled from the buffers earlier calls gave up, so they hold stale
    /// values: a second call into the same output must still equal a fresh run.
    #[test]
    fn recycled_outputs_equal_fresh_results() {
        let (w, h) = (37, 23);
        let image = |seed: u32| {
            let v = (0..w * h)
                .map(|i| ((i as u32).wrapping_mul(2654435761) ^ seed) as u8)
                .collect();
            Image::new(w, h, 1, PixelData::U8(v)).unwrap()
        };
        for id in [
            "threshold",
            "gaussian_blur",
            "median_blur",
            "erode",
            "box_blur",
            "adaptive_threshold",
            "connected_components",
        ] {
            let mut ex = CpuExecutor::new();
            let step = StepCall {
                name: "s".into(),
                kernel: id.into(),
                schema_version: 1,
                params: Default::default(),
                metadata: Default::default(),
            };
            let input = ex.allocate(TensorDesc::packed(DType::U8, h, w, 1)).unwrap();
            let dtype = if id == "connected_components" {
                DType::I32
            } else {
                DType::U8
            };
            let out = ex.allocate(TensorDesc::packed(dtype, h, w, 1)).unwrap();
            for seed in [1, 0xdead_beef, 7] {
                let img = image(seed);
                ex.upload(input, &img.data.to_ne_bytes()).unwrap();
                ex.execute(&step, &[input], Some(out)).unwrap();
                let spec = kernel(id).unwrap();
                let params = spec.resolve(std::iter::empty()).unwrap();
                let call = KernelCall::parse(id, &params, DType::U8).unwrap().unwrap();
                let fresh = ops::execute(&call, &img, None).unwrap().image.unwrap();
                assert_eq!(ex.image(out).unwrap(), &fresh, "{id}, seed {seed}");
            }
        }
    }

    /// The output's old buffer is lent to the kernel only once the step is validated, so a
    /// rejected step leaves the output's content as it was.
    #[test]
    fn a_failed_step_leaves_its_output_as_it_was() {
        let mut ex = CpuExecutor::new();
        let desc = TensorDesc::packed(DType::F32, 4, 5, 1);
        let (input, out) = (ex.allocate(desc).unwrap(), ex.allocate(desc).unwrap());
        let values: Vec<f32> = (0..20).map(|i| i as f32 * 0.5).collect();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
        ex.upload(input, &bytes).unwrap();
        let mut step = StepCall {
            name: "t".into(),
            kernel: "threshold".into(),
            schema_version: 1,
            params: Default::default(),
            metadata: Default::default(),
        };
        ex.execute(&step, &[input], Some(out)).unwrap();
        let before = ex.image(out).unwrap().clone();
        // f32 medians stop at 5x5: rejected before the output's buffer is lent to the kernel.
        step.kernel = "median_blur".into();
        step.params =
            yam_plugin_api::ParamSet::default().with("ksize", yam_plugin_api::ParamValue::Int(7));
        let e = ex.execute(&step, &[input], Some(out)).unwrap_err();
        assert!(e.message.contains('7'), "{e}");
        assert_eq!(ex.image(out).unwrap(), &before);
    }

    #[test]
    fn undeclared_kernel_and_wrong_dtype_are_errors() {
        let mut ex = CpuExecutor::new();
        let buf = ex
            .allocate(TensorDesc::packed(DType::F32, 2, 2, 1))
            .unwrap();
        ex.upload(buf, &[0u8; 16]).unwrap();
        let mut step = StepCall {
            name: "s".into(),
            kernel: "canny".into(),
            schema_version: 1,
            params: Default::default(),
            metadata: Default::default(),
        };
        // Every catalogue kernel is implemented now, so an unknown id stands in for an
        // undeclared one.
        let e = ex.execute(&step, &[buf], Some(buf)).unwrap_err();
        assert!(e.message.contains("input dtype"), "{e}");
        step.kernel = "connected_components".into();
        let e = ex.execute(&step, &[buf], Some(buf)).unwrap_err();
        assert!(e.message.contains("input dtype"), "{e}");
        step.kernel = "no_such_kernel".into();
        let e = ex.execute(&step, &[buf], None).unwrap_err();
        assert_eq!(e.kind(), yam_plugin_api::ErrorKind::Unsupported);
        assert!(e.message.contains("unknown kernel"), "{e}");
    }
}
