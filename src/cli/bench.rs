//! `genrep bench train`: training throughput (examples/s) of the default model of a task on real
//! batches, through the library's own training loop ([`genrep::trainer::fit`]).
//!
//! Protocol, per device: build the task, take the first `steps * batch_size` training examples
//! (cycling if the split is smaller), initialise the default model with a fixed seed, run
//! `warmup` steps through `fit` (not timed), then `reps` timed calls of `fit` for one epoch of
//! exactly `steps` full batches each, carrying the model over. Every step is the library's real
//! step: gather the batch, forward, softmax cross-entropy and its derivative, backward,
//! optimiser update (plain SGD unless `--momentum`). Throughput of a repetition is
//! `steps * batch_size / wall seconds`; the summary gives the median, mean, standard deviation,
//! min and max over repetitions.
//!
//! `--profile` additionally times the phases of the same step separately (gather, forward +
//! read-back of the logits, host loss, backward, gradient collection + optimiser update) and
//! each layer of the vision CNN on its own (forward, and forward + backward), to show where
//! the time goes.

use super::data::TaskArgs;
use clap::{Args, Subcommand};
use genrep::experiments::bench::{bench_train, model_macs, profile_layers, profile_step, take_cycled, TrainBench};
use genrep::models::{parse_device, Architecture, ModelSpec};
use genrep::trainer::{try_init_seeded, Engine};

/// `genrep bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Training throughput (examples/s) of the default model of a task, per device.
    Train(TrainBenchArgs),
    /// Cost of explaining a test point per method on a trained run (the 2018 cost table).
    Explain(super::bench_explain::ExplainBenchArgs),
    /// Per-example gradient contractions/s: the batch-1 loop against the model's fast path.
    Grads(super::bench_grads::GradsBenchArgs),
}

/// Arguments of `genrep bench train`.
#[derive(Debug, Args)]
pub struct TrainBenchArgs {
    /// Devices to measure, comma-separated: cpu (= flex), ndarray, wgpu.
    #[arg(long, default_value = "cpu", value_delimiter = ',')]
    pub device: Vec<String>,
    /// Task whose training split supplies the batches (mnist:3-vs-8, mnist, cifar10, ...).
    #[arg(long, default_value = "mnist:3-vs-8")]
    pub task: String,
    /// Minibatch size.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Timed optimiser steps per repetition.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Untimed warm-up steps before the repetitions.
    #[arg(long, default_value_t = 5)]
    pub warmup: usize,
    /// Timed repetitions.
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f64,
    /// SGD momentum (0 = plain SGD).
    #[arg(long, default_value_t = 0.0)]
    pub momentum: f64,
    /// Seed of the initial weights and of the batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also time the phases of a step and each layer separately.
    #[arg(long)]
    pub profile: bool,
    /// Print the summary as one JSON object per device instead of text.
    #[arg(long)]
    pub json: bool,
    /// Token sequence length (text tasks).
    #[arg(long, default_value_t = 128)]
    pub seq_len: usize,
    /// Training points per class to take from (default: all).
    #[arg(long)]
    pub train_per_class: Option<usize>,
    /// `auto` (the model's fused CPU path on the CPU, the default) or `burn` (burn's autodiff).
    #[arg(long, default_value = "auto")]
    pub engine: String,
}

/// Runs a `genrep bench` subcommand.
pub fn run(cmd: BenchCommand, data: &super::DataSource) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Train(args) => train(args, data),
        BenchCommand::Explain(args) => super::bench_explain::run(args, data),
        BenchCommand::Grads(args) => super::bench_grads::run(args, data),
    }
}

fn train(args: TrainBenchArgs, data: &super::DataSource) -> anyhow::Result<()> {
    if args.profile {
        anyhow::ensure!(args.momentum == 0.0, "--profile times plain SGD only (omit --momentum)");
    }
    let devices: Vec<(String, burn::prelude::Device)> =
        args.device.iter().map(|d| Ok((d.clone(), parse_device(d)?))).collect::<anyhow::Result<_>>()?;
    let task_args = TaskArgs {
        task: args.task.clone(),
        train_per_class: args.train_per_class,
        test_per_class: Some(1),
        seed: 0,
        seq_len: args.seq_len,
        balance_train: false,
        tokenizer: None,
    };
    let (spec, options) = task_args.resolve()?;
    let task = genrep::data::build_task(&data.resolve()?, &spec, &options)?;
    let model_spec = ModelSpec::default_for(&task.train, task.num_classes())?;
    let bench = TrainBench {
        batch_size: args.batch_size,
        steps: args.steps,
        warmup: args.warmup,
        reps: args.reps,
        lr: args.lr,
        momentum: args.momentum,
        seed: args.seed,
        engine: match args.engine.as_str() {
            "auto" => Engine::Auto,
            "burn" => Engine::Burn,
            other => anyhow::bail!("--engine `{other}`: expected auto or burn"),
        },
        seq_len: args.seq_len,
    };
    tracing::info!(
        "bench train: task {} ({} train examples available), model {} ({} parameters), batch {}, \
         {} warm-up steps, {} reps x {} steps, lr {}, momentum {}",
        task.spec,
        task.train.len(),
        model_spec.name(),
        model_spec.num_params(),
        args.batch_size,
        args.warmup,
        args.reps,
        args.steps,
        args.lr,
        args.momentum
    );
    for (name, device) in &devices {
        let (result, model) = bench_train(&task, name, device, &bench)?;
        if args.json {
            println!("{}", serde_json::to_string(&result)?);
        } else {
            let s = &result.stats;
            println!(
                "genrep-{} {} batch {}: {:.1} examples/s median ({:.1} ms/step; mean {:.1} sd {:.1} min {:.1} max {:.1} \
                 over {} reps x {} steps after {} warm-up{})",
                if name == "cpu" { "flex" } else { name },
                result.architecture,
                result.batch_size,
                s.median,
                result.ms_per_step_median,
                s.mean,
                s.sd,
                s.min,
                s.max,
                result.reps,
                result.steps_per_rep,
                result.warmup_steps,
                result.gflops_median.map(|g| format!("; ~{g:.1} GFLOP/s")).unwrap_or_default()
            );
        }
        if args.profile {
            let timed = take_cycled(&task.train, args.steps * args.batch_size);
            let phases = profile_step(model, &timed, args.batch_size, args.lr, device)?;
            let total: f64 = phases.iter().map(|p| p.1).sum();
            println!("profile [{name}] one step, median over {} steps (ms):", timed.len().div_ceil(args.batch_size));
            for (p, m) in &phases {
                println!("  {p:<18} {m:8.2}  {:5.1}%", 100.0 * m / total);
            }
            println!("  {:<18} {total:8.2}  => {:.1} examples/s", "sum", 1e3 * args.batch_size as f64 / total);
            let fresh = try_init_seeded(device, args.seed, |d| model_spec.init(d))?;
            let reps = 10;
            let macs = model_macs(&model_spec, args.seq_len);
            if let Some(layers) = profile_layers(&fresh, &timed, args.batch_size, device, macs, reps)? {
                println!(
                    "profile [{name}] per layer, batch {}, median of {reps} (ms; autodiff device):",
                    args.batch_size
                );
                println!(
                    "  {:<12} {:>9} {:>9} {:>9}  {:>12} {:>12}",
                    "layer", "forward", "backward", "fwd+bwd", "fwd GFLOP/s", "bwd GFLOP/s"
                );
                let rate = |g: Option<f64>| g.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
                let mut tot = (0.0, 0.0);
                for l in &layers {
                    let (tf, tb) = (l.forward_ms, l.forward_backward_ms);
                    if l.layer != "pool1+relu" {
                        tot = (tot.0 + tf, tot.1 + tb);
                    }
                    let (gf, gb) = (rate(l.forward_gflops), rate(l.backward_gflops));
                    println!("  {:<12} {tf:9.2} {:9.2} {tb:9.2}  {gf:>12} {gb:>12}", l.layer, (tb - tf).max(0.0));
                }
                println!("  {:<12} {:9.2} {:9.2} {:9.2}  (without pool1+relu)", "sum", tot.0, tot.1 - tot.0, tot.1);
            }
        }
    }
    Ok(())
}
