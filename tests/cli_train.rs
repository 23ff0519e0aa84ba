//! End-to-end tests of `genrep train` through the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;

fn genrep() -> Command {
    Command::new(env!("CARGO_BIN_EXE_genrep"))
}

fn data_dir() -> Option<PathBuf> {
    genrep::data::data_dir_from_env(Path::new(env!("CARGO_MANIFEST_DIR")))
}

fn train(dir: &PathBuf, out: &PathBuf, extra: &[&str]) -> std::process::Output {
    genrep()
        .arg("--data-dir")
        .arg(dir)
        .args(["train", "--task", "mnist:3-vs-8", "--train-per-class", "150", "--test-per-class", "50"])
        .args(["--epochs", "2", "--batch-size", "32", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn train_writes_a_complete_reproducible_run() {
    let Some(dir) = data_dir() else { return };
    let tmp = std::env::temp_dir().join(format!("genrep-cli-train-{}", std::process::id()));
    let (a, b) = (tmp.join("a"), tmp.join("b"));
    let out = train(&dir, &a, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("test accuracy"), "{stdout}");
    // Without a terminal the progress bar is hidden, so its end is logged instead.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(" steps (100%), "), "{stderr}");
    for f in ["config.json", "checkpoints.json", "record.json", "metrics.json", "metrics.csv"] {
        assert!(a.join(f).is_file(), "missing {f}");
    }
    for c in ["init", "middle", "final", "epoch-1"] {
        assert!(a.join(format!("checkpoints/{c}.safetensors")).is_file(), "missing checkpoint {c}");
    }
    // A second run with the same config and seed writes bit-identical weights.
    assert!(train(&dir, &b, &[]).status.success());
    let wa = std::fs::read(a.join("checkpoints/final.safetensors")).unwrap();
    let wb = std::fs::read(b.join("checkpoints/final.safetensors")).unwrap();
    assert!(wa == wb, "final weights differ between two identical runs");
    // Refuses to overwrite, names the flag.
    let again = train(&dir, &a, &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn bad_training_arguments_are_clear_errors() {
    let Some(dir) = data_dir() else { return };
    let tmp = std::env::temp_dir().join(format!("genrep-cli-train-bad-{}", std::process::id()));
    for (extra, needle) in [
        (vec!["--device", "tpu"], "`tpu` is not a device"),
        // Without the GPU backend compiled in, every wgpu spelling says how to get it; with it,
        // an unknown graphics API is named.
        (vec!["--device", "wgpu:glide"], if cfg!(feature = "wgpu") { "not a graphics API" } else { "--features wgpu" }),
        (vec!["--lr=-1", "--force"], "`lr`"),
        (vec!["--model", "text-cnn", "--force"], "token ids"),
        (vec!["--embed-init-std", "0.1", "--force"], "text-cnn only"),
    ] {
        let out = train(&dir, &tmp, &extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?}");
        assert!(err.contains(needle) && !err.contains("panicked"), "{extra:?}: {err}");
    }
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn a_text_task_trains_with_another_tokenizer_file() {
    let Some(dir) = data_dir() else { return };
    let tmp = std::env::temp_dir().join(format!("genrep-cli-train-tok-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    // A 12-token WordPiece vocabulary as a Hugging Face tokenizer.json.
    let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "a", "of", "to", "in", "game", "war", "##s"];
    let vocab: serde_json::Map<String, serde_json::Value> =
        tokens.iter().enumerate().map(|(i, t)| (t.to_string(), serde_json::json!(i))).collect();
    let json = serde_json::json!({"model": {"type": "WordPiece", "continuing_subword_prefix": "##", "vocab": vocab}});
    let tokenizer = tmp.join("tokenizer.json");
    std::fs::write(&tokenizer, json.to_string()).unwrap();
    let out = tmp.join("run");
    let run = genrep()
        .arg("--data-dir")
        .arg(&dir)
        .args(["train", "--task", "agnews:world-vs-sports", "--train-per-class", "20", "--test-per-class", "10"])
        .args(["--epochs", "1", "--seq-len", "16", "--embed-init-std", "0.05", "--tokenizer"])
        .arg(&tokenizer)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    // The text model's embedding follows the tokenizer: 12 rows, not BERT's 30,522.
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["content"]["model"]["vocab_size"], 12, "{config}");
    assert!((config["content"]["model"]["embed_init_std"].as_f64().unwrap() - 0.05).abs() < 1e-6, "{config}");
    assert!(config["content"]["task_options"]["tokenizer"].as_str().is_some_and(|p| p.ends_with("tokenizer.json")));
    // A tokenizer of another kind is a clear error naming the file.
    std::fs::write(&tokenizer, r#"{"model": {"type": "BPE", "vocab": {}}}"#).unwrap();
    let bad = genrep()
        .arg("--data-dir")
        .arg(&dir)
        .args(["train", "--task", "agnews:world-vs-sports", "--train-per-class", "20", "--force", "--tokenizer"])
        .arg(&tokenizer)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("tokenizer.json") && err.contains("BPE"), "{err}");
    std::fs::remove_dir_all(&tmp).ok();
}
