//! The benchmark drivers behind `genrep bench` on real binary MNIST: they must run the library's
//! real paths and report consistent figures. Timing values are not asserted (speed is measured
//! in benchmarks, not tests); what is asserted could fail: the three gradient contraction paths
//! agree, every repetition is counted, every phase and layer is timed.

use burn::prelude::Device;
use genrep_data::{build_task, data_dir_from_env, DataDir, TaskOptions};
use genrep_experiments::bench::{
    bench_grads, bench_train, model_macs, profile_layers, profile_step, take_cycled, TrainBench,
};
use genrep_models::{Architecture, ModelSpec};
use genrep_trainer::{fit, try_init_seeded, Engine, FitOptions, TrainConfig};
use std::path::Path;

#[test]
fn bench_drivers_run_the_real_paths_and_agree() {
    let Some(dir) = data_dir_from_env(Path::new(env!("CARGO_MANIFEST_DIR"))) else { return };
    let options = TaskOptions { train_per_class: Some(40), test_per_class: Some(4), ..TaskOptions::default() };
    let task = build_task(&DataDir::at(&dir), &"mnist:3-vs-8".parse().unwrap(), &options).unwrap();
    let device = Device::flex();

    let bench = TrainBench {
        batch_size: 8,
        steps: 3,
        warmup: 1,
        reps: 2,
        lr: 0.05,
        momentum: 0.0,
        seed: 7,
        engine: Engine::Auto,
        seq_len: 128,
    };
    let (result, model) = bench_train(&task, "cpu", &device, &bench).unwrap();
    assert_eq!(result.examples_per_s.len(), 2);
    assert!(result.examples_per_s.iter().all(|r| r.is_finite() && *r > 0.0));
    assert!(result.gflops_median.unwrap() > 0.0);
    assert!(bench_train(&task, "cpu", &device, &TrainBench { steps: 0, ..bench.clone() }).is_err());

    let timed = take_cycled(&task.train, 3 * 8);
    assert_eq!(timed.len(), 24);
    let phases = profile_step(model, &timed, 8, 0.05, &device).unwrap();
    assert!(!phases.is_empty() && phases.iter().all(|(_, ms)| ms.is_finite() && *ms >= 0.0));

    let spec = ModelSpec::default_for(&task.train, task.num_classes()).unwrap();
    let fresh = try_init_seeded(&device, 7, |d| spec.init(d)).unwrap();
    let layers = profile_layers(&fresh, &timed, 8, &device, model_macs(&spec, 128), 2).unwrap().unwrap();
    for name in ["conv1", "conv2", "head"] {
        let l = layers.iter().find(|l| l.layer == name).unwrap_or_else(|| panic!("no timing for {name}"));
        assert!(l.forward_gflops.unwrap() > 0.0, "{name}");
    }

    // A trained model, so the per-example gradients are not those of the initial weights.
    let cfg = TrainConfig { epochs: 1, batch_size: 8, ..TrainConfig::default() };
    let trained = fit(fresh, &task.train, None, &cfg, &FitOptions::new(device.clone()), &mut []).unwrap().model;
    let mut calls = 0;
    let grads = bench_grads(&trained, &task, 20, 2, 2, &mut |_, _, _| calls += 1).unwrap();
    assert_eq!(grads.examples, 20);
    // Two repetitions per path: batch-1, burn batched, and the fused path the CNN has on CPU.
    assert!(grads.fused_examples_per_s.is_some());
    assert_eq!(calls, 6);
    assert!(grads.max_rel_diff < 1e-4, "paths disagree: {:.2e}", grads.max_rel_diff);
    assert!(bench_grads(&trained, &task, 20, task.test.len() + 1, 1, &mut |_, _, _| {}).is_err());
}
