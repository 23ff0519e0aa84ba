//! Errors of `genrep-trainer`.

use std::path::PathBuf;

/// Errors while configuring or running training, or reading its artefacts.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration field has an unusable value.
    #[error("train config: field `{field}` {what}")]
    Config { field: &'static str, what: String },

    /// The loss became NaN or infinite.
    #[error("non-finite loss {loss} at step {step} (epoch {epoch}); lower --lr or check the inputs")]
    NonFinite { step: usize, epoch: usize, loss: f64 },

    /// An exclusion index outside the training set.
    #[error("exclusion index {index} is out of range for {n} training examples")]
    Exclusion { index: usize, n: usize },

    /// A data error (missing or malformed dataset files, a task with no examples, ...).
    #[error(transparent)]
    Data(#[from] genrep_data::DataError),

    /// A model error (architecture mismatch, bad weights file, ...).
    #[error(transparent)]
    Model(#[from] genrep_models::ModelError),

    /// Another process holds the directory's lock.
    #[error("{path} is locked by {holder}; wait for it to finish or use another --out")]
    Locked { path: PathBuf, holder: String },

    /// A run directory does not match the data or the settings it is used with.
    #[error("{path}: {what}")]
    Mismatch { path: PathBuf, what: String },

    /// A file could not be read, written or parsed.
    #[error("{path}: {what}")]
    Io { path: PathBuf, what: String },
}

/// `Result` with [`TrainError`].
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

impl TrainError {
    pub(crate) fn io(path: &std::path::Path, what: impl std::fmt::Display) -> Self {
        Self::Io { path: path.to_path_buf(), what: what.to_string() }
    }
}
