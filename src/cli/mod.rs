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

    /// Never download: a dataset file missing from the data directory is an error
    /// (also `GENREP_OFFLINE=1`). By default a missing file listed in `datasets/SHA256SUMS` is
    /// downloaded on first use, verified and written into the data directory.
    #[arg(long, global = true)]
    pub offline: bool,

    /// Base URL of a mirror of the `datasets/` folder to download missing files from
    /// (default: $GENREP_DATA_URL, else the original hosts where they serve genrep's files).
    #[arg(long, global = true, value_name = "URL")]
    pub data_url: Option<String>,

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

/// Where the datasets are and whether missing files are downloaded (the global flags).
#[derive(Debug, Clone)]
pub struct DataSource {
    dir: Option<PathBuf>,
    download: genrep::data::Download,
}

impl DataSource {
    /// The data directory of `--data-dir` (else `$GENREP_DATA`, else `./datasets`), downloading
    /// as `--offline` / `--data-url` (else the environment) say.
    pub fn resolve(&self) -> anyhow::Result<genrep::data::DataDir> {
        Ok(genrep::data::DataDir::resolve(self.dir.as_deref())?.with_download(self.download.clone()))
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    use genrep::data::Download;
    let download = match (cli.offline, cli.data_url) {
        (true, _) => Download::Offline,
        (false, Some(url)) => Download::OnFirstUse { mirror: Some(url) },
        (false, None) => Download::from_env(),
    };
    progress::show_downloads();
    let data = &DataSource { dir: cli.data_dir, download };
    match cli.command {
        Command::Data(cmd) => data::run(cmd, data),
        Command::Train(args) => train::run(args, data),
        Command::Explain(args) => explain::run(args, data),
        Command::Sensitivity(args) => sensitivity::run(args, data),
        Command::Debug(args) => debug::run(args, data),
        Command::Experiment(args) => experiment::run(args, data),
        Command::Bench(cmd) => bench::run(cmd, data),
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
