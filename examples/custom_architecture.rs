//! Plugging a new architecture into genrep: nothing outside this file changes.
//!
//! It defines a 2-hidden-layer MLP that is not part of genrep and implements two traits:
//! [`Classifier`] for the model (penultimate features + linear head: what explaining needs) and
//! [`Architecture`] for its description `MlpSpec` (what a run directory's `config.json` stores
//! and what every retraining is rebuilt from). Then, on binary MNIST, the MLP goes everywhere a
//! built-in model goes:
//! 1. `train_run` trains it into a run directory (checkpoints, training record, fingerprint);
//! 2. `LoadedRun::open_as` reopens the run (checking it against the data) and
//!    `Explainer::from_run` explains a test prediction with the tracking representer over the
//!    NTK of the final model (Tsai et al. 2023, Eqn 10);
//! 3. `runner::run_with` runs the Table 1 deletion experiment (the smoke preset, shrunk to one
//!    network and two test points) and prints its AUC-DEL report;
//! 4. `debug::run_debug_with` runs the 2018 dataset-debugging study (10% of labels flipped).
//!
//! Run: `GENREP_DATA=/path/to/datasets cargo run --release --example custom_architecture [OUT]`
//! (`OUT` defaults to `custom-architecture-out/`).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use genrep::data::{build_task, DataDir, Examples, Inputs, Task, TaskOptions};
use genrep::experiments::debug::{run_debug_with, DebugConfig};
use genrep::experiments::{dedup, markdown, read_dir_rows, run_with, summarize, Dataset, ExperimentConfig, Quiet};
use genrep::experiments::{RunOptions, Shard};
use genrep::explain::{Explainer, Polarity, Target};
use genrep::models::{parse_device, Architecture, Classifier, Input, ModelError};
use genrep::trainer::{train_run, LoadedRun, OptimizerConfig, RunConfig, RunDir, TrainConfig};
use std::path::PathBuf;

/// A multi-layer perceptron on flattened images.
#[derive(Module, Debug)]
struct Mlp {
    hidden1: Linear,
    hidden2: Linear,
    head: Linear,
}

impl Classifier for Mlp {
    fn features(&self, x: &Input) -> Tensor<2> {
        // `MlpSpec::check_examples` refuses token data before any forward pass.
        let Input::Images(images) = x else { unreachable!("MlpSpec::check_examples admits images only") };
        let flat: Tensor<2> = images.clone().flatten(1, 3);
        relu(self.hidden2.forward(relu(self.hidden1.forward(flat))))
    }

    fn head(&self) -> &Linear {
        &self.head
    }

    fn architecture(&self) -> String {
        let [i, h1] = self.hidden1.weight.dims();
        let [_, h2] = self.hidden2.weight.dims();
        format!("example-mlp({i}-{h1}-{h2}, C={})", self.num_classes())
    }
}

/// The MLP's description: stored in `config.json`, compared to decide whether a run can be
/// reused, and built again for every retraining.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct MlpSpec {
    /// Image shape (channels, height, width).
    shape: [usize; 3],
    /// Widths of the two hidden layers.
    hidden: [usize; 2],
    /// Number of classes.
    classes: usize,
}

impl MlpSpec {
    /// An MLP for the images of `task`.
    fn for_task(task: &Task) -> genrep::models::Result<Self> {
        let Inputs::Images { channels, height, width, .. } = task.train.inputs else {
            return Err(ModelError::InputMismatch {
                model: "example-mlp".into(),
                expected: "images".into(),
                found: "token ids".into(),
            });
        };
        Ok(Self { shape: [channels, height, width], hidden: [128, 64], classes: task.num_classes() })
    }
}

impl Architecture for MlpSpec {
    type Model = Mlp;

    fn init(&self, device: &Device) -> genrep::models::Result<Mlp> {
        let inputs = self.shape.iter().product();
        Ok(Mlp {
            hidden1: LinearConfig::new(inputs, self.hidden[0]).init(device),
            hidden2: LinearConfig::new(self.hidden[0], self.hidden[1]).init(device),
            head: LinearConfig::new(self.hidden[1], self.classes).init(device),
        })
    }

    fn check_examples(&self, examples: &Examples) -> genrep::models::Result<()> {
        let mismatch = |found: String| ModelError::InputMismatch {
            model: format!("{self:?}"),
            expected: format!("{}x{}x{} images", self.shape[0], self.shape[1], self.shape[2]),
            found,
        };
        match examples.inputs {
            Inputs::Images { channels, height, width, .. } if [channels, height, width] == self.shape => Ok(()),
            Inputs::Images { channels, height, width, .. } => Err(mismatch(format!("{channels}x{height}x{width}"))),
            ref other => Err(mismatch(other.kind().into())),
        }
    }
}

fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "custom-architecture-out".into()));
    let data = DataDir::resolve(None)?;
    let device = parse_device("cpu")?;

    // 1. Train into a run directory.
    let task_options = TaskOptions { train_per_class: Some(500), test_per_class: Some(200), ..Default::default() };
    let task = build_task(&data, &"mnist:3-vs-8".parse()?, &task_options)?;
    let config = RunConfig {
        task: task.spec.clone(),
        task_options,
        model: MlpSpec::for_task(&task)?,
        train: TrainConfig { epochs: 3, lr: 0.05, checkpoint_every_epoch: true, ..TrainConfig::default() },
        device: "cpu".into(),
    };
    let run_dir = out.join("run");
    let outcome =
        train_run(&RunDir::new(&run_dir), &config, &task.train, Some(&task.test), &device, true, false, &mut [])?;
    let test_acc = outcome.history.last().and_then(|m| m.test_accuracy).unwrap_or(0.0);
    println!("custom MLP: {} steps, test accuracy {test_acc:.4}, run in {}", outcome.steps, run_dir.display());

    // 2. Reopen the run and explain test point 0 by the training examples.
    let run = LoadedRun::<MlpSpec>::open_as(&run_dir, &data, None)?;
    let explainer = Explainer::from_run(&run)?;
    let (attrs, _) = explainer.explain("tracking:ntk-final", &run.task.test, &[0], Target::Predicted)?;
    let a = &attrs[0];
    let names = &run.task.class_names;
    println!("test #0 predicted {} (logit {:.3})", names[a.explained_class], a.score);
    for (polarity, label) in [(Polarity::Proponents, "proponent"), (Polarity::Opponents, "opponent ")] {
        for r in a.top_k(3, polarity) {
            let y = run.task.train.labels[r.index];
            println!("  {label} train #{} (label {}) phi {:+.4}", r.index, names[y], r.phi);
        }
    }

    // 3. The deletion experiment of Table 1 with this architecture.
    let mut grid = ExperimentConfig::preset("smoke", Dataset::Mnist)?;
    grid.nets = 1;
    grid.tests_per_net = 2;
    let grid_out = out.join("experiment");
    let opts = RunOptions {
        out: grid_out.clone(),
        shard: Shard::ALL,
        jobs: 2,
        device: device.clone(),
        device_name: "cpu".into(),
        data: data.clone(),
    };
    let summary = run_with(&grid, &opts, &Quiet, MlpSpec::for_task)?;
    println!(
        "experiment: {} net(s) trained, {} rankings, {} retrainings",
        summary.nets_trained, summary.rankings, summary.retrains
    );
    let report = summarize(&grid, &dedup(read_dir_rows(&grid_out)?)?);
    println!("{}", markdown(&report));

    // 4. Dataset debugging: rank the training points for label checking.
    let debug = DebugConfig {
        task: "mnist:3-vs-8".parse()?,
        task_options: TaskOptions { train_per_class: Some(200), test_per_class: Some(200), ..Default::default() },
        flip_fraction: 0.1,
        seed: 0,
        train: TrainConfig {
            epochs: 2,
            batch_size: 64,
            lr: 0.05,
            optimizer: OptimizerConfig::Sgd { momentum: 0.0 },
            checkpoint_every_epoch: true,
            ..TrainConfig::default()
        },
        last_layer_l2: 3e-3,
        damping: 0.01,
        check_fractions: vec![0.1, 0.2],
    };
    let found = run_debug_with(&debug, &data, &device, "cpu", &out.join("debug"), &Quiet, MlpSpec::for_task)?;
    println!("debug: noisy accuracy {:.4}, corrected {:.4}", found.noisy_accuracy, found.clean_accuracy);
    for c in &found.curves {
        println!("  debug {:<12} ROC AUC {:.3}", c.method, c.roc_auc);
    }
    Ok(())
}
