//! The `shopforce` binary: parses the command line and hands over to [`shopforce::cli`].

use std::process::ExitCode;

/// mimalloc instead of the system allocator: the emulator and the sync pipeline allocate
/// and free millions of small strings per job, where glibc's allocator spends a third of
/// the time consolidating free chunks (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    shopforce::cli::main()
}
