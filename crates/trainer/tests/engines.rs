//! The fused CPU training path against burn's autodiff path (`Engine::Burn`) from the same
//! initial weights: every optimiser, weight decay, the last-layer L2 penalty, exclusions, both
//! architectures, and the training record. The gradients themselves are checked to 1e-5 in
//! genrep-models' `fast_paths.rs`; here the two trajectories, which differ only in float
//! summation order, must stay within 1e-4 of each other over 8-12 steps.

mod common;

use burn::prelude::*;
use common::images;
use genrep_data::{Examples, Inputs};
use genrep_models::params::flat_values;
use genrep_models::{Architecture, Model, ModelSpec, TextCnnConfig, VisionCnnConfig};
use genrep_trainer::{
    fit, try_init_seeded, Engine, ExclusionProtocol, FitOptions, LrSchedule, OptimizerConfig, TrainConfig,
    TrainingRecord,
};

fn texts(n: usize, len: usize, vocab: usize) -> Examples {
    let ids: Vec<u32> = (0..n * len)
        .map(|k| {
            let (i, t) = (k / len, k % len);
            if t < 4 + i % 5 {
                (1 + (i * 13 + t * 7) % (vocab - 1)) as u32
            } else {
                0
            }
        })
        .collect();
    Examples {
        inputs: Inputs::Tokens { seq_len: len, ids, vocab_size: vocab },
        labels: (0..n).map(|i| (i * 5 + i / 2) % 2).collect(),
        source_index: (0..n).collect(),
        texts: None,
    }
}

fn run(
    spec: &ModelSpec,
    train: &Examples,
    cfg: &TrainConfig,
    engine: Engine,
    excluded: &[usize],
) -> (Vec<f32>, Vec<f64>) {
    let model: Model = try_init_seeded(&Device::flex(), 9, |d| spec.init(d)).unwrap();
    let mut opts = FitOptions::new(Device::flex());
    opts.engine = engine;
    opts.excluded = excluded.to_vec();
    let mut record = TrainingRecord::new(train.len(), 2, false);
    let out = fit(model, train, None, cfg, &opts, &mut [&mut record]).unwrap();
    (flat_values(&out.model), record.tracking_sum.clone())
}

fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f64) {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
    let err = a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs() as f64));
    assert!(err <= tol * scale, "{what}: largest difference {err:.3e} of largest value {scale:.3e}");
}

#[test]
fn fused_training_follows_burns_trajectory() {
    let vision =
        ModelSpec::VisionCnn(VisionCnnConfig { channels: [4, 6], kernel: 3, ..VisionCnnConfig::new(1, 8, 8, 2) });
    let text = ModelSpec::TextCnn(TextCnnConfig {
        vocab_size: 30,
        embed_dim: 5,
        hidden: 6,
        kernel: 3,
        num_classes: 2,
        embed_init_std: None,
    });
    let base =
        TrainConfig { epochs: 2, batch_size: 10, lr: 0.1, checkpoint_every_epoch: false, ..TrainConfig::default() };
    let cases = [
        ("plain SGD", base.clone()),
        (
            "momentum + weight decay",
            TrainConfig { optimizer: OptimizerConfig::Sgd { momentum: 0.9 }, weight_decay: 1e-3, ..base.clone() },
        ),
        ("Adam", TrainConfig { optimizer: OptimizerConfig::adam(), lr: 0.01, ..base.clone() }),
        ("last-layer L2", TrainConfig { last_layer_l2: 0.05, ..base.clone() }),
        (
            "linear decay, refilled batches",
            TrainConfig { schedule: LrSchedule::LinearDecay, exclusion: ExclusionProtocol::Refill, ..base.clone() },
        ),
    ];
    for (spec, train, name) in [(&vision, images(48), "vision"), (&text, texts(40, 9, 30), "text")] {
        for (label, cfg) in &cases {
            for excluded in [vec![], vec![3, 17, 20]] {
                let (wf, rf) = run(spec, &train, cfg, Engine::Auto, &excluded);
                let (wb, rb) = run(spec, &train, cfg, Engine::Burn, &excluded);
                let what = format!("{name}, {label}, excluded {excluded:?}");
                assert_ne!(
                    wf,
                    flat_values(&try_init_seeded(&Device::flex(), 9, |d| spec.init(d)).unwrap()),
                    "{what}: trained"
                );
                assert_close(&format!("{what}: weights"), &wf, &wb, 1e-4);
                let (rf, rb): (Vec<f32>, Vec<f32>) =
                    (rf.iter().map(|&v| v as f32).collect(), rb.iter().map(|&v| v as f32).collect());
                assert_close(&format!("{what}: tracking record"), &rf, &rb, 1e-4);
            }
        }
    }
}

#[test]
fn fused_training_is_bit_deterministic() {
    let spec =
        ModelSpec::VisionCnn(VisionCnnConfig { channels: [4, 6], kernel: 3, ..VisionCnnConfig::new(1, 8, 8, 2) });
    let cfg =
        TrainConfig { epochs: 2, batch_size: 10, lr: 0.1, checkpoint_every_epoch: false, ..TrainConfig::default() };
    let train = images(48);
    let a = run(&spec, &train, &cfg, Engine::Auto, &[]);
    let b = run(&spec, &train, &cfg, Engine::Auto, &[]);
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
}
