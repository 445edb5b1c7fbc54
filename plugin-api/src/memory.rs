//! Host-memory hints shared by the host and the CPU backend.

/// Asks Linux to back `v` with 2 MiB pages (where the system grants them on request, as
/// Debian's default `madvise` mode does): an image streamed through a kernel then needs one TLB
/// entry per 2 MiB instead of per 4 KiB, and one page fault per 2 MiB when first written.
/// NumPy does the same for its arrays, so OpenCV's outputs get them too. Best called before
/// the memory is first written; a hint only, so failures are ignored. Small buffers and other
/// systems: nothing.
pub fn huge_pages<T>(v: &mut [T]) {
    const HUGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(v);
    if bytes < 2 * HUGE {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let start = v.as_mut_ptr() as usize;
        let (first, end) = (start.next_multiple_of(HUGE), (start + bytes) / HUGE * HUGE);
        if end > first {
            // SAFETY: the range lies inside `v`'s allocation; MADV_HUGEPAGE changes no contents
            // or permissions.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
}
