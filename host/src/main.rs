//! The `yam` binary.

fn main() -> std::process::ExitCode {
    yam_host::cli::main()
}
