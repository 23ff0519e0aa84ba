//! The GPU backend (wgpu) against the CPU: one epoch of training, per-example gradients (the
//! NTK-final kernel), and an influence explanation agree within float tolerance.
//!
//! Built only with `--features wgpu`: `cargo test --release --workspace --features wgpu --test
//! wgpu_parity`. `GENREP_WGPU_DEVICE` picks the device (default `wgpu`; e.g. `wgpu:gl` for
//! Mesa's software OpenGL, `wgpu:vulkan`). On a machine with no usable adapter each test says
//! so on stderr and passes, unless `GENREP_REQUIRE_GPU=1` (scripts/gpu-check.sh sets it on GPU
//! machines), which makes that a failure.
#![cfg(feature = "wgpu")]

use burn::prelude::*;
use genrep::data::{Examples, Inputs};
use genrep::explain::{Explainer, Target};
use genrep::models::VisionCnnConfig;
use genrep::models::{load_weights, parse_device, save_weights, Architecture, Classifier, Input, Model, ModelSpec};
use genrep::trainer::{fit, try_init_seeded, FitOptions, TrainConfig, TrainingRecord};

/// The GPU device under test, or `None` (with the reason on stderr) when there is none.
fn gpu() -> Option<Device> {
    let name = std::env::var("GENREP_WGPU_DEVICE").unwrap_or_else(|_| "wgpu".into());
    match parse_device(&name) {
        Ok(d) => Some(d),
        Err(e) if std::env::var("GENREP_REQUIRE_GPU").is_ok_and(|v| v == "1") => panic!("GENREP_REQUIRE_GPU=1: {e}"),
        Err(e) => {
            eprintln!("SKIPPED (no GPU device): {e}");
            None
        }
    }
}

/// Deterministic 1x8x8 images with two classes.
fn data(n: usize) -> Examples {
    let data: Vec<f32> = (0..n * 64).map(|i| (((i * 2654435761) % 1000) as f32 / 1000.0) - 0.5).collect();
    Examples {
        inputs: Inputs::Images { channels: 1, height: 8, width: 8, data, mean: vec![0.0], std: vec![1.0] },
        labels: (0..n).map(|i| (i * 7 + i / 3) % 2).collect(),
        source_index: (0..n).collect(),
        texts: None,
    }
}

fn spec() -> ModelSpec {
    ModelSpec::VisionCnn(VisionCnnConfig { channels: [4, 6], kernel: 3, ..VisionCnnConfig::new(1, 8, 8, 2) })
}

/// `model`'s weights in a fresh model on `device` (with autodiff).
fn copy_to(model: &Model, device: &Device, tag: &str) -> Model {
    let path = std::env::temp_dir().join(format!("genrep-wgpu-{tag}-{}.safetensors", std::process::id()));
    save_weights(model, &path).unwrap();
    let mut copy = spec().init(&device.clone().autodiff()).unwrap();
    load_weights(&mut copy, &path).unwrap();
    std::fs::remove_file(&path).ok();
    copy
}

fn logits(model: &Model, x: &Examples, device: &Device) -> Vec<f32> {
    model.logits(&Input::all(x, &device.clone().autodiff())).into_data().try_to_vec::<f32>().unwrap()
}

/// max_i |a_i - b_i| / max_i |a_i|.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-30);
    a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs())) / scale
}

#[test]
fn unknown_or_unavailable_graphics_apis_are_errors_not_panics() {
    let e = parse_device("wgpu:glide").unwrap_err().to_string();
    assert!(e.contains("wgpu:glide") && e.contains("not a graphics API"), "{e}");
    // DirectX 12 does not exist on Linux: acquiring it must fail cleanly, naming the device.
    if cfg!(target_os = "linux") {
        let e = parse_device("wgpu:dx12").unwrap_err().to_string();
        assert!(e.contains("wgpu:dx12") && e.contains("--device cpu"), "{e}");
    }
}

#[test]
fn one_epoch_of_training_agrees_with_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let train = data(40);
    let cfg =
        TrainConfig { epochs: 1, batch_size: 10, lr: 0.1, checkpoint_every_epoch: false, ..TrainConfig::default() };
    let cpu_model = try_init_seeded(&Device::flex(), 5, |d| spec().init(d)).unwrap();
    let gpu_model = copy_to(&cpu_model, &gpu, "train");
    let a = fit(cpu_model, &train, None, &cfg, &FitOptions::new(Device::flex()), &mut []).unwrap().model;
    let b = fit(gpu_model, &train, None, &cfg, &FitOptions::new(gpu.clone()), &mut []).unwrap().model;
    let probe = data(6);
    let (la, lb) = (logits(&a, &probe, &Device::flex()), logits(&b, &probe, &gpu));
    eprintln!("training parity: cpu {la:?}\n                 gpu {lb:?}");
    for (x, y) in la.iter().zip(&lb) {
        // Different summation orders: the CPU backends agree to ~1e-5 relative after 8 steps
        // (crates/trainer/tests/backends.rs); 4 steps here.
        assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "cpu {x} vs gpu {y}");
    }
}

#[test]
fn ntk_final_and_influence_explanations_agree_with_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let (train, test) = (data(40), data(3));
    let cfg =
        TrainConfig { epochs: 2, batch_size: 10, lr: 0.1, checkpoint_every_epoch: false, ..TrainConfig::default() };
    let model = try_init_seeded(&Device::flex(), 5, |d| spec().init(d)).unwrap();
    let mut record = TrainingRecord::new(train.len(), 2, false);
    let trained = fit(model, &train, None, &cfg, &FitOptions::new(Device::flex()), &mut [&mut record]).unwrap().model;
    // ndarray, like wgpu, takes burn's generic path (per-example backward passes, and
    // Gauss-Newton products by central differences): the same algorithm on two backends.
    #[allow(deprecated)]
    let reference = Device::ndarray();
    for (method, tol) in [
        // Per-example gradients contracted: float round-off only.
        ("tracking:ntk-final", 1e-3),
        // CG on Gauss-Newton products taken by central differences (step cbrt(eps)): each
        // product carries round-off of ~eps/h = 2e-5 relative that differs between backends,
        // and CG amplifies it by up to the condition number of the damped system.
        ("influence", 1e-2),
    ] {
        let explain = |device: &Device, tag: &str| {
            let m = copy_to(&trained, device, tag);
            let explainer = Explainer::new(m, &train).unwrap().with_record(record.clone()).unwrap();
            let (attrs, _) = explainer.explain(method, &test, &[0, 1, 2], Target::Predicted).unwrap();
            attrs.iter().flat_map(|a| a.scores.clone()).collect::<Vec<f64>>()
        };
        let (on_cpu, on_gpu) = (explain(&reference, "ref"), explain(&gpu, "gpu"));
        let err = rel_err(&on_cpu, &on_gpu);
        eprintln!("{method}: relative error gpu vs cpu {err:.2e} (tolerance {tol:.0e})");
        assert!(err <= tol, "{method}: gpu differs from cpu by {err:.2e} relative");
    }
}
