//! `genrep train`: build a task, train a model on it, and write a run directory.

use super::data::TaskArgs;
use super::progress::Progress;
use clap::{Args, ValueEnum};
use genrep::models::{parse_device, ModelSpec};
use genrep::trainer::{train_run, OptimizerConfig, RunConfig, RunDir, StepInfo, StepObserver, TrainConfig};
use std::path::PathBuf;

/// Optimiser choice on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OptimizerArg {
    /// Stochastic gradient descent (with --momentum, default 0 = plain SGD).
    Sgd,
    /// Adam.
    Adam,
}

/// Arguments of `genrep train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    /// Architecture: vision-cnn or text-cnn (default: by the task's input type).
    #[arg(long)]
    pub model: Option<String>,
    /// text-cnn: standard deviation of the embedding's initial N(0, s^2) entries (default: burn's
    /// N(0, 1)); 0 starts every word vector at zero.
    #[arg(long)]
    pub embed_init_std: Option<f32>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f64,
    /// Optimiser.
    #[arg(long, value_enum, default_value_t = OptimizerArg::Sgd)]
    pub optimizer: OptimizerArg,
    /// SGD momentum (0 = plain SGD, which makes tracking representers exact).
    #[arg(long, default_value_t = 0.0)]
    pub momentum: f64,
    /// Minibatch size.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// L2 weight decay.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// L2 penalty lambda |Theta|^2 on the last layer only (Theorem 3.1 of the 2018 representer
    /// paper: the logits then decompose into representer values at a stationary point).
    #[arg(long, default_value_t = 0.0)]
    pub last_layer_l2: f64,
    /// Learning-rate schedule: constant, or linear-decay (lr (1 - t/T) at step t of T).
    #[arg(long, default_value = "constant", value_parser = parse_schedule)]
    pub schedule: genrep::trainer::LrSchedule,
    /// Seed of the initial weights and the minibatch order.
    #[arg(long, default_value_t = 0)]
    pub train_seed: u64,
    /// Device: cpu (= flex, default), ndarray, or wgpu (needs --features wgpu).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Output run directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing run directory (its record, checkpoints, metrics and cache are removed
    /// first, so nothing of the old run survives).
    #[arg(long)]
    pub force: bool,
    /// Skip the per-epoch checkpoints (init, middle and final are always written).
    #[arg(long)]
    pub no_epoch_checkpoints: bool,
    /// Keep the raw per-step log of loss derivatives in record.json.
    #[arg(long)]
    pub keep_step_log: bool,
}

/// A progress bar over optimiser steps showing the running loss and accuracy.
struct ProgressObserver {
    bar: Progress,
    loss: f64,
    acc: f64,
}

impl StepObserver for ProgressObserver {
    fn on_step(&mut self, s: &StepInfo<'_>) {
        // Exponential moving averages keep the display steady.
        let a = if s.step == 0 { 1.0 } else { 0.05 };
        self.loss = (1.0 - a) * self.loss + a * s.loss;
        self.acc = (1.0 - a) * self.acc + a * s.correct as f64 / s.batch_indices.len().max(1) as f64;
        self.bar.set_message(format!("epoch {} loss {:.4} acc {:.3}", s.epoch + 1, self.loss, self.acc));
        self.bar.inc();
    }
}

/// Runs `genrep train`.
pub fn run(args: TrainArgs, data: &super::DataSource) -> anyhow::Result<()> {
    let run = RunDir::new(&args.out);
    // Held until training ends: a second `train` on the same --out is refused, not interleaved.
    let lock = genrep::trainer::DirLock::acquire(&args.out, "train")?;
    if let Some(stale) = &lock.stale {
        tracing::warn!("note: taking over the lock of a process that is gone ({stale})");
    }
    if run.is_complete() && !args.force {
        anyhow::bail!("{} already holds a run; pass --force to replace it", args.out.display());
    }
    if run.config_path().exists() && !run.is_complete() {
        tracing::warn!("note: {} holds an interrupted run (no metrics.json); training it again", args.out.display());
    }
    let device = parse_device(&args.device)?;
    let (spec, task_options) = args.task.resolve()?;
    let optimizer = match args.optimizer {
        OptimizerArg::Sgd => OptimizerConfig::Sgd { momentum: args.momentum },
        OptimizerArg::Adam => OptimizerConfig::adam(),
    };
    let train_cfg = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        optimizer,
        weight_decay: args.weight_decay,
        seed: args.train_seed,
        checkpoint_every_epoch: !args.no_epoch_checkpoints,
        last_layer_l2: args.last_layer_l2,
        exclusion: Default::default(),
        schedule: args.schedule,
    };
    train_cfg.validate()?;

    let dir = data.resolve()?;
    tracing::info!("building task {spec} from {}", dir.path.display());
    let task = genrep::data::build_task(&dir, &spec, &task_options)?;
    let mut model_spec = match &args.model {
        Some(name) => ModelSpec::for_examples(name, &task.train, task.num_classes())?,
        None => ModelSpec::default_for(&task.train, task.num_classes())?,
    };
    if let Some(std) = args.embed_init_std {
        match &mut model_spec {
            ModelSpec::TextCnn(c) => c.embed_init_std = Some(std),
            other => anyhow::bail!("--embed-init-std applies to text-cnn only, not {}", other.name()),
        }
    }
    tracing::info!(
        "task {}: {} train / {} test examples, {} classes; model {} parameters",
        task.spec,
        task.train.len(),
        task.test.len(),
        task.num_classes(),
        model_spec.num_params()
    );
    let run_cfg = RunConfig {
        task: task.spec.clone(),
        task_options,
        model: model_spec,
        train: train_cfg.clone(),
        device: args.device.clone(),
    };
    let bar = Progress::new(train_cfg.total_steps(task.train.len()), "steps")?;
    let mut progress = ProgressObserver { bar, loss: 0.0, acc: 0.0 };
    let outcome = train_run(
        &run,
        &run_cfg,
        &task.train,
        Some(&task.test),
        &device,
        true,
        args.keep_step_log,
        &mut [&mut progress],
    )?;
    progress.bar.finish();
    for m in &outcome.history {
        tracing::info!(
            "epoch {}: train loss {:.4}, train acc {:.4}, test acc {}, {:.1}s",
            m.epoch + 1,
            m.train_loss,
            m.train_accuracy,
            m.test_accuracy.map(|a| format!("{a:.4}")).unwrap_or_else(|| "-".into()),
            m.seconds
        );
    }
    let (_, train_acc) = genrep::trainer::evaluate(&outcome.model, &task.train, 256, &device);
    let test_acc = outcome.history.last().and_then(|m| m.test_accuracy).unwrap_or(0.0);
    println!("final train accuracy {train_acc:.4}, test accuracy {test_acc:.4}; run written to {}", args.out.display());
    Ok(())
}

/// Parses `--schedule`.
pub fn parse_schedule(s: &str) -> Result<genrep::trainer::LrSchedule, String> {
    match s {
        "constant" => Ok(genrep::trainer::LrSchedule::Constant),
        "linear-decay" | "linear" => Ok(genrep::trainer::LrSchedule::LinearDecay),
        other => Err(format!("`{other}`: expected constant or linear-decay")),
    }
}
