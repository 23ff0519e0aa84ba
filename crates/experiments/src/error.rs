//! Errors of the experiment runner.

use std::path::PathBuf;

/// Anything that can go wrong while running or reporting an experiment.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// Reading the data or building the task failed.
    #[error(transparent)]
    Data(#[from] genrep_data::DataError),
    /// Building or loading a model failed.
    #[error(transparent)]
    Model(#[from] genrep_models::ModelError),
    /// Training (or retraining with exclusions) failed.
    #[error(transparent)]
    Train(#[from] genrep_trainer::TrainError),
    /// Computing an explanation failed.
    #[error(transparent)]
    Explain(#[from] genrep_explain::ExplainError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A results file holds a line that is not a result row.
    #[error("{path}, line {line}: not a result row ({what})")]
    Row {
        /// The results file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        what: String,
    },
    /// A description file (`experiment.json`) that cannot be parsed.
    #[error("{path}, line {line}: {what}")]
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        what: String,
    },
    /// A setting is invalid.
    #[error("invalid experiment setting `{field}`: {what}")]
    Config {
        /// The setting (preset field or command-line option).
        field: String,
        /// What was expected.
        what: String,
    },
}

/// Result with [`ExperimentError`].
pub type Result<T, E = ExperimentError> = std::result::Result<T, E>;

impl ExperimentError {
    /// An invalid-setting error.
    pub fn config(field: &str, what: impl Into<String>) -> Self {
        Self::Config { field: field.into(), what: what.into() }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
