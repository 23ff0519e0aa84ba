//! The `genrep` command-line interface.

mod cli;

/// mimalloc instead of glibc malloc: burn allocates and frees large tensor buffers on every op,
/// and glibc hands them back to the kernel each time (about 30% of a training step went to page
/// faults; see docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Library errors already carry their cause and the file they concern in one line.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
