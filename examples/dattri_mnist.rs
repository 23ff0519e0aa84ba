//! dattri's MNIST-10 benchmark settings with genrep (issue 19, item 4): a logistic regression
//! (`Linear(784, 10)` on the pixels) or dattri's MLP (784-128-64-10) as custom architectures
//! through the `Classifier` trait, trained with dattri's recipe on 5,000 training images, then
//! (1) the linear datamodeling score of several methods over `M` subset models (each on a
//! seeded random half, with its own seed) and (2) mislabel detection: 10% of the training
//! labels flipped, the model retrained, training points ranked by self-importance, ROC AUC.
//!
//! Deviations from dattri (docs/EXPERIMENTS.md): 500 images per class drawn by seed instead of
//! the first 5,000, pixels in [0, 1] instead of standardised, no dropout in the `mlp` setting
//! (`mlp-dropout` has dattri's dropout 0.1 after each hidden layer), fewer test
//! points (default 100, 10 per class), and the LDS target is by default the explained score of
//! each method (the logit margin of the class the model predicts); with `loss` as the fifth
//! argument it is dattri's, the test loss `CE(f(x), y)`, attributed to first order as
//! `phi_loss(x_i -> x) = sum_c (p_c(x) - [c = y]) phi(x_i -> f_c(x))` from ten per-logit
//! explanations (`@score=logit`, `Target::Class(c)`).
//!
//! Run: `GENREP_DATA=/path/to/datasets cargo run --release --example dattri_mnist -- lr|mlp|mlp-dropout [M] [TESTS_PER_CLASS] [METHODS] [margin|loss] [SEED]`
//!
//! `METHODS` is a comma-separated list of method names; `influence` runs both solvers (CG and
//! LiSSA), `lissa` LiSSA alone. `SEED` (default 0) shifts every training seed (the full model's
//! initialisation and batch order, the subset draw, the subset models) but not the data draw or
//! the test points, to measure the run-to-run spread of an LDS.

use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use genrep::data::{build_task, DataDir, Examples, TaskOptions};
use genrep::experiments::detection::roc_auc;
use genrep::experiments::lds::{lds, subset};
use genrep::experiments::stats::mean_ci;
use genrep::explain::Checkpoints;
use genrep::explain::{subset as pick, ExplainOptions, Explainer, Target};
use genrep::models::{load_weights, Classifier, Input};
use genrep::trainer::{fit, init_seeded, predict_logits, FitOptions, OptimizerConfig, TrainConfig, TrainingRecord};
use std::time::Instant;

/// dattri's logistic regression: one linear layer on the flattened image (the "features" are
/// the pixels themselves, so every last-layer method is an all-parameter method here).
#[derive(Module, Debug)]
struct LogReg {
    head: Linear,
}

/// dattri's MLP: 784-128-ReLU-Dropout-64-ReLU-Dropout-10. Dropout is active in training only:
/// genrep evaluates through `valid()` and explains through `genrep::models::explaining`, both of
/// which switch it off (PyTorch's `model.eval()`). With `p = 0` (the `mlp` setting) it is the
/// identity.
#[derive(Module, Debug)]
struct Mlp {
    hidden1: Linear,
    hidden2: Linear,
    drop: Dropout,
    head: Linear,
}

fn flat(x: &Input) -> Tensor<2> {
    let Input::Images(images) = x else { panic!("these models take images") };
    images.clone().flatten(1, 3)
}

impl Classifier for LogReg {
    fn features(&self, x: &Input) -> Tensor<2> {
        flat(x)
    }
    fn head(&self) -> &Linear {
        &self.head
    }
    fn architecture(&self) -> String {
        "dattri-lr(784-10)".into()
    }
}

impl Classifier for Mlp {
    fn features(&self, x: &Input) -> Tensor<2> {
        let h1 = self.drop.forward(relu(self.hidden1.forward(flat(x))));
        self.drop.forward(relu(self.hidden2.forward(h1)))
    }
    fn head(&self) -> &Linear {
        &self.head
    }
    fn architecture(&self) -> String {
        match self.drop.prob {
            0.0 => "dattri-mlp(784-128-64-10)".into(),
            p => format!("dattri-mlp(784-128-64-10, dropout {p})"),
        }
    }
}

/// One of the two settings: its recipe, its methods, and how to train it from a seed.
trait Setting {
    type M: Classifier + Clone + burn::store::ModuleSnapshot;
    fn init(seed: u64, device: &Device) -> Self::M;
    fn recipe() -> TrainConfig;
}

struct Lr;
/// dattri's MLP without its dropout.
struct MlpSetting;
/// dattri's MLP with its dropout 0.1.
struct MlpDropoutSetting;

impl Setting for Lr {
    type M = LogReg;
    fn init(seed: u64, device: &Device) -> LogReg {
        init_seeded(device, seed, |d| LogReg { head: LinearConfig::new(784, 10).init(d) })
    }
    fn recipe() -> TrainConfig {
        // dattri: SGD lr 0.01, no momentum, no weight decay, 20 epochs, batch 32.
        TrainConfig {
            epochs: 20,
            batch_size: 32,
            lr: 0.01,
            optimizer: OptimizerConfig::Sgd { momentum: 0.0 },
            ..TrainConfig::default()
        }
    }
}

impl Setting for MlpSetting {
    type M = Mlp;
    fn init(seed: u64, device: &Device) -> Mlp {
        mlp(seed, device, 0.0)
    }
    fn recipe() -> TrainConfig {
        mlp_recipe()
    }
}

impl Setting for MlpDropoutSetting {
    type M = Mlp;
    fn init(seed: u64, device: &Device) -> Mlp {
        mlp(seed, device, 0.1)
    }
    fn recipe() -> TrainConfig {
        mlp_recipe()
    }
}

fn mlp(seed: u64, device: &Device, dropout: f64) -> Mlp {
    init_seeded(device, seed, |d| Mlp {
        hidden1: LinearConfig::new(784, 128).init(d),
        hidden2: LinearConfig::new(128, 64).init(d),
        drop: DropoutConfig::new(dropout).init(),
        head: LinearConfig::new(64, 10).init(d),
    })
}

/// dattri's MLP recipe: SGD lr 0.01, momentum 0.9, 50 epochs, batch 64.
fn mlp_recipe() -> TrainConfig {
    TrainConfig {
        epochs: 50,
        batch_size: 64,
        lr: 0.01,
        optimizer: OptimizerConfig::Sgd { momentum: 0.9 },
        ..TrainConfig::default()
    }
}

// `target:inf-ll` equals `influence` on the logistic regression (its last layer is the whole
// model; measured equal to 3 decimals) at 15x the cost (CG on 7,850 parameters), so it is left out.
// `tracincp` sums over the epoch checkpoints of the one training run (dattri's "TracIn" sums over
// 10 independently seeded final models instead); `tracking:ntk-final` is exact for plain SGD
// (the logistic regression), approximate with the MLP's momentum.
const METHODS: &str = "random,representer,target:ntk-final,influence,trak:d=512,tracincp,tracking:ntk-final";

fn accuracy<M: Classifier>(model: &M, ex: &Examples, device: &Device) -> f64 {
    let logits = predict_logits(model, ex, 256, device);
    let c = logits.len() / ex.len();
    let hits = ex
        .labels
        .iter()
        .enumerate()
        .filter(|(i, &y)| genrep::trainer::loss::argmax(&logits[i * c..(i + 1) * c]) == y)
        .count();
    hits as f64 / ex.len() as f64
}

/// The cross-entropy `CE(row, y)` of one row of logits.
fn cross_entropy(row: &[f32], y: usize) -> f64 {
    let mx = row.iter().copied().fold(f32::MIN, f32::max) as f64;
    mx + row.iter().map(|&v| (v as f64 - mx).exp()).sum::<f64>().ln() - row[y] as f64
}

fn run<S: Setting>(
    name: &str,
    m: usize,
    tests_per_class: usize,
    method_list: &str,
    loss_target: bool,
    seed: u64,
) -> anyhow::Result<()> {
    let data = DataDir::resolve(None)?;
    let options =
        TaskOptions { train_per_class: Some(500), test_per_class: Some(tests_per_class), ..Default::default() };
    let task = build_task(&data, &"mnist".parse()?, &options)?;
    let (train, test) = (&task.train, &task.test);
    let (n, device) = (train.len(), Device::flex());
    let recipe = S::recipe();

    let start = Instant::now();
    // Epoch checkpoints (for TracInCP) in a scratch directory, and the training record (for the
    // tracking representer).
    let cp_dir = std::env::temp_dir().join(format!("genrep-dattri-{}", std::process::id()));
    let mut fo = FitOptions::new(device.clone());
    fo.checkpoint_dir = Some(cp_dir.clone());
    let mut record = TrainingRecord::new(n, 10, false);
    let cfg = TrainConfig { checkpoint_every_epoch: true, seed: recipe.seed + seed, ..recipe.clone() };
    let outcome = fit(S::init(seed, &device), train, None, &cfg, &fo, &mut [&mut record])?;
    let (model, list) = (outcome.model, outcome.checkpoints);
    println!(
        "{name}: {n} training / {} test images; trained in {:.1}s: train accuracy {:.4}, test {:.4}",
        test.len(),
        start.elapsed().as_secs_f64(),
        accuracy(&model, train, &device),
        accuracy(&model, test, &device)
    );

    // (1) LDS. Attributions of the model trained on everything, at every test point.
    let idx: Vec<usize> = (0..test.len()).collect();
    let load_device = device.clone();
    let dir = cp_dir.clone();
    let files: Vec<(String, String)> = list.iter().map(|c| (c.name.clone(), c.file.clone())).collect();
    let load = move |cp: &str| -> genrep::explain::Result<S::M> {
        let file = files.iter().find(|(n, _)| n == cp).map(|(_, f)| f.clone()).unwrap_or_else(|| cp.to_string());
        let mut m = S::init(0, &load_device);
        load_weights(&mut m, &dir.join(file))?;
        Ok(m)
    };
    let explainer = Explainer::new(model.clone(), train)?
        .with_record(record)?
        .with_checkpoints(Checkpoints { list, load: Box::new(load) });
    let lissa = Explainer::new(model.clone(), train)?
        .with_options(ExplainOptions { lissa: Some(Default::default()), ..ExplainOptions::default() });
    let mut methods: Vec<(String, Vec<genrep::explain::Attribution>, f64)> = Vec::new();
    let listed: Vec<&str> = method_list.split(',').collect();
    let lissa_run = (listed.contains(&"influence") || listed.contains(&"lissa")).then_some((
        "influence (LiSSA)".to_string(),
        "influence",
        &lissa,
    ));
    let wanted: Vec<&str> = listed.into_iter().filter(|m| *m != "lissa").collect();
    // The full model's softmax at the test points (for the loss target's weights).
    let full_logits = predict_logits(&model, test, 256, &device);
    for (label, method, ex) in wanted.iter().map(|m| (m.to_string(), *m, &explainer)).chain(lissa_run) {
        let t0 = Instant::now();
        let (mut attrs, _) = ex.explain(method, test, &idx, Target::Predicted)?;
        if loss_target {
            // phi_loss = sum_c (p_c - [c = y]) phi_c, phi_c explaining the logit f_c alone.
            let sep = if method.contains('@') { ',' } else { '@' };
            let per_logit = format!("{method}{sep}score=logit");
            let mut total: Vec<Vec<f64>> = vec![vec![0.0; n]; idx.len()];
            for c in 0..10 {
                let (phi_c, _) = ex.explain(&per_logit, test, &idx, Target::Class(c))?;
                for (t, a) in phi_c.iter().enumerate() {
                    let p = genrep::explain::importance::softmax_rows(&full_logits[t * 10..(t + 1) * 10], 10);
                    let w = p[c] - f64::from(u8::from(test.labels[t] == c));
                    total[t].iter_mut().zip(&a.scores).for_each(|(acc, s)| *acc += w * s);
                }
            }
            for (a, phi) in attrs.iter_mut().zip(total) {
                a.scores = phi;
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        eprintln!("{label}: {} test points in {secs:.1}s", attrs.len());
        methods.push((label, attrs, secs));
    }
    let points: Vec<_> = methods[0].1.iter().map(|a| (a.explained_class, a.versus)).collect();
    let subsets: Vec<Vec<usize>> = (0..m).map(|j| subset(n, 0.5, 2024 + seed, j)).collect();
    let mut outputs = vec![vec![0.0; m]; idx.len()];
    let t0 = Instant::now();
    for (j, s) in subsets.iter().enumerate() {
        let keep: std::collections::HashSet<usize> = s.iter().copied().collect();
        let mut fo = FitOptions::new(device.clone());
        fo.excluded = (0..n).filter(|i| !keep.contains(i)).collect();
        let sub_seed = 1000 + j as u64 + 100_000 * seed;
        let cfg = TrainConfig { seed: sub_seed, ..recipe.clone() };
        let sub = fit(S::init(sub_seed, &device), train, None, &cfg, &fo, &mut [])?.model;
        let logits = predict_logits(&sub, &pick(test, &idx), 256, &device);
        for (t, &(class, versus)) in points.iter().enumerate() {
            let row = &logits[t * 10..(t + 1) * 10];
            outputs[t][j] = if loss_target {
                cross_entropy(row, test.labels[t])
            } else {
                row[class] as f64 - versus.map_or(0.0, |v| row[v] as f64)
            };
        }
        eprintln!("subset model {}/{m} ({:.0}s)", j + 1, t0.elapsed().as_secs_f64());
    }
    let subset_secs = t0.elapsed().as_secs_f64();

    // (2) Mislabel detection: flip 10% of the labels (seeded, to another class), retrain,
    // rank by self-importance.
    let mut noisy = train.clone();
    let flipped_idx = subset(n, 0.1, 77, 0);
    let mut flipped = vec![false; n];
    for (k, &i) in flipped_idx.iter().enumerate() {
        noisy.labels[i] = (noisy.labels[i] + 1 + k % 9) % 10;
        flipped[i] = true;
    }
    let noisy_model = fit(S::init(0, &device), &noisy, None, &recipe, &FitOptions::new(device.clone()), &mut [])?.model;
    let logits = predict_logits(&noisy_model, &noisy, 256, &device);
    let loss: Vec<f64> = (0..n).map(|i| cross_entropy(&logits[i * 10..(i + 1) * 10], noisy.labels[i])).collect();
    let noisy_explainer = Explainer::new(noisy_model, &noisy)?;
    let mut detection = vec![("training loss".to_string(), roc_auc(&loss, &flipped))];
    // The representer importance of a label needs the surrogate fitted to the labels (the
    // default fits the model's own predictions, which hides a flipped label).
    for method in ["representer@targets=labels", "target:ntk-final"] {
        let s = noisy_explainer.self_influence(method)?;
        detection.push((format!("{method} self-influence"), roc_auc(&s, &flipped)));
    }

    println!(
        "\nLDS, {name}: {m} subset models of {} of {n} points ({subset_secs:.0}s), {} test points, target: {}",
        subsets[0].len(),
        idx.len(),
        if loss_target { "test loss" } else { "explained score (margin)" }
    );
    println!("| method | LDS (mean ± 95% t) | explain s (all test points) |");
    println!("|---|---|---|");
    for (label, attrs, secs) in &methods {
        let per: Vec<f64> = attrs
            .iter()
            .zip(&outputs)
            .map(|(a, out)| lds(&a.scores, &subsets, out))
            .filter(|v| v.is_finite())
            .collect();
        let (mean, half) = mean_ci(&per);
        println!("| `{label}` | {mean:.3} ± {half:.3} ({} points) | {secs:.1} |", per.len());
    }
    println!("\nMislabel detection, {name}: {} of {n} labels flipped", flipped_idx.len());
    println!("| ranking | ROC AUC |");
    println!("|---|---|");
    for (label, auc) in &detection {
        println!("| {label} | {auc:.3} |");
    }
    let _ = std::fs::remove_dir_all(&cp_dir);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "lr".into());
    let m: usize = args.next().map(|v| v.parse()).transpose()?.unwrap_or(50);
    let tests: usize = args.next().map(|v| v.parse()).transpose()?.unwrap_or(10);
    let methods = args.next().unwrap_or_else(|| METHODS.into());
    let loss = match args.next().as_deref() {
        None | Some("margin") => false,
        Some("loss") => true,
        Some(other) => anyhow::bail!("`{other}`: expected margin or loss"),
    };
    let seed: u64 = args.next().map(|v| v.parse()).transpose()?.unwrap_or(0);
    match which.as_str() {
        "lr" => run::<Lr>("MNIST-10 logistic regression", m, tests, &methods, loss, seed),
        "mlp" => run::<MlpSetting>("MNIST-10 MLP", m, tests, &methods, loss, seed),
        "mlp-dropout" => run::<MlpDropoutSetting>("MNIST-10 MLP with dropout 0.1", m, tests, &methods, loss, seed),
        other => anyhow::bail!("`{other}`: expected lr, mlp or mlp-dropout"),
    }
}
