//! The `yam` binary.

fn main() -> std::process::ExitCode {
    // Like other Unix tools, stop quietly when the reader of stdout goes away
    // (`yam plugins list | head`) instead of panicking on a broken pipe. Rust ignores SIGPIPE
    // by default; the default action ends the process.
    // SAFETY: called first thing, before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    keep_freed_images();
    yam_host::cli::main()
}

/// Images are tens of MiB; glibc maps every allocation over 32 MiB afresh and returns it on
/// free, so each new image of that size pays a page fault per 4 KiB (about as long as the
/// kernel that fills it). Serving them from the heap and keeping up to 512 MiB of freed memory
/// lets the next image reuse those pages, as a batch of images or repeated runs do.
fn keep_freed_images() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 512 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
