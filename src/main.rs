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
    // Messages on stderr as plain lines (no time or level prefix: they read like the tool's own
    // output); RUST_LOG or --verbose choose how much.
    let level = match args.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_level(false)
        .with_ansi(false)
        .init();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Library errors already carry their cause and the file they concern in one line.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
