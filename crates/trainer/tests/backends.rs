//! Every CPU backend compiled in trains to the same result as flex (within float tolerance).

mod common;

use burn::prelude::*;
use common::images as data;
use genrep_models::Architecture;
use genrep_models::{load_weights, save_weights, Classifier, Input, ModelSpec, VisionCnnConfig};
use genrep_trainer::{fit, try_init_seeded, FitOptions, TrainConfig};

#[test]
#[allow(deprecated)]
fn ndarray_agrees_with_flex_after_a_few_steps() {
    let spec =
        ModelSpec::VisionCnn(VisionCnnConfig { channels: [4, 6], kernel: 3, ..VisionCnnConfig::new(1, 8, 8, 2) });
    let train = data(40);
    let cfg =
        TrainConfig { epochs: 2, batch_size: 10, lr: 0.1, checkpoint_every_epoch: false, ..TrainConfig::default() };
    let path = std::env::temp_dir().join(format!("genrep-backends-{}.safetensors", std::process::id()));
    let flex = try_init_seeded(&Device::flex(), 5, |d| spec.init(d)).unwrap();
    save_weights(&flex, &path).unwrap();
    let mut nd = spec.init(&Device::ndarray().autodiff()).unwrap();
    load_weights(&mut nd, &path).unwrap();
    std::fs::remove_file(&path).ok();

    let a = fit(flex, &train, None, &cfg, &FitOptions::new(Device::flex()), &mut []).unwrap().model;
    let b = fit(nd, &train, None, &cfg, &FitOptions::new(Device::ndarray()), &mut []).unwrap().model;
    let probe = data(6);
    let la = a.valid().logits(&Input::all(&probe, &Device::flex())).into_data().try_to_vec::<f32>().unwrap();
    let lb = b.valid().logits(&Input::all(&probe, &Device::ndarray())).into_data().try_to_vec::<f32>().unwrap();
    for (x, y) in la.iter().zip(&lb) {
        // Different summation orders in the two backends: agree to ~1e-5 relative after 8 steps.
        assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "flex {x} vs ndarray {y}");
    }
}
