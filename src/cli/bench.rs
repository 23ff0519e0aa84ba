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
use burn::prelude::*;
use clap::{Args, Subcommand};
use genrep::data::Examples;
use genrep::experiments::stats::Summary;
use genrep::models::Architecture;
use genrep::models::{parse_device, Classifier, Input, Model, ModelSpec};
use genrep::trainer::{
    build_optimizer, burn_step, fit, try_init_seeded, Engine, FitOptions, OptimizerConfig, TrainConfig,
    BURN_STEP_PHASES,
};
use std::time::Instant;

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

/// The first `n` examples of `ex`, cycling through it if it has fewer.
fn take_cycled(ex: &Examples, n: usize) -> Examples {
    let idx: Vec<usize> = (0..n).map(|i| i % ex.len()).collect();
    ex.select(&idx)
}

/// Multiply-accumulates of one dense forward pass of one example, per layer (text: sequences of
/// `seq_len` tokens; the embedding gather is not counted).
fn model_macs(spec: &ModelSpec, seq_len: usize) -> [(&'static str, f64); 3] {
    match spec {
        ModelSpec::VisionCnn(c) => {
            let k2 = (c.kernel * c.kernel) as f64;
            let [c1, c2] = c.channels.map(|v| v as f64);
            let (h, w, cin) = (c.height as f64, c.width as f64, c.in_channels as f64);
            [
                ("conv1", h * w * c1 * cin * k2),
                ("conv2", (h / 2.0) * (w / 2.0) * c2 * c1 * k2),
                ("head", c.feature_dim() as f64 * c.num_classes as f64),
            ]
        }
        ModelSpec::TextCnn(c) => {
            let (l, e, h, k) = (seq_len as f64, c.embed_dim as f64, c.hidden as f64, c.kernel as f64);
            [("conv1", l * h * e * k), ("conv2", l * h * h * k), ("head", h * c.num_classes as f64)]
        }
    }
}

/// One device's result.
#[derive(Debug, serde::Serialize)]
struct DeviceResult {
    device: String,
    task: String,
    architecture: String,
    batch_size: usize,
    steps_per_rep: usize,
    warmup_steps: usize,
    reps: usize,
    examples_per_s: Vec<f64>,
    stats: Summary,
    ms_per_step_median: f64,
    gflops_median: Option<f64>,
}

fn train(args: TrainBenchArgs, data: &super::DataSource) -> anyhow::Result<()> {
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    anyhow::ensure!(args.steps > 0, "--steps must be at least 1");
    anyhow::ensure!(args.reps > 0, "--reps must be at least 1");
    let devices: Vec<(String, Device)> =
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
    let dir = data.resolve()?;
    let task = genrep::data::build_task(&dir, &spec, &options)?;
    let model_spec = ModelSpec::default_for(&task.train, task.num_classes())?;
    let timed = take_cycled(&task.train, args.steps * args.batch_size);
    let warm = take_cycled(&task.train, args.warmup.max(1) * args.batch_size);
    let cfg = |epochs| TrainConfig {
        epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        optimizer: OptimizerConfig::Sgd { momentum: args.momentum },
        weight_decay: 0.0,
        seed: args.seed,
        checkpoint_every_epoch: false,
        last_layer_l2: 0.0,
        exclusion: Default::default(),
        schedule: Default::default(),
    };
    let cfg = cfg(1);
    let macs = Some(model_macs(&model_spec, args.seq_len));
    // Dense-equivalent training FLOPs per example: forward 2*MACs, backward about twice the
    // forward (input and weight gradients). The fused path does fewer (its backward through a
    // max-pool or max over time touches the kept positions only), so its "GFLOP/s" is the rate a
    // dense implementation would need to match it, the figure to set beside PyTorch's.
    let train_flops_per_example = macs.map(|m| 3.0 * 2.0 * m.iter().map(|(_, v)| v).sum::<f64>());
    tracing::info!(
        "bench train: task {} ({} train examples available), model {} ({} parameters), batch {}, \
         {} warm-up steps, {} reps x {} steps, lr {}, momentum {}",
        task.spec,
        task.train.len(),
        model_spec_name(&model_spec),
        model_spec.num_params(),
        args.batch_size,
        args.warmup,
        args.reps,
        args.steps,
        args.lr,
        args.momentum
    );

    let mut results = Vec::new();
    for (name, device) in &devices {
        let mut model = try_init_seeded(device, args.seed, |d| model_spec.init(d))?;
        let mut opts = FitOptions::new(device.clone());
        opts.engine = match args.engine.as_str() {
            "auto" => Engine::Auto,
            "burn" => Engine::Burn,
            other => anyhow::bail!("--engine `{other}`: expected auto or burn"),
        };
        if args.warmup > 0 {
            let t = Instant::now();
            model = fit(model, &warm, None, &cfg, &opts, &mut [])?.model;
            tracing::info!("  [{name}] warm-up: {} steps in {:.2}s", args.warmup, t.elapsed().as_secs_f64());
        }
        let mut rates = Vec::with_capacity(args.reps);
        for r in 0..args.reps {
            let t = Instant::now();
            let out = fit(model, &timed, None, &cfg, &opts, &mut [])?;
            let secs = t.elapsed().as_secs_f64();
            model = out.model;
            let rate = (out.steps * args.batch_size) as f64 / secs;
            let loss = out.history.last().map(|m| m.train_loss).unwrap_or(f64::NAN);
            tracing::info!(
                "  [{name}] rep {}: {} steps in {secs:.3}s = {rate:.1} examples/s ({:.1} ms/step), train loss {loss:.4}",
                r + 1,
                out.steps,
                1e3 * secs / out.steps as f64
            );
            rates.push(rate);
        }
        let stats = Summary::of(&rates);
        let result = DeviceResult {
            device: name.clone(),
            task: task.spec.to_string(),
            architecture: model.architecture(),
            batch_size: args.batch_size,
            steps_per_rep: args.steps,
            warmup_steps: args.warmup,
            reps: args.reps,
            ms_per_step_median: 1e3 * args.batch_size as f64 / stats.median,
            gflops_median: train_flops_per_example.map(|f| f * stats.median / 1e9),
            examples_per_s: rates,
            stats,
        };
        if args.json {
            println!("{}", serde_json::to_string(&result)?);
        } else {
            let s = &result.stats;
            println!(
                "genrep-{} {} batch {}: {:.1} examples/s median ({:.1} ms/step; mean {:.1} sd {:.1} min {:.1} max {:.1} \
                 over {} reps x {} steps after {} warm-up{})",
                backend_label(name),
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
            profile_step(model, &timed, &args, device, name)?;
            if let ModelSpec::VisionCnn(_) = model_spec {
                let m = try_init_seeded(device, args.seed, |d| model_spec.init(d))?;
                profile_layers(&m, &timed, args.batch_size, device, name, macs)?;
            }
        }
        results.push(result);
    }
    Ok(())
}

fn model_spec_name(spec: &ModelSpec) -> &'static str {
    match spec {
        ModelSpec::VisionCnn(_) => "vision-cnn",
        ModelSpec::TextCnn(_) => "text-cnn",
    }
}

fn backend_label(device: &str) -> &str {
    match device {
        "cpu" => "flex",
        other => other,
    }
}

/// Times the phases of the trainer's step on burn's path ([`burn_step`], the step `fit` takes
/// there), syncing the device at each phase's end.
fn profile_step(
    mut model: Model,
    data: &Examples,
    args: &TrainBenchArgs,
    device: &Device,
    name: &str,
) -> anyhow::Result<()> {
    anyhow::ensure!(args.momentum == 0.0, "--profile times plain SGD only (omit --momentum)");
    let plain = device.clone().inner();
    let mut optim =
        build_optimizer(&TrainConfig { optimizer: OptimizerConfig::Sgd { momentum: 0.0 }, ..TrainConfig::default() });
    let mut times = vec![Vec::new(); BURN_STEP_PHASES.len()];
    let batches: Vec<Vec<usize>> =
        (0..data.len()).collect::<Vec<_>>().chunks(args.batch_size).map(|c| c.to_vec()).collect();
    let mut sync_error = None;
    for batch in batches.iter().chain(batches.iter()) {
        let mut last = Instant::now();
        let mut mark = |k: usize| {
            if let Err(e) = device.sync() {
                sync_error.get_or_insert(format!("device sync failed: {e:?}"));
            }
            let now = Instant::now();
            times[k].push((now - last).as_secs_f64() * 1e3);
            last = now;
        };
        let (stepped, _) = burn_step(model, &mut optim, data, batch, args.lr, 0.0, &plain, &mut |_| Ok(()), &mut mark)?;
        model = stepped;
    }
    if let Some(e) = sync_error {
        anyhow::bail!(e);
    }
    // Drop the first pass over the batches (warm-up of allocator and caches).
    let skip = batches.len();
    let medians: Vec<f64> = times.iter().map(|t| Summary::of(&t[skip..]).median).collect();
    let total: f64 = medians.iter().sum();
    println!("profile [{name}] one step, median over {} steps (ms):", times[0].len() - skip);
    for (p, m) in BURN_STEP_PHASES.iter().zip(&medians) {
        println!("  {p:<18} {m:8.2}  {:5.1}%", 100.0 * m / total);
    }
    println!("  {:<18} {total:8.2}  => {:.1} examples/s", "sum", 1e3 * args.batch_size as f64 / total);
    Ok(())
}

/// Times each layer of a vision CNN on its own, on the batch shapes of real training: forward
/// only, and forward followed by a backward pass of the sum of the output (with gradients for
/// the layer's input where the real network needs them, and for its parameters).
fn profile_layers(
    model: &Model,
    data: &Examples,
    batch_size: usize,
    device: &Device,
    name: &str,
    macs: Option<[(&'static str, f64); 3]>,
) -> anyhow::Result<()> {
    let Model::VisionCnn(m) = model else { return Ok(()) };
    let plain = device.clone().inner();
    let ad = device.clone().autodiff();
    let idx: Vec<usize> = (0..batch_size.min(data.len())).collect();
    let Input::Images(x0) = Input::gather(data, &idx, &plain) else { return Ok(()) };
    let b = idx.len();
    // Layer inputs at their real shapes, computed once without autodiff.
    let mv = m.clone().valid();
    let a1 = mv.conv1.forward(x0.clone());
    let p1 = mv.pool.forward(burn::tensor::activation::relu(a1.clone()));
    let a2 = mv.conv2.forward(p1.clone());
    let p2 = mv.pool.forward(burn::tensor::activation::relu(a2.clone()));
    let feats = p2.flatten::<2>(1, 3);
    let to_ad4 = |t: &Tensor<4>, grad: bool| {
        let t = Tensor::<4>::from_data(t.to_data(), &ad);
        if grad {
            t.require_grad()
        } else {
            t
        }
    };
    let to_ad2 = |t: &Tensor<2>| Tensor::<2>::from_data(t.to_data(), &ad).require_grad();
    let sync = || ad.sync().map_err(|e| anyhow::anyhow!("device sync failed: {e:?}"));
    let reps = 10;
    let time = |f: &dyn Fn()| -> anyhow::Result<f64> {
        f();
        sync()?;
        let mut v = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t = Instant::now();
            f();
            sync()?;
            v.push(t.elapsed().as_secs_f64() * 1e3);
        }
        Ok(Summary::of(&v).median)
    };
    type Case<'a> = (&'static str, Box<dyn Fn() + 'a>, Box<dyn Fn() + 'a>);
    let x_in = to_ad4(&x0, false);
    let a1_in = to_ad4(&a1, true);
    let p1_in = to_ad4(&p1, true);
    let a2_in = to_ad4(&a2, true);
    let f_in = to_ad2(&feats);
    let cases: Vec<Case> = vec![
        (
            "conv1",
            Box::new(|| drop(m.conv1.forward(x_in.clone()))),
            Box::new(|| drop(m.conv1.forward(x_in.clone()).sum().backward())),
        ),
        (
            "relu+pool1",
            Box::new(|| drop(m.pool.forward(burn::tensor::activation::relu(a1_in.clone())))),
            Box::new(|| drop(m.pool.forward(burn::tensor::activation::relu(a1_in.clone())).sum().backward())),
        ),
        (
            // relu and max-pool commute (relu is monotone), so pooling first is the same
            // function and gradient on a 4x smaller tensor: timed to size that rewrite.
            "pool1+relu",
            Box::new(|| drop(burn::tensor::activation::relu(m.pool.forward(a1_in.clone())))),
            Box::new(|| drop(burn::tensor::activation::relu(m.pool.forward(a1_in.clone())).sum().backward())),
        ),
        (
            "conv2",
            Box::new(|| drop(m.conv2.forward(p1_in.clone()))),
            Box::new(|| drop(m.conv2.forward(p1_in.clone()).sum().backward())),
        ),
        (
            "relu+pool2",
            Box::new(|| drop(m.pool.forward(burn::tensor::activation::relu(a2_in.clone())))),
            Box::new(|| drop(m.pool.forward(burn::tensor::activation::relu(a2_in.clone())).sum().backward())),
        ),
        (
            "head",
            Box::new(|| drop(m.head.forward(f_in.clone()))),
            Box::new(|| drop(m.head.forward(f_in.clone()).sum().backward())),
        ),
    ];
    println!("profile [{name}] per layer, batch {b}, median of {reps} (ms; autodiff device):");
    println!(
        "  {:<12} {:>9} {:>9} {:>9}  {:>12} {:>12}",
        "layer", "forward", "backward", "fwd+bwd", "fwd GFLOP/s", "bwd GFLOP/s"
    );
    let mut tot = (0.0, 0.0);
    for (layer, fwd, both) in &cases {
        let tf = time(fwd.as_ref())?;
        let tb = time(both.as_ref())?;
        let bwd = (tb - tf).max(0.0);
        if *layer != "pool1+relu" {
            tot = (tot.0 + tf, tot.1 + tb);
        }
        let mac = macs.and_then(|ms| ms.iter().find(|(n, _)| n == layer).map(|(_, v)| *v));
        let rate = |flops: f64, ms: f64| if ms > 0.0 { format!("{:.1}", flops / ms / 1e6) } else { "-".into() };
        let (gf, gb) = match mac {
            // Backward FLOPs: weight gradient always; input gradient except for conv1.
            Some(v) => {
                let f = 2.0 * v * b as f64;
                (rate(f, tf), rate(if *layer == "conv1" { f } else { 2.0 * f }, bwd))
            }
            None => ("-".into(), "-".into()),
        };
        println!("  {layer:<12} {tf:9.2} {bwd:9.2} {tb:9.2}  {gf:>12} {gb:>12}");
    }
    println!("  {:<12} {:9.2} {:9.2} {:9.2}  (without pool1+relu)", "sum", tot.0, tot.1 - tot.0, tot.1);
    Ok(())
}
