//! The `yam` binary.

#[global_allocator]
static ALLOCATOR: yam_host::huge_alloc::LargeOnHugePages = yam_host::huge_alloc::LargeOnHugePages;

fn main() -> std::process::ExitCode {
    // Like other Unix tools, stop quietly when the reader of stdout goes away
    // (`yam plugins list | head`) instead of panicking on a broken pipe. Rust ignores SIGPIPE
    // by default; the default action ends the process.
    // SAFETY: called first thing, before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    keep_freed_images();
    yam_host::cli::main()
}

/// Blocks of 4 MiB and more are `huge_alloc`'s, which keeps them for reuse. Smaller ones
/// (small images, rows, tables) are glibc's, which maps those over its threshold afresh and
/// returns them on free, so each new one pays a page fault per 4 KiB: serving them from the heap
/// and keeping up to 512 MiB of freed memory lets the next one reuse those pages.
fn keep_freed_images() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 512 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
