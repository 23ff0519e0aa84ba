//! The training loop: seeded minibatch SGD/Adam on softmax cross-entropy, with per-step
//! observers, exclusions, checkpoints and a non-finite-loss guard.

use crate::checkpoint::{Checkpoint, CheckpointKind};
use crate::config::{OptimizerConfig, TrainConfig};
use crate::error::{Result, TrainError};
use crate::loss::{linear_surrogate, softmax_cross_entropy, LossParts};
use crate::observer::{StepInfo, StepObserver};
use crate::optimizer::FlatOptimizer;
use crate::schedule::{epoch_batches_without, exclusion_mask};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use burn::store::ModuleSnapshot;
use genrep_data::Examples;
use genrep_models::params::assign_flat;
use genrep_models::{save_weights, Classifier, FastNet, Input};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Metrics of one epoch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// 0-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps (at the parameters before each step).
    pub train_loss: f64,
    /// Training accuracy over the epoch's steps (same convention).
    pub train_accuracy: f64,
    /// Test accuracy after the epoch, when a test split was given.
    pub test_accuracy: Option<f64>,
    /// Wall-clock seconds of the epoch (training only).
    pub seconds: f64,
}

/// What [`fit`] returns.
#[derive(Debug)]
pub struct TrainOutcome<M> {
    /// The trained model.
    pub model: M,
    /// Per-epoch metrics.
    pub history: Vec<EpochMetrics>,
    /// Checkpoints written (empty without a checkpoint directory).
    pub checkpoints: Vec<Checkpoint>,
    /// Optimiser steps taken.
    pub steps: usize,
}

/// Which implementation computes training steps and predictions. Both are exact; they agree
/// to float round-off (`tests/engines.rs`), and each is deterministic on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// The model's fused CPU path ([`Classifier::fast_net`]) when it has one and the device is
    /// the CPU (`flex`), burn otherwise. The default.
    #[default]
    Auto,
    /// burn's generic autodiff path, on any device and for any architecture.
    Burn,
}

impl Engine {
    /// The fused path this engine uses for `model` on `device`, if any.
    pub fn fast_net<M: Classifier>(self, model: &M, device: &Device) -> Option<Box<dyn FastNet>> {
        match self {
            Engine::Burn => None,
            Engine::Auto if genrep_models::device::is_cpu(device) => model.fast_net(),
            Engine::Auto => None,
        }
    }
}

/// Where and how [`fit`] runs besides the hyper-parameters.
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// The device (autodiff is enabled on it for training).
    pub device: Device,
    /// Training-set indices left out of every batch (train-with-exclusions).
    pub excluded: Vec<usize>,
    /// Directory for checkpoints; `None` writes none.
    pub checkpoint_dir: Option<PathBuf>,
    /// Evaluate the test split after every epoch (else only after the last).
    pub eval_every_epoch: bool,
    /// Fused CPU path or burn (see [`Engine`]).
    pub engine: Engine,
}

impl FitOptions {
    /// Defaults on `device`: no exclusions, no checkpoints, test evaluation after the last epoch.
    pub fn new(device: Device) -> Self {
        Self { device, excluded: Vec::new(), checkpoint_dir: None, eval_every_epoch: false, engine: Engine::Auto }
    }
}

/// Forces every lazily-initialised parameter to draw its values now.
struct Materialize;

impl burn::module::ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Serialises seeded initialisations: burn's device RNG is global and its parameters are
/// initialised lazily, so two threads initialising at once would interleave their draws.
static INIT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Builds a model reproducibly: under a process-wide lock, seeds the device with `seed`, calls
/// `init` on the autodiff version of `device`, and materialises every parameter before
/// releasing the lock. The same seed gives bit-identical weights whatever other threads do
/// (as long as they initialise through this function too).
pub fn init_seeded<M: burn::module::Module>(device: &Device, seed: u64, init: impl FnOnce(&Device) -> M) -> M {
    let device = device.clone().autodiff();
    let _guard = INIT_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    let model = init(&device);
    model.visit(&mut Materialize);
    model
}

/// Like [`init_seeded`] for constructors that can fail.
pub fn try_init_seeded<M: burn::module::Module, E>(
    device: &Device,
    seed: u64,
    init: impl FnOnce(&Device) -> std::result::Result<M, E>,
) -> std::result::Result<M, E> {
    let device = device.clone().autodiff();
    let _guard = INIT_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    let model = init(&device)?;
    model.visit(&mut Materialize);
    Ok(model)
}

/// The burn optimiser `cfg` asks for: SGD (with momentum when `momentum > 0`) or Adam, with
/// L2 weight decay `weight_decay` (added to the gradient, burn's convention) when positive.
pub fn build_optimizer(cfg: &TrainConfig) -> ModuleOptimizer {
    let wd = (cfg.weight_decay > 0.0).then(|| WeightDecayConfig::new(cfg.weight_decay as f32));
    match cfg.optimizer {
        OptimizerConfig::Sgd { momentum } => {
            let m = (momentum > 0.0).then(|| MomentumConfig::new().with_momentum(momentum).with_dampening(0.0));
            SgdConfig::new().with_weight_decay(wd).with_momentum(m).init()
        }
        OptimizerConfig::Adam { beta1, beta2, epsilon } => {
            AdamConfig::new().with_beta_1(beta1).with_beta_2(beta2).with_epsilon(epsilon).with_weight_decay(wd).init()
        }
    }
}

/// Runs `model` on the first example of `train` before training, so that a model that cannot
/// read the split's inputs (a custom `Classifier` that panics on another input kind, or returns
/// the wrong shape) is an error naming the input kind, not a panic mid-training.
fn check_model_takes<M: Classifier>(model: &M, train: &Examples, plain: &Device) -> Result<()> {
    let probe = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        model.valid().logits(&Input::gather(train, &[0], plain)).dims()
    }));
    let what = match probe {
        Ok([1, c]) if c == model.num_classes() => return Ok(()),
        Ok(dims) => format!(
            "{} returned logits of shape {dims:?} for one example (expected [1, {}])",
            model.architecture(),
            model.num_classes()
        ),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("it panicked");
            format!("{} cannot read this split's {}: {msg}", model.architecture(), train.inputs.kind())
        }
    };
    Err(TrainError::Config { field: "train", what })
}

/// Logits of every example of `examples`, computed in batches without autodiff: `[n, C]` row-major.
/// On the CPU, models with a fused path ([`Engine::Auto`]) compute them there.
pub fn predict_logits<M: Classifier>(model: &M, examples: &Examples, batch_size: usize, device: &Device) -> Vec<f32> {
    predict_logits_with(Engine::Auto, model, examples, batch_size, device)
}

/// The first `limit` examples of `examples` (in split order) that `model` misclassifies.
pub fn misclassified<M: Classifier>(
    model: &M,
    examples: &Examples,
    limit: usize,
    batch_size: usize,
    device: &Device,
) -> Vec<usize> {
    let logits = predict_logits(model, examples, batch_size, device);
    let c = model.num_classes();
    (0..examples.len())
        .filter(|&i| crate::loss::argmax(&logits[i * c..(i + 1) * c]) != examples.labels[i])
        .take(limit)
        .collect()
}

/// [`predict_logits`] on the given engine.
pub fn predict_logits_with<M: Classifier>(
    engine: Engine,
    model: &M,
    examples: &Examples,
    batch_size: usize,
    device: &Device,
) -> Vec<f32> {
    if let Some(fast) = engine.fast_net(model, device) {
        if fast.check_inputs(examples).is_ok() {
            let idx: Vec<usize> = (0..examples.len()).collect();
            return fast.logits(examples, &idx);
        }
    }
    let model = model.valid();
    let plain = device.clone().inner();
    let mut out = Vec::with_capacity(examples.len() * model.num_classes());
    let idx: Vec<usize> = (0..examples.len()).collect();
    for chunk in idx.chunks(batch_size.max(1)) {
        let x = Input::gather(examples, chunk, &plain);
        let logits = model.logits(&x);
        out.extend(genrep_models::params::f32_values(logits.into_data()));
    }
    out
}

/// Mean loss and accuracy of `model` on `examples`.
pub fn evaluate<M: Classifier>(model: &M, examples: &Examples, batch_size: usize, device: &Device) -> (f64, f64) {
    if examples.is_empty() {
        return (0.0, 0.0);
    }
    let logits = predict_logits(model, examples, batch_size, device);
    let parts = softmax_cross_entropy(&logits, &examples.labels, model.num_classes());
    (parts.mean_loss, parts.correct as f64 / examples.len() as f64)
}

/// Trains `model` on `train` with `cfg`, calling every observer after each step.
///
/// Each step: gather the batch (minus exclusions), forward, `L = (1/|B|) sum_i CE(f(x_i), y_i)`,
/// report `dL_i/df(x_i)` to the observers, backward, optimiser update. Checkpoints `init`,
/// `middle` (after step `floor(T/2)` of the `T` steps, the paper's "middle checkpoint (T/2)"),
/// `final`, and each epoch if `cfg.checkpoint_every_epoch`, are written atomically to
/// `opts.checkpoint_dir`. On the CPU, models with a fused path train on it ([`Engine`]).
pub fn fit<M: Classifier + ModuleSnapshot>(
    mut model: M,
    train: &Examples,
    test: Option<&Examples>,
    cfg: &TrainConfig,
    opts: &FitOptions,
    observers: &mut [&mut dyn StepObserver],
) -> Result<TrainOutcome<M>> {
    cfg.validate()?;
    let n = train.len();
    if n == 0 {
        return Err(TrainError::Config { field: "train", what: "the training split is empty".into() });
    }
    if let Some(bad) = train.labels.iter().find(|&&y| y >= model.num_classes()) {
        return Err(TrainError::Config {
            field: "num_classes",
            what: format!("the model has {} outputs but the data has label {bad}", model.num_classes()),
        });
    }
    let excluded = exclusion_mask(n, &opts.excluded)?;
    let plain = opts.device.clone().inner();
    let c = model.num_classes();
    let mut fast = opts.engine.fast_net(&model, &opts.device);
    if let Some(f) = &fast {
        f.check_inputs(train)
            .map_err(|what| TrainError::Config { field: "train", what: format!("the model expects {what}") })?;
    }
    if fast.is_none() {
        check_model_takes(&model, train, &plain)?;
    }
    let mut optim = build_optimizer(cfg);
    let mut flat_optim = FlatOptimizer::new(cfg);
    let mut grad: Vec<f32> = Vec::new();
    let mut checkpoints = Vec::new();
    // In fused mode the burn module is brought up to date only where it is read.
    let sync = |model: M, fast: &Option<Box<dyn FastNet>>| match fast {
        Some(f) => assign_flat(model, f.params()),
        None => model,
    };
    let total = cfg.total_steps(n);
    let per_epoch = n.div_ceil(cfg.batch_size).max(1);
    let save = |model: &M, kind: CheckpointKind, step: usize, epoch: usize, out: &mut Vec<Checkpoint>| -> Result<()> {
        if let Some(dir) = &opts.checkpoint_dir {
            // The learning rate a checkpoint stands for (TracInCP weighs by it): for epoch ends,
            // the mean rate of the epoch just finished; otherwise the rate at its step.
            let lr = match kind {
                CheckpointKind::Epoch(_) | CheckpointKind::Final if step > 0 => {
                    let from = step.saturating_sub(per_epoch);
                    (from..step).map(|t| cfg.schedule.at(cfg.lr, t, total)).sum::<f64>() / (step - from) as f64
                }
                _ => cfg.schedule.at(cfg.lr, step, total),
            };
            out.push(write_checkpoint(model, dir, kind, step, epoch, lr)?);
        }
        Ok(())
    };
    save(&model, CheckpointKind::Init, 0, 0, &mut checkpoints)?;

    // The middle checkpoint (T/2 in the paper's Table 1) is taken after step floor(T/2).
    let middle_step = total / 2;
    let mut history = Vec::with_capacity(cfg.epochs);
    let mut step = 0;
    for epoch in 0..cfg.epochs {
        let start = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
        for batch in epoch_batches_without(n, cfg.batch_size, cfg.seed, epoch, &excluded, cfg.exclusion) {
            let lr = cfg.schedule.at(cfg.lr, step, total);
            if !batch.is_empty() {
                // The observers see every step once its loss is known (and finite).
                let mut observe = |parts: &LossParts| -> Result<()> {
                    if !parts.mean_loss.is_finite() {
                        return Err(TrainError::NonFinite { step, epoch, loss: parts.mean_loss });
                    }
                    let info = StepInfo {
                        step,
                        epoch,
                        lr,
                        batch_indices: &batch,
                        dloss_dlogits: &parts.dloss_dlogits,
                        num_classes: c,
                        loss: parts.mean_loss,
                        correct: parts.correct,
                    };
                    for o in observers.iter_mut() {
                        o.on_step(&info);
                    }
                    Ok(())
                };
                let parts = match fast.as_mut() {
                    Some(f) => {
                        // The fused path computes the parameter gradient itself.
                        let labels: Vec<usize> = batch.iter().map(|&i| train.labels[i]).collect();
                        let scale = 1.0 / batch.len() as f32;
                        grad.clear();
                        grad.resize(f.params().len(), 0.0);
                        let values = f.weighted_grad(
                            train,
                            &batch,
                            None,
                            &|r, row, _, out: &mut [f32]| {
                                let d = softmax_cross_entropy(row, &labels[r..r + 1], c).dloss_dlogits;
                                out.iter_mut().zip(d).for_each(|(o, g)| *o = g * scale);
                            },
                            &mut grad,
                        );
                        let parts = softmax_cross_entropy(&values, &labels, c);
                        observe(&parts)?;
                        if cfg.last_layer_l2 > 0.0 {
                            let lambda = cfg.last_layer_l2 as f32;
                            let range = f.head_range();
                            let theta = &f.params()[range.clone()];
                            grad[range].iter_mut().zip(theta).for_each(|(g, t)| *g += 2.0 * lambda * t);
                        }
                        flat_optim.step(lr, f.params_mut(), &mut grad);
                        parts
                    }
                    None => {
                        let (stepped, parts) = burn_step(
                            model,
                            &mut optim,
                            train,
                            &batch,
                            lr,
                            cfg.last_layer_l2,
                            &plain,
                            &mut observe,
                            &mut |_| {},
                        )?;
                        model = stepped;
                        parts
                    }
                };
                loss_sum += parts.mean_loss * batch.len() as f64;
                correct += parts.correct;
                seen += batch.len();
            }
            step += 1;
            if step == middle_step && total >= 2 {
                model = sync(model, &fast);
                save(&model, CheckpointKind::Middle, step, epoch, &mut checkpoints)?;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let last = epoch + 1 == cfg.epochs;
        if fast.is_some() && (last || opts.eval_every_epoch || cfg.checkpoint_every_epoch) {
            model = sync(model, &fast);
        }
        let test_accuracy = match test {
            Some(t) if opts.eval_every_epoch || last => Some(evaluate(&model, t, 256, &opts.device).1),
            _ => None,
        };
        let (train_loss, train_accuracy) =
            if seen > 0 { (loss_sum / seen as f64, correct as f64 / seen as f64) } else { (0.0, 0.0) };
        for o in observers.iter_mut() {
            o.on_epoch_end(epoch, train_loss, train_accuracy);
        }
        history.push(EpochMetrics { epoch, train_loss, train_accuracy, test_accuracy, seconds });
        if cfg.checkpoint_every_epoch && !last {
            save(&model, CheckpointKind::Epoch(epoch + 1), step, epoch + 1, &mut checkpoints)?;
        }
    }
    debug_assert!(step == total || cfg.exclusion == crate::config::ExclusionProtocol::Refill);
    save(&model, CheckpointKind::Final, step, cfg.epochs, &mut checkpoints)?;
    Ok(TrainOutcome { model, history, checkpoints, steps: step })
}

/// The phases of one step on burn's generic autodiff path, in the order [`burn_step`] reports
/// their ends (the `genrep bench train --profile` breakdown).
pub const BURN_STEP_PHASES: [&str; 5] = ["gather", "forward+readback", "loss (host)", "backward", "optimizer"];

/// One training step on burn's generic autodiff path, as [`fit`] takes it for models without a
/// fused path (or with [`Engine::Burn`]): gather the batch onto `device` (the plain device),
/// forward with the logits read back to the host, the mean softmax cross-entropy and
/// `dL_i/df_i` on the host, `observe(parts)` (fit's step observers; an error stops the step),
/// the backward pass of `sum_i (1/B) dL_i/df_i . f(x_i)` (plus `last_layer_l2 |Theta_2|^2`),
/// whose parameter gradient is that of the mean loss, and the optimiser update with rate `lr`.
/// `mark(k)` is called as phase [`BURN_STEP_PHASES`]`[k]` ends (a profiler syncs the device and
/// reads a clock there). Returns the updated model and the batch's loss parts.
#[allow(clippy::too_many_arguments)] // the step's inputs, each distinct; fit and the profiler pass them all
pub fn burn_step<M: Classifier>(
    model: M,
    optim: &mut ModuleOptimizer,
    train: &Examples,
    batch: &[usize],
    lr: f64,
    last_layer_l2: f64,
    device: &Device,
    observe: &mut dyn FnMut(&LossParts) -> Result<()>,
    mark: &mut dyn FnMut(usize),
) -> Result<(M, LossParts)> {
    let c = model.num_classes();
    let labels: Vec<usize> = batch.iter().map(|&i| train.labels[i]).collect();
    let x = Input::gather(train, batch, device);
    mark(0);
    let logits = model.logits(&x);
    let values = genrep_models::params::f32_values(logits.to_data());
    mark(1);
    let parts = softmax_cross_entropy(&values, &labels, c);
    let scale = 1.0 / batch.len() as f32;
    let weights: Vec<f32> = parts.dloss_dlogits.iter().map(|g| g * scale).collect();
    mark(2);
    observe(&parts)?;
    let mut objective = linear_surrogate(logits, weights);
    if last_layer_l2 > 0.0 {
        objective = objective + last_layer_penalty(&model, last_layer_l2);
    }
    let grads = GradientsParams::from_grads(objective.backward(), &model);
    mark(3);
    let model = optim.step(lr, model, grads);
    mark(4);
    Ok((model, parts))
}

/// `lambda (|W|^2 + |b|^2)` of the model's head, as a one-element tensor in the autodiff graph.
fn last_layer_penalty<M: Classifier>(model: &M, lambda: f64) -> Tensor<1> {
    let head = model.head();
    let mut sq = head.weight.val().powf_scalar(2.0).sum();
    if let Some(b) = &head.bias {
        sq = sq + b.val().powf_scalar(2.0).sum();
    }
    sq * lambda
}

fn write_checkpoint<M: Classifier + ModuleSnapshot>(
    model: &M,
    dir: &Path,
    kind: CheckpointKind,
    step: usize,
    epoch: usize,
    lr: f64,
) -> Result<Checkpoint> {
    let file = format!("{}.safetensors", kind.name());
    let path = dir.join(&file);
    save_weights(model, &path)?;
    let bytes = std::fs::read(&path).map_err(|e| TrainError::io(&path, format!("cannot read back: {e}")))?;
    let hash = Some(format!("{:016x}", genrep_data::fnv1a(&[&bytes])));
    Ok(Checkpoint { name: kind.name(), kind, step, epoch, lr, file, hash })
}
