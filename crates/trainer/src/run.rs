//! A run directory: everything `genrep train` writes and `genrep explain` reads.
//!
//! ```text
//! runs/NAME/config.json          RunConfig: task, model, training hyper-parameters, device
//! runs/NAME/checkpoints.json     the checkpoint index (name, step, epoch, lr, file)
//! runs/NAME/checkpoints/*.safetensors
//! runs/NAME/record.json          TrainingRecord (tracking sums)
//! runs/NAME/metrics.json, metrics.csv
//! ```
//! Every file is written atomically (temp file, fsync, rename, fsync of the directory).
//!
//! **Self-checking.** `config.json` holds a [`RunFingerprint`]: a run id hashed from the config
//! and a [`DataFingerprint`] of the training and test splits (sizes and content hashes), plus the
//! architecture. `checkpoints.json`, `record.json` and `metrics.json` carry the same run id, and
//! each checkpoint entry the hash of its file. Every read checks them: files left over from
//! another training run, checkpoints edited or truncated, checkpoint names that leave the
//! directory, and data that differs from what the run was trained on ([`RunDir::verify`]) are
//! errors naming the file, never a silently wrong explanation. Runs written before the
//! fingerprint existed (bare JSON) are still read, unchecked.

use crate::checkpoint::{read_json, write_json, Checkpoint};
use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::observer::StepObserver;
use crate::observer::TrainingRecord;
use crate::trainer::{fit, try_init_seeded, EpochMetrics, FitOptions, TrainOutcome};
use burn::module::Module;
use burn::prelude::Device;
use genrep_data::{DataFingerprint, Examples, Task, TaskOptions, TaskSpec};
use genrep_models::{load_weights, write_atomic, Architecture, Classifier, ModelSpec};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// How a run was produced: enough to rebuild its data and model exactly. `A` is the
/// architecture description: a built-in [`ModelSpec`] by default, or any [`Architecture`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(bound(serialize = "A: serde::Serialize", deserialize = "A: serde::de::DeserializeOwned"))]
pub struct RunConfig<A = ModelSpec> {
    /// The task.
    pub task: TaskSpec,
    /// How the task was built (caps, seed, sequence length).
    pub task_options: TaskOptions,
    /// The architecture.
    pub model: A,
    /// The training hyper-parameters.
    pub train: TrainConfig,
    /// Device name used for training (`flex`, `ndarray`, `wgpu`).
    pub device: String,
}

/// What identifies a run: written into `config.json` by [`train_run`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunFingerprint {
    /// FNV-1a of the config and the data fingerprint (16 hex digits); every other file of the run
    /// carries it.
    pub run: String,
    /// The data the run was trained (and evaluated) on.
    pub data: DataFingerprint,
    /// [`Classifier::architecture`] of the model.
    pub architecture: String,
    /// Its parameter count.
    pub parameters: usize,
}

impl RunFingerprint {
    /// The fingerprint of training `cfg` on `data`, the model being `model` (its
    /// [`Classifier::architecture`] and parameter count are recorded).
    pub fn new<A: Architecture>(cfg: &RunConfig<A>, data: DataFingerprint, model: &A::Model) -> Self {
        let architecture = model.architecture();
        let cfg_json = serde_json::to_vec(cfg).unwrap_or_default();
        let data_json = serde_json::to_vec(&data).unwrap_or_default();
        let run = format!("{:016x}", genrep_data::fnv1a(&[&cfg_json, &data_json, architecture.as_bytes()]));
        Self { run, data, architecture, parameters: model.num_params() }
    }
}

/// Key of the run id in every stamped file.
const STAMP: &str = "genrep_run";

/// A run directory on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    /// Its root.
    pub path: PathBuf,
}

impl RunDir {
    /// A handle on `path` (nothing is created yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Opens an existing, complete run: `config.json` must be there, and so must the files
    /// training writes at its end (a run whose training was interrupted is refused, naming the
    /// missing file).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let dir = Self::new(path);
        if !dir.config_path().is_file() {
            return Err(TrainError::io(
                &dir.config_path(),
                "not found: is this a run directory written by `genrep train`?",
            ));
        }
        for name in ["checkpoints.json", "record.json", "metrics.json"] {
            if !dir.file(name).is_file() {
                return Err(TrainError::io(
                    &dir.file(name),
                    "missing: the run's training did not finish (was it interrupted?); rerun `genrep train` with the same --out",
                ));
            }
        }
        Ok(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// `config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.file("config.json")
    }

    /// The directory holding checkpoint files.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.file("checkpoints")
    }

    /// Writes `config.json` with its fingerprint.
    pub fn write_config<A: Architecture>(&self, cfg: &RunConfig<A>, fingerprint: &RunFingerprint) -> Result<()> {
        let value = serde_json::json!({ STAMP: fingerprint.run, "fingerprint": fingerprint, "content": cfg });
        write_json(&self.config_path(), &value)
    }

    /// Reads `config.json` of a run of a built-in model ([`RunDir::read_config_as`] for others).
    pub fn read_config(&self) -> Result<RunConfig> {
        self.read_config_as::<ModelSpec>()
    }

    /// Reads `config.json` of a run of architecture `A`.
    pub fn read_config_as<A: Architecture>(&self) -> Result<RunConfig<A>> {
        Ok(self.read_config_and_fingerprint::<A>()?.0)
    }

    /// Reads the fingerprint in `config.json` (`None` for runs written before it existed).
    pub fn read_fingerprint(&self) -> Result<Option<RunFingerprint>> {
        Ok(self.read_config_and_fingerprint::<serde_json::Value>()?.1)
    }

    fn read_config_and_fingerprint<A: DeserializeOwned>(&self) -> Result<(RunConfig<A>, Option<RunFingerprint>)> {
        let path = self.config_path();
        let value: serde_json::Value = read_json(&path)?;
        let fingerprint = match value.get("fingerprint") {
            Some(f) => Some(
                RunFingerprint::deserialize(f)
                    .map_err(|e| TrainError::io(&path, format!("field `fingerprint`: {e}")))?,
            ),
            None => None,
        };
        let (_, cfg) = unstamp::<RunConfig<A>>(&path, value)?;
        Ok((cfg, fingerprint))
    }

    /// Writes `value` to `name` stamped with run id `run`.
    fn write_stamped<T: serde::Serialize>(&self, name: &str, run: &str, value: &T) -> Result<()> {
        write_json(&self.file(name), &serde_json::json!({ STAMP: run, "content": value }))
    }

    /// Reads `name`, checking that it belongs to the run `config.json` describes.
    fn read_stamped<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        let path = self.file(name);
        let (stamp, value) = unstamp::<T>(&path, read_json(&path)?)?;
        let expected = self.read_fingerprint()?.map(|f| f.run);
        match (expected, stamp) {
            (Some(e), Some(s)) if e == s => Ok(value),
            (Some(e), found) => Err(TrainError::Mismatch {
                path,
                what: format!(
                    "written by another training run ({}) than config.json ({e}): the directory mixes two runs; \
                     retrain it with `genrep train --force`",
                    found.map(|s| format!("run {s}")).unwrap_or_else(|| "an unstamped one".into())
                ),
            }),
            (None, _) => Ok(value),
        }
    }

    /// Writes the checkpoint index.
    pub fn write_checkpoints(&self, run: &str, list: &[Checkpoint]) -> Result<()> {
        self.write_stamped("checkpoints.json", run, &list)
    }

    /// Reads the checkpoint index, refusing file names that leave the checkpoint directory.
    pub fn read_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let list: Vec<Checkpoint> = self.read_stamped("checkpoints.json")?;
        for c in &list {
            let p = Path::new(&c.file);
            let plain =
                p.components().count() == 1 && matches!(p.components().next(), Some(std::path::Component::Normal(_)));
            if !plain {
                return Err(TrainError::io(
                    &self.file("checkpoints.json"),
                    format!(
                        "checkpoint `{}` names file `{}`: expected a plain file name inside checkpoints/",
                        c.name, c.file
                    ),
                ));
            }
        }
        Ok(list)
    }

    /// Writes the training record.
    pub fn write_record(&self, run: &str, record: &TrainingRecord) -> Result<()> {
        self.write_stamped("record.json", run, record)
    }

    /// Reads the training record, checking that its arrays have the sizes it states and hold
    /// finite numbers.
    pub fn read_record(&self) -> Result<TrainingRecord> {
        let path = self.file("record.json");
        let record: TrainingRecord = self.read_stamped("record.json")?;
        let bad = |what: String| TrainError::io(&path, what);
        if record.tracking_sum.len() != record.n * record.num_classes {
            return Err(bad(format!(
                "field `tracking_sum` has {} entries, expected n x C = {} x {}",
                record.tracking_sum.len(),
                record.n,
                record.num_classes
            )));
        }
        if record.visits.len() != record.n {
            return Err(bad(format!("field `visits` has {} entries, expected n = {}", record.visits.len(), record.n)));
        }
        if let Some(i) = record.tracking_sum.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "field `tracking_sum`: entry {i} (training example {}) is {}",
                i / record.num_classes.max(1),
                record.tracking_sum[i]
            )));
        }
        Ok(record)
    }

    /// Reads the training record if `record.json` exists (`None` if it does not; a file that
    /// exists but cannot be read or parsed is an error, not "missing").
    pub fn read_record_if_present(&self) -> Result<Option<TrainingRecord>> {
        if self.file("record.json").exists() {
            self.read_record().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Writes `metrics.json` and `metrics.csv`.
    pub fn write_metrics(&self, run: &str, history: &[EpochMetrics]) -> Result<()> {
        self.write_stamped("metrics.json", run, &history)?;
        let path = self.file("metrics.csv");
        let mut w = csv::Writer::from_writer(Vec::new());
        let row_err = |e: csv::Error| TrainError::io(&path, e);
        w.write_record(["epoch", "train_loss", "train_accuracy", "test_accuracy", "seconds"]).map_err(row_err)?;
        for m in history {
            let test = m.test_accuracy.map(|a| a.to_string()).unwrap_or_default();
            w.write_record([
                m.epoch.to_string(),
                m.train_loss.to_string(),
                m.train_accuracy.to_string(),
                test,
                m.seconds.to_string(),
            ])
            .map_err(row_err)?;
        }
        let bytes = w.into_inner().map_err(|e| TrainError::io(&path, e))?;
        write_atomic(&path, &bytes).map_err(|e| TrainError::io(&path, e))
    }

    /// Reads `metrics.json`.
    pub fn read_metrics(&self) -> Result<Vec<EpochMetrics>> {
        self.read_stamped("metrics.json")
    }

    /// Builds the run's built-in architecture on `device` and loads checkpoint `name`
    /// ([`RunDir::load_model_as`] for other architectures).
    pub fn load_model(&self, name: &str, device: &Device) -> Result<genrep_models::Model> {
        self.load_model_as::<ModelSpec>(name, device)
    }

    /// Builds the run's architecture `A` on `device` and loads checkpoint `name` (`init`,
    /// `middle`, `final`, `epoch-K`) into it. Errors name the missing checkpoint and what exists,
    /// a file whose bytes differ from the hash recorded at training time, and non-finite weights.
    pub fn load_model_as<A: Architecture>(&self, name: &str, device: &Device) -> Result<A::Model> {
        let cfg = self.read_config_as::<A>()?;
        let list = self.read_checkpoints()?;
        let entry = list.iter().find(|c| c.name == name).ok_or_else(|| {
            TrainError::io(
                &self.file("checkpoints.json"),
                format!(
                    "no checkpoint `{name}` (have: {})",
                    list.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        let path = self.checkpoint_dir().join(&entry.file);
        if let Some(expected) = &entry.hash {
            let bytes = std::fs::read(&path).map_err(|e| TrainError::io(&path, format!("cannot read: {e}")))?;
            let found = format!("{:016x}", genrep_data::fnv1a(&[&bytes]));
            if &found != expected {
                return Err(TrainError::Mismatch {
                    path,
                    what: format!(
                        "content hash {found} differs from {expected} recorded in checkpoints.json: \
                         the file was modified or truncated after training; retrain the run"
                    ),
                });
            }
        }
        let mut model = cfg.model.init(device)?;
        load_weights(&mut model, &path)?;
        Ok(model)
    }

    /// Checks the run against the task it is about to be used with: the architecture accepts
    /// its inputs, the data fingerprint in `config.json` (sizes and content hashes of both
    /// splits) matches, and so does the training record's `n x C`; the checkpoint index and the
    /// metrics parse and belong to this run. Errors say what differs and the likely cause.
    /// For runs of a built-in model ([`RunDir::verify_as`] for other architectures).
    pub fn verify(&self, task: &Task) -> Result<()> {
        self.verify_as::<ModelSpec>(task)
    }

    /// [`RunDir::verify`] for a run of architecture `A`.
    pub fn verify_as<A: Architecture>(&self, task: &Task) -> Result<()> {
        let cfg = self.read_config_as::<A>()?;
        cfg.model.check_examples(&task.train)?;
        cfg.model.check_examples(&task.test)?;
        let here = DataFingerprint::of(task);
        if let Some(fp) = self.read_fingerprint()? {
            fp.data.compare(&here).map_err(|what| TrainError::Mismatch {
                path: self.config_path(),
                what: format!(
                    "{what}: the data does not match the run (another --data-dir, --train-per-class, \
                     --test-per-class or --seed, or edited dataset files?)"
                ),
            })?;
        }
        self.read_metrics()?;
        self.read_checkpoints()?;
        if let Some(record) = self.read_record_if_present()? {
            if record.n != task.train.len() || record.num_classes != task.num_classes() {
                return Err(TrainError::Mismatch {
                    path: self.file("record.json"),
                    what: format!(
                        "the training record is for {} examples x {} classes, the task has {} x {}",
                        record.n,
                        record.num_classes,
                        task.train.len(),
                        task.num_classes()
                    ),
                });
            }
        }
        Ok(())
    }

    /// True when the directory holds a complete run of exactly `cfg` on data with fingerprint
    /// `data` (so it can be reused instead of retrained).
    pub fn is_complete_for<A: Architecture>(&self, cfg: &RunConfig<A>, data: &DataFingerprint) -> Result<bool> {
        if !self.is_complete() {
            return Ok(false);
        }
        let (found, fp) = self.read_config_and_fingerprint::<serde_json::Value>()?;
        // The architecture is read as `A` and compared with `==` (its own notion of equality); a
        // directory written for another architecture does not read as `A` and is "not this run"
        // (retrained), not an unreadable config.
        let same_model = serde_json::from_value::<A>(found.model).is_ok_and(|m| m == cfg.model);
        Ok(same_model
            && found.task == cfg.task
            && found.task_options == cfg.task_options
            && found.train == cfg.train
            && found.device == cfg.device
            && fp.is_some_and(|f| &f.data == data))
    }

    /// Removes everything a previous training run left (record, checkpoints, metrics, cache), so
    /// that a retrained run never mixes with stale files.
    pub fn clear(&self) -> Result<()> {
        for name in ["metrics.json", "metrics.csv", "record.json", "checkpoints.json", "config.json"] {
            let p = self.file(name);
            if p.exists() {
                std::fs::remove_file(&p).map_err(|e| TrainError::io(&p, format!("cannot remove: {e}")))?;
            }
        }
        for name in ["checkpoints", "cache"] {
            let p = self.file(name);
            if p.exists() {
                std::fs::remove_dir_all(&p).map_err(|e| TrainError::io(&p, format!("cannot remove: {e}")))?;
            }
        }
        Ok(())
    }

    /// The run directory's root.
    pub fn root(&self) -> &Path {
        &self.path
    }

    /// True when training finished and every file was written (`metrics.json` is written last
    /// by [`train_run`]); a run killed half-way is not complete.
    pub fn is_complete(&self) -> bool {
        self.config_path().is_file()
            && self.file("checkpoints.json").is_file()
            && self.file("record.json").is_file()
            && self.file("metrics.json").is_file()
    }
}

/// A trained run opened for use: its directory, config, rebuilt task and final model. `A` is
/// its architecture (a built-in [`ModelSpec`] by default).
pub struct LoadedRun<A: Architecture = ModelSpec> {
    /// The run directory.
    pub run: RunDir,
    /// Its config.
    pub config: RunConfig<A>,
    /// The device the model lives on (without autodiff; the model is on its autodiff twin).
    pub device: Device,
    /// The task, rebuilt from the data directory and checked against the run's fingerprint.
    pub task: Task,
    /// The final checkpoint, on the autodiff device.
    pub model: A::Model,
}

impl LoadedRun {
    /// Opens the complete run of a built-in model at `path` ([`LoadedRun::open_as`] for other
    /// architectures).
    pub fn open(path: impl Into<PathBuf>, data: &genrep_data::DataDir, device: Option<&str>) -> Result<Self> {
        Self::open_as(path, data, device)
    }
}

impl<A: Architecture> LoadedRun<A> {
    /// Opens the complete run at `path` ([`RunDir::open`]), rebuilds its task from `data`,
    /// checks that it is the data the run was trained on ([`RunDir::verify_as`]) and loads the
    /// final model on `device` (default: the device the run was trained on).
    pub fn open_as(path: impl Into<PathBuf>, data: &genrep_data::DataDir, device: Option<&str>) -> Result<Self> {
        let run = RunDir::open(path)?;
        let config = run.read_config_as::<A>()?;
        let device = genrep_models::parse_device(device.unwrap_or(&config.device))?;
        let task = genrep_data::build_task(data, &config.task, &config.task_options)?;
        run.verify_as::<A>(&task)?;
        let model = run.load_model_as::<A>("final", &device.clone().autodiff())?;
        Ok(Self { run, config, device, task, model })
    }

    /// The run's training record and checkpoint index.
    pub fn record(&self) -> Result<TrainingRecord> {
        self.run.read_record()
    }

    /// True for text tasks (their influence kernels fall back to the last layer).
    pub fn is_text(&self) -> bool {
        self.config.task.dataset.is_text()
    }
}

/// Splits a stamped file (`{"genrep_run": ID, "content": T}`) into its stamp and content; a bare
/// `T` (a run written before stamps existed) has no stamp.
fn unstamp<T: DeserializeOwned>(path: &Path, value: serde_json::Value) -> Result<(Option<String>, T)> {
    let parse = |v: serde_json::Value, field: &str| {
        T::deserialize(v).map_err(|e| {
            let at = if field.is_empty() { String::new() } else { format!("field `{field}`: ") };
            TrainError::io(path, format!("{at}{e}"))
        })
    };
    match value {
        serde_json::Value::Object(mut map) if map.contains_key(STAMP) => {
            let stamp = match map.remove(STAMP) {
                Some(serde_json::Value::String(s)) => s,
                other => {
                    return Err(TrainError::io(path, format!("field `{STAMP}`: expected a string, found {other:?}")))
                }
            };
            let content =
                map.remove("content").ok_or_else(|| TrainError::io(path, "missing field `content`".to_string()))?;
            Ok((Some(stamp), parse(content, "content")?))
        }
        other => Ok((None, parse(other, "")?)),
    }
}

/// The training record, then the caller's observers.
struct RecordAnd<'a, 'b> {
    record: &'a mut TrainingRecord,
    rest: &'a mut [&'b mut dyn StepObserver],
}

impl StepObserver for RecordAnd<'_, '_> {
    fn on_step(&mut self, info: &crate::observer::StepInfo<'_>) {
        self.record.on_step(info);
        self.rest.iter_mut().for_each(|o| o.on_step(info));
    }

    fn on_epoch_end(&mut self, epoch: usize, mean_loss: f64, accuracy: f64) {
        self.record.on_epoch_end(epoch, mean_loss, accuracy);
        self.rest.iter_mut().for_each(|o| o.on_epoch_end(epoch, mean_loss, accuracy));
    }
}

/// Trains a run from scratch and writes its directory: initialises `cfg.model` with seed
/// `cfg.train.seed` (see [`try_init_seeded`]), trains on `train` recording the tracking sums and
/// writing init / middle / final (and per-epoch) checkpoints, then writes `record.json`,
/// `checkpoints.json` and `metrics.json` (last, so [`RunDir::is_complete`] means finished).
/// `observers` see every step besides the training record.
#[allow(clippy::too_many_arguments)] // each is a distinct input; the CLI, debug and the runner pass them all
pub fn train_run<A: Architecture>(
    run: &RunDir,
    cfg: &RunConfig<A>,
    train: &Examples,
    test: Option<&Examples>,
    device: &Device,
    eval_every_epoch: bool,
    keep_step_log: bool,
    observers: &mut [&mut dyn StepObserver],
) -> Result<TrainOutcome<A::Model>> {
    cfg.train.validate()?;
    cfg.model.check_examples(train)?;
    if let Some(test) = test {
        cfg.model.check_examples(test)?;
    }
    let model = try_init_seeded(device, cfg.train.seed, |d| cfg.model.init(d))?;
    let num_classes = cfg.task.class_names().len();
    let data = DataFingerprint::of_splits(train, test, num_classes);
    let fingerprint = RunFingerprint::new(cfg, data, &model);
    // A retrained run never mixes with files of the one it replaces.
    run.clear()?;
    run.write_config(cfg, &fingerprint)?;
    let mut record = TrainingRecord::new(train.len(), num_classes, keep_step_log);
    let mut opts = FitOptions::new(device.clone());
    opts.checkpoint_dir = Some(run.checkpoint_dir());
    opts.eval_every_epoch = eval_every_epoch;
    let outcome = {
        let mut both = RecordAnd { record: &mut record, rest: observers };
        fit(model, train, test, &cfg.train, &opts, &mut [&mut both])?
    };
    run.write_record(&fingerprint.run, &record)?;
    run.write_checkpoints(&fingerprint.run, &outcome.checkpoints)?;
    run.write_metrics(&fingerprint.run, &outcome.history)?;
    Ok(outcome)
}
