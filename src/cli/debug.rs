//! `genrep debug`: dataset debugging with flipped labels (Yeh et al. 2018, Section 4.1).

use super::data::TaskArgs;
use super::progress::Bars;
use anyhow::Context as _;
use clap::Args;
use genrep::experiments::debug::{debug_markdown, run_debug, write_debug, DebugConfig};
use genrep::models::parse_device;
use genrep::trainer::{OptimizerConfig, TrainConfig};
use std::path::PathBuf;

/// Arguments of `genrep debug`.
#[derive(Debug, Args)]
pub struct DebugArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    /// Fraction of training labels to flip.
    #[arg(long, default_value_t = 0.1)]
    pub flip: f64,
    /// Seed of the flips, the initialisation and the minibatch order.
    #[arg(long, default_value_t = 0)]
    pub flip_seed: u64,
    /// Training epochs.
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    /// Learning rate (plain SGD).
    #[arg(long, default_value_t = 0.05)]
    pub lr: f64,
    /// Minibatch size.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// L2 penalty of the representer fine-tune.
    #[arg(long, default_value_t = 3e-3, alias = "lambda")]
    pub last_layer_l2: f64,
    /// Damping of the last-layer influence Hessian.
    #[arg(long, default_value_t = 0.01)]
    pub damping: f64,
    /// Fractions checked for the accuracy-after-correction retrainings.
    #[arg(long, value_delimiter = ',', default_value = "0.05,0.1,0.2,0.3")]
    pub check: Vec<f64>,
    /// Device: cpu (= flex), ndarray, or wgpu (needs --features wgpu).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Output directory: run/, debug.md, debug-curves.csv/.png, debug-accuracy.csv, debug.json.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `genrep debug`.
pub fn run(args: DebugArgs, data: &super::DataSource) -> anyhow::Result<()> {
    let (task, task_options) = args.task.resolve()?;
    let cfg = DebugConfig {
        task,
        task_options,
        flip_fraction: args.flip,
        seed: args.flip_seed,
        train: TrainConfig {
            epochs: args.epochs,
            batch_size: args.batch_size,
            lr: args.lr,
            optimizer: OptimizerConfig::Sgd { momentum: 0.0 },
            seed: args.flip_seed,
            checkpoint_every_epoch: true,
            ..TrainConfig::default()
        },
        last_layer_l2: args.last_layer_l2,
        damping: args.damping,
        check_fractions: args.check.clone(),
    };
    if let Some(f) = cfg.check_fractions.iter().find(|f| !(0.0..=1.0).contains(*f)) {
        anyhow::bail!("--check: {f} is not a fraction in [0, 1]");
    }
    let device = parse_device(&args.device)?;
    let data = data.resolve()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let monitor = Bars::new()?;
    let report = run_debug(&cfg, &data, &device, &args.device, &args.out, &monitor)?;
    monitor.0.finish();
    write_debug(&args.out, &report)?;
    println!("{}", debug_markdown(&report));
    tracing::info!("wrote {}/debug.md, debug-curves.png, debug-curves.csv, debug-accuracy.csv", args.out.display());
    Ok(())
}
