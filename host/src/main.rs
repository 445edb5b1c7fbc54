//! The `yam` binary.

fn main() -> std::process::ExitCode {
    // Like other Unix tools, stop quietly when the reader of stdout goes away
    // (`yam plugins list | head`) instead of panicking on a broken pipe. Rust ignores SIGPIPE
    // by default; the default action ends the process.
    // SAFETY: called first thing, before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    yam_host::cli::main()
}
