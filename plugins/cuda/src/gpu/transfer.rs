//! Host <-> device copies through pinned blocks. A large image moves in chunks through two
//! blocks, so the host's copy between pageable memory and one block overlaps the DMA of the
//! other: a 64 MiB label image then costs about one host copy instead of a host copy plus a
//! DMA. Those host copies are split over a few threads (`YAM_CUDA_COPY_THREADS`, default
//! up to 4): one core copies at a fraction of the machine's memory bandwidth.

use cudarc::driver::{result, CudaEvent};
use rayon::prelude::*;
use yam_plugin_api::gpu::staging::HostBlock;

use super::{Gpu, Pinned};
use crate::error::CuError;

/// Bytes per chunk of a large transfer; anything up to two chunks moves in one piece.
const CHUNK: usize = 4 << 20;

impl Gpu {
    /// Copies `bytes` to device address `dst`, queued: the host does not wait for earlier work
    /// (a pinned block is reused only after the next wait), except that a large upload waits
    /// for its own chunk two steps back before refilling that block.
    pub fn upload_bytes(&mut self, dst: u64, bytes: &[u8]) -> Result<(), CuError> {
        if bytes.len() <= 2 * CHUNK {
            let block = self.pinned(bytes.len())?;
            let r = self.upload_chunk(&block, dst, bytes, None);
            self.staging.queued(block);
            return r;
        }
        let blocks = [self.pinned(CHUNK)?, self.pinned(CHUNK)?];
        let events = self.events();
        let r = events.and_then(|events| {
            for (i, chunk) in bytes.chunks(CHUNK).enumerate() {
                if i >= 2 {
                    events[i % 2]
                        .synchronize()
                        .map_err(CuError::driver("waiting for a copy to the device"))?;
                }
                let at = dst + (i * CHUNK) as u64;
                self.upload_chunk(&blocks[i % 2], at, chunk, Some(&events[i % 2]))?;
            }
            Ok(())
        });
        let [a, b] = blocks;
        self.staging.queued(a);
        self.staging.queued(b);
        r
    }

    /// Fills `block` with `bytes` and queues its copy to `dst`, then records `done`.
    fn upload_chunk(
        &self,
        block: &Pinned,
        dst: u64,
        bytes: &[u8],
        done: Option<&CudaEvent>,
    ) -> Result<(), CuError> {
        // SAFETY: the block holds at least `bytes.len()` bytes and no queued copy reads it
        // (a fresh block, or its previous copy was waited for).
        let host = unsafe { std::slice::from_raw_parts_mut(block.ptr(), bytes.len()) };
        self.copy_host(host, bytes);
        // SAFETY: `dst` lies in a device allocation with room for `host.len()` bytes (checked
        // by the executor); the block stays allocated and untouched until the copy is done.
        unsafe { result::memcpy_htod_async(dst, &*host, self.stream.cu_stream()) }
            .map_err(CuError::driver("copying to the device"))?;
        match done {
            Some(e) => e
                .record(&self.stream)
                .map_err(CuError::driver("recording a copy to the device")),
            None => Ok(()),
        }
    }

    /// Copies `out.len()` bytes from device address `src` into `out`, waiting for the queue.
    pub fn download_bytes(&mut self, src: u64, out: &mut [u8]) -> Result<(), CuError> {
        let chunk = if out.len() <= 2 * CHUNK {
            out.len()
        } else {
            CHUNK
        };
        let count = out.len().div_ceil(chunk.max(1)).max(1);
        let mut blocks = vec![self.pinned(chunk)?];
        if count > 1 {
            blocks.push(self.pinned(chunk)?);
        }
        let r = self
            .events()
            .and_then(|events| self.download_chunks(src, out, chunk, &blocks, &events))
            .and_then(|()| self.wait());
        for block in blocks {
            if r.is_ok() {
                self.staging.give_back(block);
            } else {
                // After a failed copy the stream may still write into the block.
                self.staging.queued(block);
            }
        }
        r
    }

    /// Chunk i goes through block i % 2 (one block when there is one chunk): chunk i + 1 is
    /// in flight while the host copies chunk i out.
    fn download_chunks(
        &self,
        src: u64,
        out: &mut [u8],
        chunk: usize,
        blocks: &[Pinned],
        events: &[CudaEvent; 2],
    ) -> Result<(), CuError> {
        let len = out.len();
        let count = len.div_ceil(chunk.max(1)).max(1);
        let span = move |i: usize| i * chunk..((i + 1) * chunk).min(len);
        let queue = |i: usize| -> Result<(), CuError> {
            let range = span(i);
            // SAFETY: the block holds at least one chunk, and the host reads it only after
            // this copy's event.
            let host = unsafe { std::slice::from_raw_parts_mut(blocks[i % 2].ptr(), range.len()) };
            // SAFETY: `src` lies in a device allocation of at least `out.len()` bytes.
            unsafe {
                result::memcpy_dtoh_async(host, src + range.start as u64, self.stream.cu_stream())
            }
            .map_err(CuError::driver("copying from the device"))?;
            events[i % 2]
                .record(&self.stream)
                .map_err(CuError::driver("recording a copy from the device"))
        };
        for i in 0..count.min(2) {
            queue(i)?;
        }
        for i in 0..count {
            events[i % 2]
                .synchronize()
                .map_err(CuError::driver("waiting for a copy from the device"))?;
            let range = span(i);
            // SAFETY: the copy into this block is done and nothing else writes it.
            let host = unsafe { std::slice::from_raw_parts(blocks[i % 2].ptr(), range.len()) };
            self.copy_host(&mut out[range], host);
            if i + 2 < count {
                queue(i + 2)?;
            }
        }
        Ok(())
    }

    fn events(&self) -> Result<[CudaEvent; 2], CuError> {
        let make = || {
            self.ctx
                .new_event(None)
                .map_err(CuError::driver("creating an event"))
        };
        Ok([make()?, make()?])
    }

    /// `dst.copy_from_slice(src)`, in parts on the copy threads when it is large.
    fn copy_host(&self, dst: &mut [u8], src: &[u8]) {
        const PART: usize = 512 << 10;
        match &self.copy_pool {
            Some(pool) if dst.len() > PART => pool.install(|| {
                dst.par_chunks_mut(PART)
                    .zip(src.par_chunks(PART))
                    .for_each(|(d, s)| d.copy_from_slice(s));
            }),
            _ => dst.copy_from_slice(src),
        }
    }
}

/// The copy threads: `YAM_CUDA_COPY_THREADS`, else up to 4 (half the cores); none for 1.
pub(super) fn copy_pool() -> Option<rayon::ThreadPool> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = std::env::var("YAM_CUDA_COPY_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or((cores / 2).clamp(1, 4));
    if threads <= 1 {
        return None;
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("yam-cuda-copy-{i}"))
        .build()
        .ok()
}
