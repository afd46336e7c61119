//! The `referrald` binary: everything lives in the library; see [`referrald::cli`].

fn main() -> std::process::ExitCode {
    referrald::cli::main()
}
