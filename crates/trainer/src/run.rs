//! A run directory: everything `genrep train` writes and `genrep explain` reads.
//!
//! ```text
//! runs/NAME/config.json          RunConfig: task, model, training hyper-parameters, device
//! runs/NAME/checkpoints.json     the checkpoint index (name, step, epoch, lr, file)
//! runs/NAME/checkpoints/*.safetensors
//! runs/NAME/record.json          TrainingRecord (tracking sums)
//! runs/NAME/metrics.json, metrics.csv
//! ```
//! Every file is written atomically.

use crate::checkpoint::{read_json, write_json, Checkpoint};
use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::observer::StepObserver;
use crate::observer::TrainingRecord;
use crate::trainer::{fit, try_init_seeded, EpochMetrics, FitOptions, TrainOutcome};
use burn::prelude::Device;
use genrep_data::{Examples, TaskOptions, TaskSpec};
use genrep_models::{load_weights, write_atomic, Model, ModelSpec};
use std::path::{Path, PathBuf};

/// How a run was produced: enough to rebuild its data and model exactly.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunConfig {
    /// The task.
    pub task: TaskSpec,
    /// How the task was built (caps, seed, sequence length).
    pub task_options: TaskOptions,
    /// The architecture.
    pub model: ModelSpec,
    /// The training hyper-parameters.
    pub train: TrainConfig,
    /// Device name used for training (`flex`, `ndarray`, `wgpu`).
    pub device: String,
}

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

    /// Opens an existing run, checking that `config.json` is there.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let dir = Self::new(path);
        if !dir.config_path().is_file() {
            return Err(TrainError::io(
                &dir.config_path(),
                "not found: is this a run directory written by `genrep train`?",
            ));
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

    /// Writes `config.json`.
    pub fn write_config(&self, cfg: &RunConfig) -> Result<()> {
        write_json(&self.config_path(), cfg)
    }

    /// Reads `config.json`.
    pub fn read_config(&self) -> Result<RunConfig> {
        read_json(&self.config_path())
    }

    /// Writes the checkpoint index.
    pub fn write_checkpoints(&self, list: &[Checkpoint]) -> Result<()> {
        write_json(&self.file("checkpoints.json"), &list)
    }

    /// Reads the checkpoint index.
    pub fn read_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        read_json(&self.file("checkpoints.json"))
    }

    /// Writes the training record.
    pub fn write_record(&self, record: &TrainingRecord) -> Result<()> {
        write_json(&self.file("record.json"), record)
    }

    /// Reads the training record.
    pub fn read_record(&self) -> Result<TrainingRecord> {
        read_json(&self.file("record.json"))
    }

    /// Writes `metrics.json` and `metrics.csv`.
    pub fn write_metrics(&self, history: &[EpochMetrics]) -> Result<()> {
        write_json(&self.file("metrics.json"), &history)?;
        let mut csv = String::from("epoch,train_loss,train_accuracy,test_accuracy,seconds\n");
        for m in history {
            let test = m.test_accuracy.map(|a| a.to_string()).unwrap_or_default();
            csv.push_str(&format!("{},{},{},{},{}\n", m.epoch, m.train_loss, m.train_accuracy, test, m.seconds));
        }
        let path = self.file("metrics.csv");
        write_atomic(&path, csv.as_bytes()).map_err(|e| TrainError::io(&path, e))
    }

    /// Reads `metrics.json`.
    pub fn read_metrics(&self) -> Result<Vec<EpochMetrics>> {
        read_json(&self.file("metrics.json"))
    }

    /// Builds the run's architecture on `device` and loads checkpoint `name` (`init`, `middle`,
    /// `final`, `epoch-K`) into it; errors name the missing checkpoint and what exists.
    pub fn load_model(&self, name: &str, device: &Device) -> Result<Model> {
        let cfg = self.read_config()?;
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
        let mut model = cfg.model.init(device)?;
        load_weights(&mut model, &self.checkpoint_dir().join(&entry.file))?;
        Ok(model)
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
pub fn train_run(
    run: &RunDir,
    cfg: &RunConfig,
    train: &Examples,
    test: Option<&Examples>,
    device: &Device,
    eval_every_epoch: bool,
    keep_step_log: bool,
    observers: &mut [&mut dyn StepObserver],
) -> Result<TrainOutcome<Model>> {
    cfg.train.validate()?;
    let model = try_init_seeded(device, cfg.train.seed, |d| cfg.model.init(d))?;
    run.write_config(cfg)?;
    let num_classes = cfg.task.class_names().len();
    let mut record = TrainingRecord::new(train.len(), num_classes, keep_step_log);
    let mut opts = FitOptions::new(device.clone());
    opts.checkpoint_dir = Some(run.checkpoint_dir());
    opts.eval_every_epoch = eval_every_epoch;
    let outcome = {
        let mut both = RecordAnd { record: &mut record, rest: observers };
        fit(model, train, test, &cfg.train, &opts, &mut [&mut both])?
    };
    run.write_record(&record)?;
    run.write_checkpoints(&outcome.checkpoints)?;
    run.write_metrics(&outcome.history)?;
    Ok(outcome)
}

/// The exact parameter count of a model spec (re-exported for reports).
pub fn num_params(spec: &ModelSpec) -> usize {
    spec.num_params()
}
