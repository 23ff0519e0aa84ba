//! Benchmarks of the library's own training step and explanations (what `genrep bench` runs and
//! prints): training throughput per device, the phases of one step, the layers of the vision
//! CNN, the per-example gradient contraction paths, and the cost of explaining a test point per
//! method (the 2018 paper's cost table).
//!
//! Training protocol, per device: the first `steps * batch_size` training examples (cycling
//! if the split is smaller), the model initialised with a fixed seed, `warmup` steps through
//! [`fit`] (not timed), then `reps` timed calls of `fit` for one epoch of exactly `steps` full
//! batches each, carrying the model over. Every step is the library's real step. Throughput of
//! a repetition is `steps * batch_size / wall seconds`.

use crate::error::{ExperimentError, Result};
use crate::stats::Summary;
use burn::prelude::*;
use genrep_data::{Examples, Task};
use genrep_explain::{
    explain, representer_alpha, Checkpoints, Context, ExplainOptions, GradientKernel, Kernel, Method, Preconditioner,
    TestPoint,
};
use genrep_models::{Architecture, Classifier, Input, Model, ModelSpec};
use genrep_trainer::{
    build_optimizer, burn_step, fit, try_init_seeded, Engine, FitOptions, OptimizerConfig, TrainConfig,
    BURN_STEP_PHASES,
};
use std::time::Instant;

/// What [`bench_train`] measures.
#[derive(Debug, Clone)]
pub struct TrainBench {
    /// Minibatch size.
    pub batch_size: usize,
    /// Timed optimiser steps per repetition.
    pub steps: usize,
    /// Untimed warm-up steps.
    pub warmup: usize,
    /// Timed repetitions.
    pub reps: usize,
    /// Learning rate.
    pub lr: f64,
    /// SGD momentum (0 = plain SGD).
    pub momentum: f64,
    /// Seed of the initial weights and of the batch order.
    pub seed: u64,
    /// Fused CPU path where the model has one, or burn's autodiff.
    pub engine: Engine,
    /// Token sequence length (text tasks; for the FLOP count).
    pub seq_len: usize,
}

impl TrainBench {
    fn validate(&self) -> Result<()> {
        for (field, v) in [("batch_size", self.batch_size), ("steps", self.steps), ("reps", self.reps)] {
            if v == 0 {
                return Err(ExperimentError::config(field, "must be at least 1"));
            }
        }
        Ok(())
    }

    fn config(&self) -> TrainConfig {
        TrainConfig {
            epochs: 1,
            batch_size: self.batch_size,
            lr: self.lr,
            optimizer: OptimizerConfig::Sgd { momentum: self.momentum },
            seed: self.seed,
            checkpoint_every_epoch: false,
            ..TrainConfig::default()
        }
    }
}

/// One device's training throughput.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainBenchResult {
    /// Device name as given.
    pub device: String,
    /// The task.
    pub task: String,
    /// The model's architecture string.
    pub architecture: String,
    /// Minibatch size.
    pub batch_size: usize,
    /// Timed steps per repetition.
    pub steps_per_rep: usize,
    /// Untimed warm-up steps.
    pub warmup_steps: usize,
    /// Timed repetitions.
    pub reps: usize,
    /// Throughput of each repetition.
    pub examples_per_s: Vec<f64>,
    /// Summary of `examples_per_s`.
    pub stats: Summary,
    /// Milliseconds per step at the median throughput.
    pub ms_per_step_median: f64,
    /// Dense-equivalent training GFLOP/s at the median throughput (forward 2 MACs, backward
    /// twice the forward): the rate a dense implementation would need to match it.
    pub gflops_median: Option<f64>,
}

/// Multiply-accumulates of one dense forward pass of one example, per layer (text: sequences of
/// `seq_len` tokens; the embedding gather is not counted).
pub fn model_macs(spec: &ModelSpec, seq_len: usize) -> [(&'static str, f64); 3] {
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

/// The first `n` examples of `ex`, cycling through it if it has fewer.
pub fn take_cycled(ex: &Examples, n: usize) -> Examples {
    let idx: Vec<usize> = (0..n).map(|i| i % ex.len().max(1)).collect();
    ex.select(&idx)
}

/// Training throughput of `task`'s default model on `device` (see the module docs). Returns
/// the result and the model as the last repetition left it (for [`profile_step`]).
pub fn bench_train(task: &Task, name: &str, device: &Device, o: &TrainBench) -> Result<(TrainBenchResult, Model)> {
    o.validate()?;
    if task.train.is_empty() {
        return Err(ExperimentError::config("task", "the training split is empty"));
    }
    let spec = ModelSpec::default_for(&task.train, task.num_classes())?;
    let timed = take_cycled(&task.train, o.steps * o.batch_size);
    let warm = take_cycled(&task.train, o.warmup.max(1) * o.batch_size);
    let cfg = o.config();
    let flops_per_example = 3.0 * 2.0 * model_macs(&spec, o.seq_len).iter().map(|(_, v)| v).sum::<f64>();
    let mut model = try_init_seeded(device, o.seed, |d| spec.init(d))?;
    let mut opts = FitOptions::new(device.clone());
    opts.engine = o.engine;
    if o.warmup > 0 {
        let t = Instant::now();
        model = fit(model, &warm, None, &cfg, &opts, &mut [])?.model;
        tracing::info!("  [{name}] warm-up: {} steps in {:.2}s", o.warmup, t.elapsed().as_secs_f64());
    }
    let mut rates = Vec::with_capacity(o.reps);
    for r in 0..o.reps {
        let t = Instant::now();
        let out = fit(model, &timed, None, &cfg, &opts, &mut [])?;
        let secs = t.elapsed().as_secs_f64();
        model = out.model;
        let rate = (out.steps * o.batch_size) as f64 / secs;
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
    let result = TrainBenchResult {
        device: name.to_string(),
        task: task.spec.to_string(),
        architecture: model.architecture(),
        batch_size: o.batch_size,
        steps_per_rep: o.steps,
        warmup_steps: o.warmup,
        reps: o.reps,
        ms_per_step_median: 1e3 * o.batch_size as f64 / stats.median,
        gflops_median: Some(flops_per_example * stats.median / 1e9),
        examples_per_s: rates,
        stats,
    };
    Ok((result, model))
}

/// Median milliseconds of each phase of the trainer's step on burn's path ([`burn_step`], the
/// step `fit` takes there, with plain SGD), syncing the device at each phase's end, over two
/// passes through `data` in batches of `batch_size` of which the first is warm-up.
pub fn profile_step(
    mut model: Model,
    data: &Examples,
    batch_size: usize,
    lr: f64,
    device: &Device,
) -> Result<Vec<(&'static str, f64)>> {
    if batch_size == 0 || data.is_empty() {
        return Err(ExperimentError::config("batch_size", "profiling needs a batch size and data"));
    }
    let plain = device.clone().inner();
    let mut optim =
        build_optimizer(&TrainConfig { optimizer: OptimizerConfig::Sgd { momentum: 0.0 }, ..TrainConfig::default() });
    let mut times = vec![Vec::new(); BURN_STEP_PHASES.len()];
    let batches: Vec<Vec<usize>> = (0..data.len()).collect::<Vec<_>>().chunks(batch_size).map(|c| c.to_vec()).collect();
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
        let (stepped, _) = burn_step(model, &mut optim, data, batch, lr, 0.0, &plain, &mut |_| Ok(()), &mut mark)?;
        model = stepped;
    }
    if let Some(e) = sync_error {
        return Err(ExperimentError::config("device", e));
    }
    let skip = batches.len();
    Ok(BURN_STEP_PHASES.iter().copied().zip(times.iter().map(|t| Summary::of(&t[skip..]).median)).collect())
}

/// One layer's timing from [`profile_layers`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerTiming {
    /// Layer name (`conv1`, `relu+pool1`, ...).
    pub layer: &'static str,
    /// Median forward milliseconds.
    pub forward_ms: f64,
    /// Median forward + backward milliseconds.
    pub forward_backward_ms: f64,
    /// Forward GFLOP/s, for layers with a MAC count.
    pub forward_gflops: Option<f64>,
    /// Backward GFLOP/s (weight gradient, and input gradient except for conv1).
    pub backward_gflops: Option<f64>,
}

/// Median of `reps` timings of each layer of a vision CNN on its own, on the batch shapes of
/// real training: forward only, and forward then a backward pass of the output's sum (with
/// gradients for the layer's input where the real network needs them, and for its
/// parameters). `pool1+relu` is the same function as `relu+pool1` on a 4x smaller tensor
/// (relu is monotone, so they commute). `None` for a model that is not a vision CNN.
pub fn profile_layers(
    model: &Model,
    data: &Examples,
    batch_size: usize,
    device: &Device,
    macs: [(&'static str, f64); 3],
    reps: usize,
) -> Result<Option<Vec<LayerTiming>>> {
    let Model::VisionCnn(m) = model else { return Ok(None) };
    let plain = device.clone().inner();
    let ad = device.clone().autodiff();
    let idx: Vec<usize> = (0..batch_size.min(data.len())).collect();
    let Input::Images(x0) = Input::gather(data, &idx, &plain) else { return Ok(None) };
    let b = idx.len();
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
    let sync = || ad.sync().map_err(|e| ExperimentError::config("device", format!("device sync failed: {e:?}")));
    let reps = reps.max(1);
    let time = |f: &dyn Fn()| -> Result<f64> {
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
    let relu = burn::tensor::activation::relu::<4>;
    let (x_in, a1_in, p1_in, a2_in, f_in) =
        (to_ad4(&x0, false), to_ad4(&a1, true), to_ad4(&p1, true), to_ad4(&a2, true), to_ad2(&feats));
    let cases: Vec<Case> = vec![
        (
            "conv1",
            Box::new(|| drop(m.conv1.forward(x_in.clone()))),
            Box::new(|| drop(m.conv1.forward(x_in.clone()).sum().backward())),
        ),
        (
            "relu+pool1",
            Box::new(|| drop(m.pool.forward(relu(a1_in.clone())))),
            Box::new(|| drop(m.pool.forward(relu(a1_in.clone())).sum().backward())),
        ),
        (
            "pool1+relu",
            Box::new(|| drop(relu(m.pool.forward(a1_in.clone())))),
            Box::new(|| drop(relu(m.pool.forward(a1_in.clone())).sum().backward())),
        ),
        (
            "conv2",
            Box::new(|| drop(m.conv2.forward(p1_in.clone()))),
            Box::new(|| drop(m.conv2.forward(p1_in.clone()).sum().backward())),
        ),
        (
            "relu+pool2",
            Box::new(|| drop(m.pool.forward(relu(a2_in.clone())))),
            Box::new(|| drop(m.pool.forward(relu(a2_in.clone())).sum().backward())),
        ),
        (
            "head",
            Box::new(|| drop(m.head.forward(f_in.clone()))),
            Box::new(|| drop(m.head.forward(f_in.clone()).sum().backward())),
        ),
    ];
    let mut out = Vec::new();
    for (layer, fwd, both) in &cases {
        let tf = time(fwd.as_ref())?;
        let tb = time(both.as_ref())?;
        let bwd = (tb - tf).max(0.0);
        let rate = |flops: f64, ms: f64| (ms > 0.0).then(|| flops / ms / 1e6);
        let mac = macs.iter().find(|(n, _)| n == layer).map(|(_, v)| *v);
        let (gf, gb) = match mac {
            Some(v) => {
                let f = 2.0 * v * b as f64;
                (rate(f, tf), rate(if *layer == "conv1" { f } else { 2.0 * f }, bwd))
            }
            None => (None, None),
        };
        out.push(LayerTiming {
            layer,
            forward_ms: tf,
            forward_backward_ms: tb,
            forward_gflops: gf,
            backward_gflops: gb,
        });
    }
    Ok(Some(out))
}

/// Cost of explaining test points with one method ([`bench_explain`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct MethodCost {
    /// The method.
    pub method: String,
    /// Seconds per test point, explained one at a time.
    pub per_test: Summary,
    /// Representer points only: the refit of the head (the 2018 paper's "fine-tune" column).
    pub fine_tune: Option<Summary>,
    /// Representer points only: the contraction given the refit ("computation").
    pub computation: Option<Summary>,
    /// Seconds for all test points in one call, when asked for.
    pub batched_seconds: Option<f64>,
    /// Peak resident memory of the process after this method (Linux), MiB.
    pub peak_rss_mib: Option<f64>,
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Times each method of `methods` on test points `tests` of `ctx`, one point per call (and all
/// in one call with `batched`); `representer` is split into its refit and its contraction, as
/// the 2018 paper's cost table reports it.
pub fn bench_explain<M: Classifier>(
    ctx: &Context<'_, M>,
    checkpoints: &Checkpoints<'_, M>,
    methods: &[String],
    tests: &[usize],
    opts: &ExplainOptions,
    is_text: bool,
    batched: bool,
) -> Result<Vec<MethodCost>> {
    let mut costs = Vec::new();
    for name in methods {
        let method: Method = name.parse()?;
        reset_peak();
        let (mut per_test, mut fine, mut comp) = (Vec::new(), Vec::new(), Vec::new());
        for &t in tests {
            if name == "representer" {
                let start = Instant::now();
                let (alpha, _, _, ll) = representer_alpha(ctx, opts)?;
                let f = start.elapsed().as_secs_f64();
                let point = ctx.test_points(&[t], opts.score)?[0].0;
                let start = Instant::now();
                let scores = ll.contract(&alpha, &[point], &mut |_, _| {})?;
                let c = start.elapsed().as_secs_f64();
                std::hint::black_box(scores);
                fine.push(f);
                comp.push(c);
                per_test.push(f + c);
            } else {
                let start = Instant::now();
                let out = explain(ctx, &method, name, &[t], opts, Some(checkpoints), is_text, &mut |_, _| {})?;
                per_test.push(start.elapsed().as_secs_f64());
                std::hint::black_box(out);
            }
            tracing::info!("  {name}: test {t}: {:.2}s", per_test.last().copied().unwrap_or(0.0));
        }
        let batched_seconds = if batched {
            let start = Instant::now();
            let out = explain(ctx, &method, name, tests, opts, Some(checkpoints), is_text, &mut |_, _| {})?;
            std::hint::black_box(out);
            Some(start.elapsed().as_secs_f64())
        } else {
            None
        };
        costs.push(MethodCost {
            method: name.clone(),
            per_test: Summary::of(&per_test),
            fine_tune: (!fine.is_empty()).then(|| Summary::of(&fine)),
            computation: (!comp.is_empty()).then(|| Summary::of(&comp)),
            batched_seconds,
            peak_rss_mib: peak_mib(),
        });
    }
    Ok(costs)
}

/// Throughput of the three per-example gradient contraction paths (what [`bench_grads`]
/// returns): `s_i = < d/dtheta [ w_i . f(x_i) ], v >` for every training example `i` and each
/// contraction vector `v`, the inner loop of the NTK, TracInCP and influence kernels.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GradsBench {
    /// `Classifier::architecture` of the model.
    pub architecture: String,
    /// Training examples contracted per call.
    pub examples: usize,
    /// Contraction vectors (test points) per call.
    pub tests: usize,
    /// The generic path: one batch-1 burn backward pass per example (examples/s per repetition).
    pub batch1_examples_per_s: Summary,
    /// burn's batched layer-wise path (`Classifier::per_example_dots` on burn tensors).
    pub burn_batched_examples_per_s: Summary,
    /// The fused CPU path (`FastNet`), where the model and device have one.
    pub fused_examples_per_s: Option<Summary>,
    /// Largest |difference| to the batch-1 path over all scores, divided by the largest |score|.
    pub max_rel_diff: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum GradPath {
    Batch1,
    BurnBatched,
    Fused,
}

/// Times the per-example gradient contraction of `model` over the first `examples` training
/// examples of `task` against the output gradients of its first `tests` test points, `reps`
/// timed calls per path after one untimed warm-up call. The output weights are the loss
/// derivative's shape (`-1` on the label, `1/C` elsewhere), as TracInCP uses.
pub fn bench_grads<M: Classifier>(
    model: &M,
    task: &Task,
    examples: usize,
    tests: usize,
    reps: usize,
    progress: &mut dyn FnMut(&str, usize, f64),
) -> Result<GradsBench> {
    let n = examples.min(task.train.len());
    for (field, v) in [("examples", n), ("tests", tests), ("reps", reps)] {
        if v == 0 {
            return Err(ExperimentError::config(field, "must be at least 1 (and the training split non-empty)"));
        }
    }
    if tests > task.test.len() {
        return Err(ExperimentError::config(
            "tests",
            format!("{tests} exceeds the test split ({} points)", task.test.len()),
        ));
    }
    let train = task.train.select(&(0..n).collect::<Vec<_>>());
    let c = model.num_classes();
    let labels = &train.labels;
    let alpha: Vec<f64> =
        (0..n).flat_map(|i| (0..c).map(move |k| if k == labels[i] { -1.0 } else { 1.0 / c as f64 })).collect();
    let points: Vec<TestPoint> = (0..tests).map(|i| TestPoint::logit(i, 0)).collect();
    let mut kernel = GradientKernel::new(model.clone(), &train, &task.test, Preconditioner::Identity, "ntk-final");
    let fused = kernel.fast.take();
    let has_fused = fused.is_some();
    let mut time = |path: GradPath| -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
        kernel.batched = path != GradPath::Batch1;
        if path == GradPath::Fused {
            kernel.fast = fused.as_ref().and_then(|_| model.fast_net());
        }
        let mut out = kernel.contract(&alpha, &points, &mut |_, _| {})?; // warm-up
        let mut rates = Vec::with_capacity(reps);
        for r in 0..reps {
            let start = Instant::now();
            out = kernel.contract(&alpha, &points, &mut |_, _| {})?;
            let s = start.elapsed().as_secs_f64();
            rates.push(n as f64 / s);
            progress(&format!("{path:?}"), r, s);
        }
        Ok((rates, out))
    };
    let (slow_rates, slow) = time(GradPath::Batch1)?;
    let (burn_rates, burn) = time(GradPath::BurnBatched)?;
    let fused_run = if has_fused { Some(time(GradPath::Fused)?) } else { None };
    let scale = slow.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
    let diff = |x: &Vec<Vec<f64>>| {
        slow.iter().flatten().zip(x.iter().flatten()).fold(0.0f64, |m, (a, b)| m.max((a - b).abs())) / scale
    };
    let max_rel_diff = fused_run.as_ref().map(|f| diff(&f.1)).unwrap_or(0.0).max(diff(&burn));
    Ok(GradsBench {
        architecture: model.architecture(),
        examples: n,
        tests,
        batch1_examples_per_s: Summary::of(&slow_rates),
        burn_batched_examples_per_s: Summary::of(&burn_rates),
        fused_examples_per_s: fused_run.as_ref().map(|r| Summary::of(&r.0)),
        max_rel_diff,
    })
}
