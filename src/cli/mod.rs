//! Argument parsing and dispatch of the `genrep` subcommands.

mod bench;
mod bench_explain;
mod bench_grads;
mod data;
mod debug;
mod experiment;
mod explain;
mod progress;
mod sensitivity;
mod train;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// genrep: train models and explain their predictions by training examples.
#[derive(Debug, Parser)]
#[command(name = "genrep", version, about, long_about = None)]
pub struct Cli {
    /// Directory holding the datasets (default: $GENREP_DATA, else ./datasets).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Log more (`-v`: debug, `-vv`: trace); `RUST_LOG` (e.g. `genrep_explain=debug`) overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect the datasets.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Train a model on a task and write a run directory (config, checkpoints, record, metrics).
    Train(train::TrainArgs),
    /// Explain test predictions of a trained run by its training examples.
    Explain(explain::ExplainArgs),
    /// Sensitivity map of a representer value: which test pixels make a training image matter.
    Sensitivity(sensitivity::SensitivityArgs),
    /// Dataset debugging: flip labels, train, and rank training points for inspection (2018 paper).
    Debug(debug::DebugArgs),
    /// Deletion diagnostics (DEL, AUC-DEL): reproduce Table 1 of the generalized-representer paper.
    Experiment(experiment::ExperimentArgs),
    /// Measure performance (training throughput per device).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Data(cmd) => data::run(cmd, cli.data_dir.as_deref()),
        Command::Train(args) => train::run(args, cli.data_dir.as_deref()),
        Command::Explain(args) => explain::run(args, cli.data_dir.as_deref()),
        Command::Sensitivity(args) => sensitivity::run(args, cli.data_dir.as_deref()),
        Command::Debug(args) => debug::run(args, cli.data_dir.as_deref()),
        Command::Experiment(args) => experiment::run(args, cli.data_dir.as_deref()),
        Command::Bench(cmd) => bench::run(cmd, cli.data_dir.as_deref()),
    }
}

/// A comma-separated list of method specs, each keeping its own `@key=value,..` settings.
#[derive(Debug, Clone)]
pub struct Methods(pub Vec<String>);

/// Parses `--methods` ([`genrep::explain::split_method_list`]); an empty list is an error.
fn parse_methods(s: &str) -> Result<Methods, String> {
    let v = genrep::explain::split_method_list(s);
    if v.is_empty() {
        return Err("expected at least one method name".into());
    }
    Ok(Methods(v))
}
