//! Plugging a new architecture into genrep by implementing one trait.
//!
//! This file defines a 2-hidden-layer MLP that is not part of genrep, implements
//! [`Classifier`] for it (features + linear head), and trains it with genrep's trainer on
//! binary MNIST, recording the tracking representers along the way. Nothing else in the
//! workspace needs to change. Then it explains a test prediction with the tracking
//! representer over the NTK of the final model.
//!
//! Run: `GENREP_DATA=/path/to/datasets cargo run --release --example custom_architecture`

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use genrep::data::{build_task, DataDir, TaskOptions};
use genrep::explain::{Explainer, Polarity, Target};
use genrep::models::{Classifier, Input};
use genrep::trainer::{fit, init_seeded, FitOptions, TrainConfig, TrainingRecord};

/// A multi-layer perceptron on flattened images.
#[derive(Module, Debug)]
struct Mlp {
    hidden1: Linear,
    hidden2: Linear,
    head: Linear,
}

impl Mlp {
    fn new(inputs: usize, classes: usize, device: &Device) -> Self {
        Self {
            hidden1: LinearConfig::new(inputs, 128).init(device),
            hidden2: LinearConfig::new(128, 64).init(device),
            head: LinearConfig::new(64, classes).init(device),
        }
    }
}

impl Classifier for Mlp {
    fn features(&self, x: &Input) -> Tensor<2> {
        let Input::Images(images) = x else { panic!("Mlp takes images") };
        let flat: Tensor<2> = images.clone().flatten(1, 3);
        relu(self.hidden2.forward(relu(self.hidden1.forward(flat))))
    }

    fn head(&self) -> &Linear {
        &self.head
    }

    fn head_mut(&mut self) -> &mut Linear {
        &mut self.head
    }

    fn architecture(&self) -> String {
        "example-mlp(784-128-64)".into()
    }
}

fn main() -> anyhow::Result<()> {
    let dir = DataDir::resolve(None)?;
    let options = TaskOptions { train_per_class: Some(1000), test_per_class: Some(500), ..Default::default() };
    let task = build_task(&dir, &"mnist:3-vs-8".parse()?, &options)?;
    let device = Device::flex();
    let model = init_seeded(&device, 0, |d| Mlp::new(28 * 28, task.num_classes(), d));
    let config = TrainConfig { epochs: 3, lr: 0.05, ..TrainConfig::default() };
    let mut record = TrainingRecord::new(task.train.len(), task.num_classes(), false);
    let outcome = fit(model, &task.train, Some(&task.test), &config, &FitOptions::new(device), &mut [&mut record])?;
    let test_acc = outcome.history.last().and_then(|m| m.test_accuracy).unwrap_or(0.0);
    println!("custom MLP: {} steps, test accuracy {test_acc:.4}", outcome.steps);
    // Explain test point 0 by the training examples: tracking representer x NTK-final.
    let explainer = Explainer::new(outcome.model, &task.train)?.with_record(record)?;
    let (attrs, _) = explainer.explain("tracking:ntk-final", &task.test, &[0], Target::Predicted)?;
    let a = &attrs[0];
    println!("test #0 predicted {} (logit {:.3})", task.class_names[a.explained_class], a.score);
    for r in a.top_k(3, Polarity::Proponents) {
        println!(
            "  proponent train #{} (label {}) phi {:+.4}",
            r.index, task.class_names[task.train.labels[r.index]], r.phi
        );
    }
    for r in a.top_k(3, Polarity::Opponents) {
        println!(
            "  opponent  train #{} (label {}) phi {:+.4}",
            r.index, task.class_names[task.train.labels[r.index]], r.phi
        );
    }
    Ok(())
}
