//! `genrep experiment`: deletion diagnostics (DEL, AUC-DEL) and Table 1 of Tsai et al. (2023).

use super::progress::Bars;
use anyhow::Context as _;
use clap::Args;
use genrep::experiments::{read_dir_rows, run as run_grid, Dataset, ExperimentConfig, RunOptions, Shard};
use genrep::models::parse_device;
use std::path::{Path, PathBuf};

/// Arguments of `genrep experiment`.
#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// Which table of the paper (only Table 1 exists).
    #[arg(long, default_value_t = 1)]
    pub table: u32,
    /// Preset: smoke (CI, minutes), quick (about an hour per dataset on 2 cores), paper (the full protocol).
    #[arg(long, default_value = "quick")]
    pub preset: String,
    /// What to measure: del (Table 1's deletion diagnostic, AUC-DEL) or lds (the linear
    /// datamodeling score: subset models per network instead of deletion retrainings).
    #[arg(long, default_value = "del", value_parser = ["del", "lds"])]
    pub metric: String,
    /// LDS: subset models per network (default: smoke 8, quick 50, paper 100).
    #[arg(long)]
    pub subsets: Option<usize>,
    /// LDS: fraction of the training set each subset model sees.
    #[arg(long)]
    pub subset_fraction: Option<f64>,
    /// Dataset: mnist, cifar10, toxicity or agnews.
    #[arg(long, required_unless_present_any = ["merge", "report_only"])]
    pub dataset: Option<String>,
    /// Output directory: experiment.json, rows*.jsonl, nets/, report.md, deletion-curves.svg.
    #[arg(long)]
    pub out: PathBuf,
    /// Run only part of the grid: shard i of N (0-based), e.g. 0/4 for a job array.
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Retrainings run in parallel (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Device: cpu (= flex), ndarray, or wgpu (needs --features wgpu).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Override the preset's number of networks.
    #[arg(long)]
    pub nets: Option<usize>,
    /// Override the preset's test points per network.
    #[arg(long)]
    pub tests_per_net: Option<usize>,
    /// Override the preset's methods (comma-separated `genrep explain` names, each with its own
    /// settings: `tracincp,representer@lambda=0.03,targets=labels`).
    #[arg(long, value_parser = super::parse_methods)]
    pub methods: Option<super::Methods>,
    /// Override the preset's training points per class.
    #[arg(long)]
    pub train_per_class: Option<usize>,
    /// Override the preset's training epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override the preset's learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Override the preset's minibatch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// How retrainings without the deleted points form their minibatches: shrink-batches (the
    /// deleted points' batches lose them; every other batch stays) or refill (batches are cut
    /// from the remaining order, so they stay full but all shift).
    #[arg(long, value_parser = parse_exclusion)]
    pub exclusion: Option<genrep::trainer::ExclusionProtocol>,
    /// Text datasets: standard deviation S of the text CNN's initial N(0, S^2) embedding
    /// (the AG News quick preset uses 0.1; otherwise burn's N(0, 1)).
    #[arg(long)]
    pub embed_init_std: Option<f32>,
    /// Override the preset's learning-rate schedule: constant or linear-decay.
    #[arg(long, value_parser = super::train::parse_schedule)]
    pub schedule: Option<genrep::trainer::LrSchedule>,
    /// Build the report from these directories' rows (e.g. shards run elsewhere) into --out
    /// instead of running anything.
    #[arg(long, num_args = 1..)]
    pub merge: Vec<PathBuf>,
    /// Only (re)write the report from the rows already in --out.
    #[arg(long)]
    pub report_only: bool,
}

/// The experiment the arguments describe: the preset, then the overrides.
fn config(args: &ExperimentArgs) -> anyhow::Result<ExperimentConfig> {
    if args.table != 1 {
        anyhow::bail!("--table {}: only Table 1 (deletion diagnostics) is implemented", args.table);
    }
    let name = args.dataset.as_deref().context("--dataset is required")?;
    let dataset: Dataset = name.parse()?;
    let mut cfg = match args.metric.as_str() {
        "lds" => ExperimentConfig::preset_lds(&args.preset, dataset)?,
        _ => ExperimentConfig::preset(&args.preset, dataset)?,
    };
    match cfg.lds.as_mut() {
        Some(l) => {
            if let Some(v) = args.subsets {
                l.subsets = v;
            }
            if let Some(v) = args.subset_fraction {
                l.fraction = v;
            }
        }
        None if args.subsets.is_some() || args.subset_fraction.is_some() => {
            anyhow::bail!("--subsets and --subset-fraction belong to --metric lds")
        }
        None => {}
    }
    if let Some(v) = args.nets {
        cfg.nets = v;
    }
    if let Some(v) = args.tests_per_net {
        cfg.tests_per_net = v;
    }
    if let Some(v) = &args.methods {
        cfg.methods = v.0.clone();
    }
    if let Some(v) = args.train_per_class {
        cfg.task_options.train_per_class = Some(v);
    }
    if let Some(v) = args.epochs {
        cfg.train.epochs = v;
    }
    if let Some(v) = args.lr {
        cfg.train.lr = v;
    }
    if let Some(v) = args.batch_size {
        cfg.train.batch_size = v;
    }
    if let Some(v) = args.exclusion {
        cfg.train.exclusion = v;
    }
    if let Some(v) = args.schedule {
        cfg.train.schedule = v;
    }
    if let Some(v) = args.embed_init_std {
        cfg.embed_init_std = Some(v);
    }
    cfg.validate()?;
    Ok(cfg)
}

fn parse_exclusion(s: &str) -> Result<genrep::trainer::ExclusionProtocol, String> {
    match s {
        "shrink-batches" | "shrink" => Ok(genrep::trainer::ExclusionProtocol::ShrinkBatches),
        "refill" => Ok(genrep::trainer::ExclusionProtocol::Refill),
        other => Err(format!("`{other}`: expected shrink-batches or refill")),
    }
}

fn report(out: &Path, cfg: &ExperimentConfig, rows: Vec<genrep::experiments::Row>) -> anyhow::Result<()> {
    println!("{}", genrep::experiments::report_dir(out, cfg, rows)?);
    tracing::info!("report written to {}", out.join("report.md").display());
    Ok(())
}

/// Runs `genrep experiment`.
pub fn run(args: ExperimentArgs, data: &super::DataSource) -> anyhow::Result<()> {
    if !args.merge.is_empty() {
        let (cfg, rows) = genrep::experiments::runner::merge(&args.merge, &args.out)?;
        tracing::info!(
            "merged {} rows from {} directories into {}",
            rows.len(),
            args.merge.len(),
            args.out.join("rows.jsonl").display()
        );
        return report(&args.out, &cfg, rows);
    }
    if args.report_only {
        let cfg = genrep::experiments::runner::read_config(&args.out)?;
        return report(&args.out, &cfg, read_dir_rows(&args.out)?);
    }
    let cfg = config(&args)?;
    let device = parse_device(&args.device)?;
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let opts = RunOptions {
        out: args.out.clone(),
        shard: args.shard,
        jobs,
        device,
        device_name: args.device.clone(),
        data: data.resolve()?,
    };
    let monitor = Bars::new()?;
    let start = std::time::Instant::now();
    let summary = run_grid(&cfg, &opts, &monitor)?;
    monitor.0.finish();
    tracing::info!(
        "shard {}: trained {} nets, {} explanations, {} retrainings, {} subset models ({} rows were already done) in {:.1}s",
        args.shard,
        summary.nets_trained,
        summary.rankings,
        summary.retrains,
        summary.subset_models,
        summary.skipped,
        start.elapsed().as_secs_f64()
    );
    report(&args.out, &cfg, read_dir_rows(&args.out)?)
}
