//! The `shopforce` binary: parses the command line and hands over to [`shopforce::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    shopforce::cli::main()
}
