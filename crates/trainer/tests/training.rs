//! The trainer against independent oracles: closed-form loss derivatives vs finite differences,
//! bit-exact determinism, exclusions, the tracking record, and error paths.

use burn::prelude::*;
use genrep_data::Inputs;
use genrep_models::Architecture;
use genrep_models::{Classifier, Input, Model};
use genrep_trainer::loss::softmax_cross_entropy;
use genrep_trainer::{
    fit, try_init_seeded, FitOptions, OptimizerConfig, StepInfo, StepObserver, TrainConfig, TrainingRecord,
};

mod common;
use common::{cfg, spec, toy};

fn new_model(seed: u64) -> Model {
    try_init_seeded(&Device::flex(), seed, |d| spec().init(d)).unwrap()
}

fn flat_params(model: &Model, x: &Input) -> Vec<f32> {
    // Logits on a fixed probe batch plus the head weights: equal iff training was identical.
    let mut v = model.valid().logits(x).into_data().try_to_vec::<f32>().unwrap();
    v.extend(model.head().weight.val().into_data().try_to_vec::<f32>().unwrap());
    v
}

#[test]
fn cross_entropy_derivative_matches_finite_differences() {
    let logits = [0.3f32, -1.2, 2.0, 0.7, 0.1, -0.4];
    let labels = [2usize, 0];
    let parts = softmax_cross_entropy(&logits, &labels, 3);
    let eps = 1e-3f32;
    for k in 0..logits.len() {
        let mut plus = logits;
        let mut minus = logits;
        plus[k] += eps;
        minus[k] -= eps;
        // Sum (not mean) of per-example losses: its derivative is the per-example dL_i/df_i.
        let n = labels.len() as f64;
        let fd = (softmax_cross_entropy(&plus, &labels, 3).mean_loss
            - softmax_cross_entropy(&minus, &labels, 3).mean_loss)
            * n
            / (2.0 * eps as f64);
        assert!((fd - parts.dloss_dlogits[k] as f64).abs() < 1e-3, "k={k}: fd {fd} vs {}", parts.dloss_dlogits[k]);
    }
    assert_eq!(parts.correct, 2, "both rows' arg-max is their label");
}

#[test]
fn same_seed_gives_bit_identical_weights_and_empty_exclusion_changes_nothing() {
    let train = toy(64, 1);
    let probe = Input::all(&toy(8, 99), &Device::flex());
    let opts = FitOptions::new(Device::flex());
    let a = fit(new_model(7), &train, None, &cfg(), &opts, &mut []).unwrap();
    let b = fit(new_model(7), &train, None, &cfg(), &opts, &mut []).unwrap();
    assert_eq!(flat_params(&a.model, &probe), flat_params(&b.model, &probe), "same config + seed");
    let mut excl = opts.clone();
    excl.excluded = vec![];
    let c = fit(new_model(7), &train, None, &cfg(), &excl, &mut []).unwrap();
    assert_eq!(flat_params(&a.model, &probe), flat_params(&c.model, &probe), "empty exclusion set");
    let d = fit(new_model(8), &train, None, &cfg(), &opts, &mut []).unwrap();
    assert_ne!(flat_params(&a.model, &probe), flat_params(&d.model, &probe), "another init seed");
}

/// Records every batch it sees.
#[derive(Default)]
struct Batches(Vec<Vec<usize>>);

impl StepObserver for Batches {
    fn on_step(&mut self, s: &StepInfo<'_>) {
        self.0.push(s.batch_indices.to_vec());
    }
}

#[test]
fn exclusions_drop_points_from_their_batches_and_nothing_else() {
    let train = toy(64, 2);
    let mut full = Batches::default();
    let mut cut = Batches::default();
    let opts = FitOptions::new(Device::flex());
    fit(new_model(1), &train, None, &cfg(), &opts, &mut [&mut full]).unwrap();
    let mut excl = opts.clone();
    excl.excluded = vec![5, 17, 40];
    let probe = Input::all(&toy(8, 98), &Device::flex());
    let out = fit(new_model(1), &train, None, &cfg(), &excl, &mut [&mut cut]).unwrap();
    assert_eq!(full.0.len(), cut.0.len(), "same number of steps");
    for (f, c) in full.0.iter().zip(&cut.0) {
        let expected: Vec<usize> = f.iter().copied().filter(|i| ![5, 17, 40].contains(i)).collect();
        assert_eq!(&expected, c);
    }
    let orig = fit(new_model(1), &train, None, &cfg(), &opts, &mut []).unwrap();
    assert_ne!(flat_params(&orig.model, &probe), flat_params(&out.model, &probe), "deletion changes the model");
    let mut bad = opts.clone();
    bad.excluded = vec![64];
    let e = fit(new_model(1), &train, None, &cfg(), &bad, &mut []).unwrap_err().to_string();
    assert!(e.contains("64") && e.contains("out of range"), "{e}");
}

#[test]
fn training_record_accumulates_lr_over_batch_times_loss_derivative() {
    let train = toy(30, 3);
    let mut record = TrainingRecord::new(30, 2, true);
    let c = TrainConfig { epochs: 1, batch_size: 30, ..cfg() };
    let model = new_model(4);
    // Oracle: one full-batch step, so A_i = (lr/n) (softmax(f(x_i)) - e_{y_i}) at the initial weights.
    let logits = model.valid().logits(&Input::all(&train, &Device::flex())).into_data().try_to_vec::<f32>().unwrap();
    let expected = softmax_cross_entropy(&logits, &train.labels, 2).dloss_dlogits;
    fit(model, &train, None, &c, &FitOptions::new(Device::flex()), &mut [&mut record]).unwrap();
    assert_eq!(record.steps, 1);
    for i in 0..30 {
        for k in 0..2 {
            let want = 0.1 / 30.0 * expected[i * 2 + k] as f64;
            assert!((record.tracking(i)[k] - want).abs() < 1e-6, "i={i} k={k}");
        }
    }
    assert!(record.visits.iter().all(|&v| v == 1));
    assert_eq!(record.log.as_ref().map(|l| l.len()), Some(1));
}

#[test]
fn training_learns_the_toy_task() {
    let train = toy(200, 5);
    let test = toy(100, 6);
    let c = TrainConfig { epochs: 15, batch_size: 20, lr: 0.2, ..cfg() };
    let out = fit(new_model(2), &train, Some(&test), &c, &FitOptions::new(Device::flex()), &mut []).unwrap();
    let acc = out.history.last().unwrap().test_accuracy.unwrap();
    // A linear rule on the pixels: a small CNN should get far above chance (0.5).
    assert!(acc > 0.8, "test accuracy {acc}");
}

#[test]
fn non_finite_loss_and_bad_config_are_errors() {
    let mut train = toy(20, 7);
    if let Inputs::Images { data, .. } = &mut train.inputs {
        data.iter_mut().for_each(|v| *v = f32::NAN);
    }
    let e = fit(new_model(1), &train, None, &cfg(), &FitOptions::new(Device::flex()), &mut []).unwrap_err().to_string();
    assert!(e.contains("non-finite loss") && e.contains("step 0"), "{e}");
    let e = fit(
        new_model(1),
        &toy(10, 1),
        None,
        &TrainConfig { lr: -1.0, ..cfg() },
        &FitOptions::new(Device::flex()),
        &mut [],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("`lr`"), "{e}");
    let mut three = toy(10, 1);
    three.labels[0] = 2;
    let e = fit(new_model(1), &three, None, &cfg(), &FitOptions::new(Device::flex()), &mut []).unwrap_err().to_string();
    assert!(e.contains("label 2"), "{e}");
}

#[test]
fn momentum_and_adam_also_train_deterministically() {
    let train = toy(64, 8);
    let probe = Input::all(&toy(8, 97), &Device::flex());
    for opt in [OptimizerConfig::Sgd { momentum: 0.9 }, OptimizerConfig::adam()] {
        let c = TrainConfig { optimizer: opt.clone(), lr: 0.01, weight_decay: 1e-4, ..cfg() };
        let a = fit(new_model(3), &train, None, &c, &FitOptions::new(Device::flex()), &mut []).unwrap();
        let b = fit(new_model(3), &train, None, &c, &FitOptions::new(Device::flex()), &mut []).unwrap();
        assert_eq!(flat_params(&a.model, &probe), flat_params(&b.model, &probe), "{opt:?}");
    }
}

#[test]
fn linear_decay_reaches_the_record_and_checkpoints() {
    // With lr (1 - t/T), step t's rate is what the tracking record sums and what TracInCP reads
    // from the epoch checkpoints (the mean rate of the epoch just finished).
    let train = toy(40, 9);
    let c = TrainConfig { schedule: genrep_trainer::LrSchedule::LinearDecay, checkpoint_every_epoch: true, ..cfg() };
    let dir = std::env::temp_dir().join(format!("genrep-decay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut opts = FitOptions::new(Device::flex());
    opts.checkpoint_dir = Some(dir.clone());
    struct Rates(Vec<f64>);
    impl StepObserver for Rates {
        fn on_step(&mut self, info: &StepInfo<'_>) {
            self.0.push(info.lr);
        }
    }
    let mut rates = Rates(Vec::new());
    let out = fit(new_model(4), &train, None, &c, &opts, &mut [&mut rates]).unwrap();
    let total = c.total_steps(40);
    assert_eq!(rates.0.len(), total);
    for (t, lr) in rates.0.iter().enumerate() {
        assert!((lr - c.lr * (1.0 - t as f64 / total as f64)).abs() < 1e-12);
    }
    let per_epoch = total / c.epochs;
    let fin = out.checkpoints.iter().find(|k| k.name == "final").unwrap();
    let want: f64 = rates.0[total - per_epoch..].iter().sum::<f64>() / per_epoch as f64;
    assert!((fin.lr - want).abs() < 1e-12, "final checkpoint lr {} vs the last epoch's mean {want}", fin.lr);
    let _ = std::fs::remove_dir_all(&dir);
}
