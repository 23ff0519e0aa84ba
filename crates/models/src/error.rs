//! Errors of `genrep-models`.

use std::path::PathBuf;

/// Errors while building, saving or loading models.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A configuration field has an unusable value.
    #[error("model config: field `{field}` {what}")]
    Config { field: &'static str, what: String },

    /// The model does not fit the data it is given.
    #[error("model {model} expects {expected}, but the data has {found}")]
    InputMismatch { model: String, expected: String, found: String },

    /// A weights file was written for another architecture.
    #[error("{path}: weights are for {found}, but the model is {expected}")]
    Architecture { path: PathBuf, expected: String, found: String },

    /// Reading or writing a file failed.
    #[error("{path}: {what}")]
    Io { path: PathBuf, what: String },
}

/// `Result` with [`ModelError`].
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
