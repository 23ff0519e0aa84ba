//! The `genrep` command-line interface.

mod cli;

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
