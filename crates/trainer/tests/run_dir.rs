//! Run directories are self-checking: stale files of another training run, corrupt or edited
//! checkpoints, checkpoint paths leaving the directory, unparsable or mistyped JSON, data other
//! than the run was trained on, and concurrent writers are all errors naming the file.

mod common;

use burn::prelude::Device;
use common::{cfg, spec, toy};
use genrep_data::{Examples, Task, TaskOptions, TaskSpec};
use genrep_trainer::{train_run, DirLock, RunConfig, RunDir, TrainError};
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("genrep-rundir-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

fn run_cfg(seed: u64) -> RunConfig {
    RunConfig {
        task: "mnist:3-vs-8".parse().unwrap(),
        task_options: TaskOptions::default(),
        model: spec(),
        train: genrep_trainer::TrainConfig { seed, checkpoint_every_epoch: true, ..cfg() },
        device: "flex".into(),
    }
}

fn task(train: Examples, test: Examples) -> Task {
    let spec: TaskSpec = "mnist:3-vs-8".parse().unwrap();
    Task { class_names: spec.class_names(), spec, options: TaskOptions::default(), train, test }
}

fn train(dir: &Path, seed: u64) -> RunDir {
    let run = RunDir::new(dir);
    train_run(&run, &run_cfg(seed), &toy(40, 1), Some(&toy(10, 2)), &Device::flex(), false, false, &mut []).unwrap();
    run
}

fn err_text<T: std::fmt::Debug>(r: Result<T, TrainError>) -> String {
    r.expect_err("expected an error").to_string()
}

/// Edits `file` (JSON) of the run with `f`.
fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

#[test]
fn retraining_clears_stale_files_and_mixed_runs_are_refused() {
    let dir = tmp("stale");
    let run = train(&dir, 3);
    let old_record = std::fs::read(dir.join("record.json")).unwrap();
    std::fs::create_dir_all(dir.join("cache")).unwrap();
    std::fs::write(dir.join("cache/old-entry.json"), "{}").unwrap();
    std::fs::write(dir.join("checkpoints/epoch-9.safetensors"), "stale").unwrap();
    // Retrain with another seed into the same directory (what `train --force` does).
    train(&dir, 4);
    assert!(!dir.join("cache").exists(), "the old run's cache survived a retraining");
    assert!(!dir.join("checkpoints/epoch-9.safetensors").exists(), "a stale checkpoint survived");
    run.read_record().unwrap();
    // A record of the first run copied back (a half-finished overwrite) is refused.
    std::fs::write(dir.join("record.json"), &old_record).unwrap();
    let e = err_text(run.read_record());
    assert!(e.contains("record.json") && e.contains("another training run"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_is_verified_against_the_data_it_is_used_with() {
    let dir = tmp("verify");
    let run = train(&dir, 3);
    run.verify(&task(toy(40, 1), toy(10, 2))).unwrap();
    let e = err_text(run.verify(&task(toy(40, 9), toy(10, 2))));
    assert!(e.contains("config.json") && e.contains("training-set content hash"), "{e}");
    let e = err_text(run.verify(&task(toy(30, 1), toy(10, 2))));
    assert!(e.contains("training examples: the run was trained with 40, the data here gives 30"), "{e}");
    let e = err_text(run.verify(&task(toy(40, 1), toy(12, 2))));
    assert!(e.contains("test examples"), "{e}");
    // Reuse is only for the same settings and data.
    let data = genrep_data::DataFingerprint::of_splits(&toy(40, 1), Some(&toy(10, 2)), 2);
    assert!(run.is_complete_for(&run_cfg(3), &data).unwrap());
    assert!(!run.is_complete_for(&run_cfg(5), &data).unwrap());
    let other = genrep_data::DataFingerprint::of_splits(&toy(40, 7), Some(&toy(10, 2)), 2);
    assert!(!run.is_complete_for(&run_cfg(3), &other).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupt_truncated_nan_and_escaping_checkpoints_are_refused() {
    let dir = tmp("ckpt");
    let run = train(&dir, 3);
    let dev = Device::flex().autodiff();
    run.load_model("final", &dev).unwrap();
    let file = dir.join("checkpoints/final.safetensors");
    let good = std::fs::read(&file).unwrap();

    // One flipped byte, then a truncation: the recorded hash catches both.
    let mut flipped = good.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x40;
    std::fs::write(&file, &flipped).unwrap();
    let e = err_text(run.load_model("final", &dev));
    assert!(e.contains("final.safetensors") && e.contains("content hash"), "{e}");
    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    assert!(err_text(run.load_model("final", &dev)).contains("content hash"));

    // NaN weights with a matching hash (as a diverged training would write): refused by value.
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let mut nan = good.clone();
    nan[8 + n..8 + n + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&file, &nan).unwrap();
    let hash = format!("{:016x}", genrep_data::fnv1a(&[&nan]));
    edit_json(&dir.join("checkpoints.json"), |v| {
        for c in v["content"].as_array_mut().unwrap() {
            if c["name"] == "final" {
                c["hash"] = serde_json::Value::String(hash.clone());
            }
        }
    });
    let e = err_text(run.load_model("final", &dev));
    assert!(e.contains("final.safetensors") && e.contains("NaN") && e.contains("non-finite"), "{e}");

    // A checkpoint entry naming a file outside the run directory.
    for escape in ["../../etc/passwd", "/etc/passwd", "sub/../../x.safetensors"] {
        edit_json(&dir.join("checkpoints.json"), |v| v["content"][0]["file"] = escape.into());
        let e = err_text(run.read_checkpoints());
        assert!(e.contains("checkpoints.json") && e.contains("plain file name"), "{escape}: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unparsable_and_mistyped_json_name_the_file_and_field() {
    let dir = tmp("json");
    let run = train(&dir, 3);
    // A record that does not parse is an error, not "no record".
    std::fs::write(dir.join("record.json"), "{\"genrep_run\": ").unwrap();
    let e = err_text(run.read_record_if_present());
    assert!(e.contains("record.json") && e.contains("invalid JSON"), "{e}");
    // Wrong types and wrong sizes.
    let run = train(&dir, 3);
    edit_json(&dir.join("record.json"), |v| v["content"]["visits"] = "many".into());
    let e = err_text(run.read_record());
    assert!(e.contains("record.json") && e.contains("content"), "{e}");
    let run = train(&dir, 3);
    edit_json(&dir.join("record.json"), |v| {
        v["content"]["tracking_sum"].as_array_mut().unwrap().pop();
    });
    let e = err_text(run.read_record());
    assert!(e.contains("tracking_sum") && e.contains("expected n x C"), "{e}");
    edit_json(&dir.join("config.json"), |v| v["content"]["train"]["epochs"] = "two".into());
    let e = err_text(run.read_config());
    assert!(e.contains("config.json") && e.contains("content"), "{e}");
    // A task spec naming a class the dataset lacks (read back, not parsed from the CLI).
    let run = train(&dir, 3);
    edit_json(&dir.join("config.json"), |v| v["content"]["task"]["pair"] = serde_json::json!([3, 42]));
    let e = err_text(run.read_config());
    assert!(e.contains("config.json") && e.contains("out of range"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_directory_lock_refuses_a_second_holder_and_survives_a_killed_one() {
    let dir = tmp("lock");
    let first = DirLock::acquire(&dir, "train").unwrap();
    assert!(first.stale.is_none());
    let e = DirLock::acquire(&dir, "train").unwrap_err().to_string();
    assert!(e.contains("train.lock") && e.contains(&format!("pid {}", std::process::id())), "{e}");
    // Another lock name of the same directory is independent.
    let other = DirLock::acquire(&dir, "experiment").unwrap();
    drop(other);
    drop(first);
    let again = DirLock::acquire(&dir, "train").unwrap();
    assert!(again.stale.is_none(), "a cleanly released lock is not stale");
    drop(again);
    // A lock file left by a process killed while holding it (the OS released the lock).
    std::fs::write(dir.join("train.lock"), "pid 999999 on host since unix time 0: genrep train").unwrap();
    let taken = DirLock::acquire(&dir, "train").unwrap();
    assert!(taken.stale.as_deref().is_some_and(|s| s.contains("pid 999999")), "{:?}", taken.stale);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A user's own architecture (not a `ModelSpec`): a linear model on flattened pixels, with a
/// linear "feature" layer so that it has a head.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct TwoLinear {
    pixels: usize,
    width: usize,
}

#[derive(burn::module::Module, Debug)]
struct TwoLinearNet {
    hidden: burn::nn::Linear,
    head: burn::nn::Linear,
}

impl genrep_models::Classifier for TwoLinearNet {
    fn features(&self, x: &genrep_models::Input) -> burn::prelude::Tensor<2> {
        let genrep_models::Input::Images(images) = x else { unreachable!("checked by TwoLinear::check_examples") };
        self.hidden.forward(images.clone().flatten(1, 3))
    }
    fn head(&self) -> &burn::nn::Linear {
        &self.head
    }
    fn architecture(&self) -> String {
        format!("two-linear({})", self.hidden.weight.dims()[0])
    }
}

impl genrep_models::Architecture for TwoLinear {
    type Model = TwoLinearNet;
    fn init(&self, device: &Device) -> genrep_models::Result<TwoLinearNet> {
        Ok(TwoLinearNet {
            hidden: burn::nn::LinearConfig::new(self.pixels, self.width).init(device),
            head: burn::nn::LinearConfig::new(self.width, 2).init(device),
        })
    }
    fn check_examples(&self, examples: &Examples) -> genrep_models::Result<()> {
        match examples.inputs {
            genrep_data::Inputs::Images { height, width, channels, .. } if height * width * channels == self.pixels => {
                Ok(())
            }
            _ => Err(genrep_models::ModelError::InputMismatch {
                model: "two-linear".into(),
                expected: format!("{} pixels", self.pixels),
                found: "other data".into(),
            }),
        }
    }
}

#[test]
fn a_custom_architecture_trains_into_a_run_directory_and_loads_back() {
    use genrep_models::Classifier;
    let dir = tmp("custom");
    let run = RunDir::new(&dir);
    let two_linear = |pixels| {
        let c = run_cfg(3);
        RunConfig {
            task: c.task,
            task_options: c.task_options,
            model: TwoLinear { pixels, width: 5 },
            train: c.train,
            device: c.device,
        }
    };
    let cfg = two_linear(64);
    let (train_set, test_set) = (toy(40, 1), toy(10, 2));
    let device = Device::flex();
    let outcome = train_run(&run, &cfg, &train_set, Some(&test_set), &device, false, false, &mut []).unwrap();
    // The description is what config.json stores, and it is read back equal.
    assert_eq!(run.read_config_as::<TwoLinear>().unwrap(), cfg);
    assert!(run
        .is_complete_for(&cfg, &genrep_data::DataFingerprint::of_splits(&train_set, Some(&test_set), 2))
        .unwrap());
    // The final checkpoint loads into a fresh model with the trained weights.
    let loaded = run.load_model_as::<TwoLinear>("final", &device).unwrap();
    let x = genrep_models::Input::all(&test_set, &device);
    let (a, b) = (outcome.model.logits(&x).into_data(), loaded.logits(&x).into_data());
    assert_eq!(a.try_to_vec::<f32>().unwrap(), b.try_to_vec::<f32>().unwrap());
    let t = task(train_set.clone(), test_set.clone());
    run.verify_as::<TwoLinear>(&t).unwrap();
    // Read as the built-in model description, it is an error naming the file, not a panic; and
    // a built-in config is simply "not this run" (retrained, not an error).
    let e = err_text(run.load_model("final", &device));
    assert!(e.contains("config.json"), "{e}");
    let data = genrep_data::DataFingerprint::of_splits(&train_set, Some(&test_set), 2);
    assert!(!run.is_complete_for(&run_cfg(3), &data).unwrap());
    // Data the architecture does not accept is refused before training.
    let wrong = two_linear(63);
    let e = err_text(train_run(&run, &wrong, &train_set, None, &device, false, false, &mut []));
    assert!(e.contains("63 pixels"), "{e}");
    run.load_model_as::<TwoLinear>("final", &device).expect("the refused run left the trained one intact");
    let _ = std::fs::remove_dir_all(&dir);
}
