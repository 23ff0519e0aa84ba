//! # genrep-trainer
//!
//! Minibatch training of any [`genrep_models::Classifier`] with softmax cross-entropy, plain
//! SGD / momentum / Adam and L2 weight decay, a seeded minibatch order, train-with-exclusions
//! (same initial weights and batches, minus the excluded points), per-step observers that see
//! each example's `dL/df` ([`StepObserver`]), the built-in [`TrainingRecord`] (tracking
//! representers, Eqn 10 of Tsai et al. 2023), atomic checkpoints and run directories.

pub mod checkpoint;
pub mod config;
pub mod error;
pub mod lock;
pub mod loss;
pub mod observer;
pub mod optimizer;
pub mod run;
pub mod schedule;
pub mod trainer;

pub use checkpoint::{Checkpoint, CheckpointKind};
pub use config::{ExclusionProtocol, LrSchedule, OptimizerConfig, TrainConfig};
pub use error::{Result, TrainError};
pub use lock::DirLock;
pub use observer::{StepInfo, StepObserver, TrainingRecord};
pub use run::{train_run, LoadedRun, RunConfig, RunDir, RunFingerprint};
pub use trainer::{
    build_optimizer, burn_step, evaluate, fit, init_seeded, misclassified, predict_logits, predict_logits_with,
    try_init_seeded, Engine, EpochMetrics, FitOptions, TrainOutcome, BURN_STEP_PHASES,
};
