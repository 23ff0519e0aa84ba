//! Parameter counts, shapes, save/load and architecture checks of the built-in models.

use burn::module::Module;
use burn::prelude::*;
use genrep_data::{Examples, Inputs};
use genrep_models::{
    load_weights, save_weights, Architecture, Classifier, Input, ModelSpec, TextCnnConfig, VisionCnnConfig,
};

fn images(n: usize, c: usize, h: usize, w: usize) -> Examples {
    let data: Vec<f32> = (0..n * c * h * w).map(|i| ((i * 7919) % 255) as f32 / 255.0 - 0.5).collect();
    Examples {
        inputs: Inputs::Images { channels: c, height: h, width: w, data, mean: vec![0.0; c], std: vec![1.0; c] },
        labels: (0..n).map(|i| i % 2).collect(),
        source_index: (0..n).collect(),
        texts: None,
    }
}

#[test]
fn vision_param_counts_are_exact_and_documented() {
    let device = Device::flex();
    // MNIST binary / 10-class and CIFAR-10 binary: the figures written in README.md.
    for (cfg, expected) in [
        (VisionCnnConfig::new(1, 28, 28, 2), 58_370),
        (VisionCnnConfig::new(1, 28, 28, 10), 83_466),
        (VisionCnnConfig::new(3, 32, 32, 2), 61_890),
    ] {
        let model = cfg.init(&device).unwrap();
        assert_eq!(cfg.num_params(), expected, "{cfg:?}");
        assert_eq!(model.num_params(), expected, "burn's own count agrees for {cfg:?}");
    }
}

#[test]
fn text_param_count_is_exact() {
    let cfg = TextCnnConfig::new(30_522, 2);
    assert_eq!(cfg.num_params(), 1_578_210);
    let small =
        TextCnnConfig { vocab_size: 100, embed_dim: 8, hidden: 6, kernel: 3, num_classes: 2, embed_init_std: None };
    let model = small.init(&Device::flex()).unwrap();
    assert_eq!(model.num_params(), small.num_params());
}

#[test]
fn shapes_and_logits_are_head_of_features() {
    let device = Device::flex();
    let ex = images(5, 3, 8, 12);
    let model = ModelSpec::default_for(&ex, 3).unwrap().init(&device).unwrap();
    let x = Input::all(&ex, &device);
    let phi = model.features(&x);
    assert_eq!(phi.dims(), [5, 64 * 2 * 3]);
    assert_eq!(model.feature_dim(), 64 * 2 * 3);
    let logits = model.logits(&x);
    assert_eq!(logits.dims(), [5, 3]);
    let manual = phi.matmul(model.head().weight.val()) + model.head().bias.as_ref().unwrap().val().unsqueeze();
    let diff: f32 = (logits - manual).abs().max().into_scalar();
    assert!(diff < 1e-5, "logits = Theta_2 Phi + b, max diff {diff}");

    let tokens = Examples {
        inputs: Inputs::Tokens { seq_len: 7, ids: (0..21).map(|i| (i % 50) as u32).collect(), vocab_size: 50 },
        labels: vec![0, 1, 0],
        source_index: vec![0, 1, 2],
        texts: None,
    };
    let spec = ModelSpec::TextCnn(TextCnnConfig {
        vocab_size: 50,
        embed_dim: 8,
        hidden: 6,
        kernel: 3,
        num_classes: 2,
        embed_init_std: None,
    });
    let text = spec.init(&device).unwrap();
    assert_eq!(text.logits(&Input::all(&tokens, &device)).dims(), [3, 2]);
}

#[test]
fn save_load_round_trip_and_architecture_refusal() {
    let device = Device::flex();
    let dir = std::env::temp_dir().join(format!("genrep-models-{}", std::process::id()));
    let path = dir.join("w.safetensors");
    let spec = ModelSpec::VisionCnn(VisionCnnConfig::new(1, 8, 8, 2));
    device.seed(1);
    let a = spec.init(&device).unwrap();
    save_weights(&a, &path).unwrap();
    device.seed(2);
    let mut b = spec.init(&device).unwrap();
    let ex = images(4, 1, 8, 8);
    let x = Input::all(&ex, &device);
    let before: f32 = (a.logits(&x) - b.logits(&x)).abs().max().into_scalar();
    assert!(before > 0.0, "different seeds, different weights");
    load_weights(&mut b, &path).unwrap();
    let after: f32 = (a.logits(&x) - b.logits(&x)).abs().max().into_scalar();
    assert_eq!(after, 0.0, "loaded weights reproduce the saved model exactly");

    let mut other = ModelSpec::VisionCnn(VisionCnnConfig::new(1, 8, 8, 3)).init(&device).unwrap();
    let err = load_weights(&mut other, &path).unwrap_err().to_string();
    assert!(err.contains("C=2") && err.contains("C=3") && err.contains("w.safetensors"), "{err}");

    std::fs::write(dir.join("junk.safetensors"), b"not a safetensors file").unwrap();
    let err = load_weights(&mut b, &dir.join("junk.safetensors")).unwrap_err().to_string();
    assert!(err.contains("junk.safetensors") && err.contains("not a safetensors file"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_configs_and_mismatched_data_are_errors() {
    let e = VisionCnnConfig { height: 30, ..VisionCnnConfig::new(1, 28, 28, 2) }.validate().unwrap_err();
    assert!(e.to_string().contains("height"), "{e}");
    let ex = images(2, 1, 8, 8);
    let e = ModelSpec::for_examples("text-cnn", &ex, 2).unwrap_err().to_string();
    assert!(e.contains("token ids") && e.contains("images"), "{e}");
    let e = ModelSpec::for_examples("resnet", &ex, 2).unwrap_err().to_string();
    assert!(e.contains("resnet") && e.contains("vision-cnn"), "{e}");
    let spec = ModelSpec::VisionCnn(VisionCnnConfig::new(3, 8, 8, 2));
    assert!(spec.check_examples(&ex).is_err());
    let e = genrep_models::parse_device("tpu").unwrap_err().to_string();
    assert!(e.contains("tpu") && e.contains("flex"), "{e}");
}

#[test]
fn embedding_init_std_is_honoured_validated_and_absent_from_old_configs() {
    let device = Device::flex();
    let base =
        TextCnnConfig { vocab_size: 400, embed_dim: 10, hidden: 3, kernel: 3, num_classes: 2, embed_init_std: None };
    let std_of = |cfg: &TextCnnConfig| {
        let w: Vec<f32> = cfg.init(&device).unwrap().embedding.weight.val().into_data().try_to_vec().unwrap();
        let mean = w.iter().sum::<f32>() / w.len() as f32;
        (w.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / w.len() as f32).sqrt()
    };
    // 4,000 draws: the sample sd is within a few percent of the asked-for one.
    let default = std_of(&base);
    assert!((default - 1.0).abs() < 0.05, "burn's default N(0, 1): sd {default}");
    let small = std_of(&TextCnnConfig { embed_init_std: Some(0.02), ..base.clone() });
    assert!((small - 0.02).abs() < 0.001, "N(0, 0.02^2): sd {small}");
    assert_eq!(std_of(&TextCnnConfig { embed_init_std: Some(0.0), ..base.clone() }), 0.0);
    for bad in [-0.1, f32::NAN, f32::INFINITY] {
        let e = TextCnnConfig { embed_init_std: Some(bad), ..base.clone() }.validate().unwrap_err().to_string();
        assert!(e.contains("embed_init_std"), "{e}");
    }
    // A config without the option serialises as before the field existed (run fingerprints hold),
    // and such a config still reads.
    let json = serde_json::to_string(&base).unwrap();
    assert!(!json.contains("embed_init_std"), "{json}");
    let back: TextCnnConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, base);
}

/// Files written atomically get the permissions an ordinary `std::fs::write` gets in the same
/// directory (the umask's), not tempfile's private 0600.
#[cfg(unix)]
#[test]
fn atomic_writes_have_ordinary_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("genrep-perm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plain"), b"x").unwrap();
    genrep_models::write_atomic(&dir.join("atomic"), b"x").unwrap();
    let mode = |n: &str| std::fs::metadata(dir.join(n)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("atomic"), mode("plain") & 0o644);
    let _ = std::fs::remove_dir_all(&dir);
}
