//! The `yam` binary's allocator: the system's for everything but large buffers, which get
//! whole 2 MiB pages and are kept for reuse when freed.
//!
//! An image streamed through a memory-bound kernel runs measurably faster on 2 MiB pages than
//! on 4 KiB ones (a 16 MiB copy on this project's bench machine: 1.19 ms vs 1.40 ms). Only
//! whole aligned 2 MiB pages can be huge, and glibc's heap puts a 16 MiB buffer at any
//! address, leaving up to 2 MiB at each end on small pages; asking glibc for 2 MiB-aligned
//! blocks instead fragments its heap, which then grows by every pipeline run. So large blocks
//! are mapped here, aligned, and a freed one is kept (up to [`KEEP_BYTES`]) for the next
//! request of its size, as a pipeline's next image or step makes: reusing it costs no page
//! faults, which for a fresh 16 MiB buffer take about as long as a kernel filling it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;

const HUGE_PAGE: usize = 2 << 20;

/// Blocks of at least this many bytes are mapped here (the size from which
/// `memory::huge_pages` asks for huge pages).
const LARGE: usize = 2 * HUGE_PAGE;

/// Freed large blocks kept for reuse at most, in bytes and in number; beyond that the oldest
/// goes back to the system.
const KEEP_BYTES: usize = 512 << 20;
const KEEP_BLOCKS: usize = 16;

/// [`System`], with blocks of [`LARGE`] bytes or more mapped on 2 MiB boundaries, offered huge
/// pages, and kept for reuse when freed.
#[derive(Debug, Default)]
pub struct LargeOnHugePages;

static FREED: Mutex<FreedBlocks> = Mutex::new(FreedBlocks::new());

/// The mapped length of a large block of `layout`, or `None` if `System` serves it.
fn large_len(layout: Layout) -> Option<usize> {
    let large = cfg!(target_os = "linux") && layout.size() >= LARGE && layout.align() <= HUGE_PAGE;
    large.then(|| layout.size().next_multiple_of(HUGE_PAGE))
}

/// Freed large blocks, oldest first.
#[derive(Debug)]
struct FreedBlocks {
    blocks: [(usize, usize); KEEP_BLOCKS],
    count: usize,
    bytes: usize,
}

impl FreedBlocks {
    const fn new() -> Self {
        FreedBlocks {
            blocks: [(0, 0); KEEP_BLOCKS],
            count: 0,
            bytes: 0,
        }
    }

    /// The most recently freed block of exactly `len` bytes (the likeliest still in cache).
    fn take(&mut self, len: usize) -> Option<usize> {
        let i = (0..self.count).rev().find(|&i| self.blocks[i].1 == len)?;
        let (addr, _) = self.blocks[i];
        self.remove(i);
        Some(addr)
    }

    /// Keeps the block at `addr`, handing `drop_block` the blocks that no longer fit (`addr`
    /// itself when it is larger than everything kept). No allocation: this runs inside one.
    fn keep(&mut self, addr: usize, len: usize, mut drop_block: impl FnMut(usize, usize)) {
        if len > KEEP_BYTES {
            return drop_block(addr, len);
        }
        while self.count == KEEP_BLOCKS || self.bytes + len > KEEP_BYTES {
            let (old, old_len) = self.blocks[0];
            self.remove(0);
            drop_block(old, old_len);
        }
        self.blocks[self.count] = (addr, len);
        self.count += 1;
        self.bytes += len;
    }

    fn remove(&mut self, i: usize) {
        self.bytes -= self.blocks[i].1;
        self.blocks.copy_within(i + 1..self.count, i);
        self.count -= 1;
    }
}

#[cfg(target_os = "linux")]
mod pages {
    use super::HUGE_PAGE;

    /// Maps `len` bytes (a multiple of 2 MiB) of zeros at a 2 MiB boundary, with huge pages
    /// asked for before the first write; null if the system refuses.
    pub(super) fn map(len: usize) -> *mut u8 {
        let span = len + HUGE_PAGE;
        // SAFETY: a fresh private anonymous mapping; the unaligned head and tail of it are
        // unmapped, leaving exactly [aligned, aligned + len), which is advised.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                span,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return std::ptr::null_mut();
            }
            let start = p as usize;
            let aligned = start.next_multiple_of(HUGE_PAGE);
            let head = aligned - start;
            if head > 0 {
                libc::munmap(p, head);
            }
            let tail = span - head - len;
            if tail > 0 {
                libc::munmap((aligned + len) as *mut libc::c_void, tail);
            }
            libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
            aligned as *mut u8
        }
    }

    /// Returns a block from [`map`] to the system.
    pub(super) fn unmap(addr: usize, len: usize) {
        // SAFETY: the block was mapped by `map` with this length and is no longer used.
        unsafe { libc::munmap(addr as *mut libc::c_void, len) };
    }
}

#[cfg(not(target_os = "linux"))]
mod pages {
    // `large_len` is never `Some` here.
    pub(super) fn map(_: usize) -> *mut u8 {
        std::ptr::null_mut()
    }
    pub(super) fn unmap(_: usize, _: usize) {}
}

impl LargeOnHugePages {
    /// A large block of `len` bytes, and whether it is freshly mapped (so already zero).
    fn large(&self, len: usize) -> (*mut u8, bool) {
        let kept = FREED.lock().unwrap_or_else(|e| e.into_inner()).take(len);
        match kept {
            Some(addr) => (addr as *mut u8, false),
            None => (pages::map(len), true),
        }
    }
}

// SAFETY: a layout with `large_len(layout) == None` is served by `System` both ways; one with
// `Some(len)` by a block of `len >= size` bytes on a 2 MiB boundary (so aligned as asked),
// mapped here or kept from an earlier free of the same `len`, and never handed out twice.
unsafe impl GlobalAlloc for LargeOnHugePages {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match large_len(layout) {
            Some(len) => self.large(len).0,
            // SAFETY: forwarded unchanged.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let Some(len) = large_len(layout) else {
            // SAFETY: forwarded unchanged.
            return unsafe { System.alloc_zeroed(layout) };
        };
        let (p, fresh) = self.large(len);
        if !p.is_null() && !fresh {
            // SAFETY: `p` holds `len >= layout.size()` bytes.
            unsafe { std::ptr::write_bytes(p, 0, layout.size()) };
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match large_len(layout) {
            Some(len) => FREED.lock().unwrap_or_else(|e| e.into_inner()).keep(
                ptr as usize,
                len,
                pages::unmap,
            ),
            // SAFETY: `ptr` came from `System` with this layout.
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract: `ptr` is live with `layout`, `new_size` is valid for
        // its alignment.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            match (large_len(layout), large_len(new_layout)) {
                (None, None) => return System.realloc(ptr, layout, new_size),
                // The block already has room.
                (Some(old), Some(new)) if old == new => return ptr,
                _ => {}
            }
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The allocator under test is called directly (the test binary itself uses the default
    // one); each test uses its own sizes, as tests run in parallel and share the freed blocks.

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 8).unwrap()
    }

    #[test]
    fn large_blocks_are_aligned_to_huge_pages_and_reused() {
        let a = LargeOnHugePages;
        let size = 3 * LARGE + 5;
        // SAFETY: each block is used within its size and freed with its layout.
        unsafe {
            let p = a.alloc(layout(size));
            assert!(!p.is_null());
            assert_eq!(p as usize % HUGE_PAGE, 0);
            p.add(size - 1).write(1);
            a.dealloc(p, layout(size));
            // The same rounded length gets the freed block back, dirty, and zeroed on request.
            let q = a.alloc_zeroed(layout(size - 3));
            assert_eq!(q, p);
            assert!(std::slice::from_raw_parts(q, size - 3)
                .iter()
                .all(|&b| b == 0));
            a.dealloc(q, layout(size - 3));
        }
    }

    #[test]
    fn small_blocks_are_left_to_the_system() {
        let a = LargeOnHugePages;
        assert_eq!(large_len(layout(LARGE - 1)), None);
        assert_eq!(large_len(layout(LARGE)), Some(LARGE));
        // SAFETY: used within its size, freed with its layout.
        unsafe {
            let p = a.alloc(layout(100));
            p.write_bytes(5, 100);
            let q = a.realloc(p, layout(100), 200);
            assert!(std::slice::from_raw_parts(q, 100).iter().all(|&b| b == 5));
            a.dealloc(q, layout(200));
        }
    }

    #[test]
    fn realloc_keeps_contents_across_sizes() {
        let a = LargeOnHugePages;
        // SAFETY: each block is used within its size and freed with its layout.
        unsafe {
            let p = a.alloc(layout(1000));
            p.write_bytes(7, 1000);
            // Small -> large -> larger -> same rounded length -> small.
            let sizes = [LARGE + 100, 2 * LARGE + 7, 2 * LARGE + 9, 500];
            let mut cur = (p, 1000);
            for size in sizes {
                let q = a.realloc(cur.0, layout(cur.1), size);
                assert!(!q.is_null());
                if size >= LARGE {
                    assert_eq!(q as usize % HUGE_PAGE, 0);
                }
                let common = cur.1.min(size).min(1000);
                assert!(std::slice::from_raw_parts(q, common)
                    .iter()
                    .all(|&b| b == 7));
                cur = (q, size);
            }
            a.dealloc(cur.0, layout(cur.1));
        }
    }

    #[test]
    fn freed_blocks_are_bounded_in_bytes_and_number() {
        let mut f = FreedBlocks::new();
        let mut dropped = Vec::new();
        for i in 0..KEEP_BLOCKS + 3 {
            f.keep(i, LARGE, |a, l| dropped.push((a, l)));
        }
        // Oldest first out, once the slots are full.
        assert_eq!(dropped, [(0, LARGE), (1, LARGE), (2, LARGE)]);
        assert_eq!(f.count, KEEP_BLOCKS);
        let big = KEEP_BYTES - LARGE;
        let mut out = Vec::new();
        f.keep(1000, big, |a, l| out.push((a, l)));
        assert_eq!(
            f.bytes,
            f.blocks[..f.count].iter().map(|b| b.1).sum::<usize>()
        );
        assert!(f.bytes <= KEEP_BYTES, "{} kept", f.bytes);
        assert_eq!(
            out.len(),
            KEEP_BLOCKS - 1,
            "room for one small block beside it"
        );
        let mut too_big = Vec::new();
        f.keep(2000, KEEP_BYTES + 1, |a, l| too_big.push((a, l)));
        assert_eq!(too_big, [(2000, KEEP_BYTES + 1)]);
        assert_eq!(f.take(big), Some(1000));
        assert_eq!(f.take(big), None);
        assert_eq!(
            f.take(LARGE),
            Some(KEEP_BLOCKS + 2),
            "the most recent of a length"
        );
    }
}
