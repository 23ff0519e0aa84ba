//! The one error type of `genrep-data`: every variant names the file (or spec) and what was expected.

use std::path::PathBuf;

/// Points a user at the data documentation; appended to "file not found" errors.
pub const DATA_HINT: &str = "set GENREP_DATA or pass --data-dir; see datasets/README.md for where to get each file";

/// Errors raised while locating, reading or parsing datasets and task specifications.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A required file is absent (neither the plain nor the `.gz` name exists).
    #[error("{dataset}: missing file {path} (expected {expected}); {hint}", hint = DATA_HINT)]
    Missing { dataset: &'static str, path: PathBuf, expected: String },

    /// The data directory itself does not exist.
    #[error("data directory {path} does not exist (taken from {origin}); {hint}", hint = DATA_HINT)]
    MissingDir { path: PathBuf, origin: String },

    /// An operating-system error while reading a file.
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A `.gz` file that is truncated or not gzip.
    #[error("{path}: corrupt or truncated gzip stream: {source}")]
    Gzip {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file's bytes do not match the expected binary layout.
    #[error("{path}: {what}")]
    Format { path: PathBuf, what: String },

    /// A label outside the dataset's class range.
    #[error("{path}: record {record}: label {label} out of range (expected 0..={max})")]
    LabelRange { path: PathBuf, record: usize, label: i64, max: usize },

    /// A CSV row that cannot be parsed.
    #[error("{path}: line {line}: {what}")]
    Csv { path: PathBuf, line: u64, what: String },

    /// A task specification (`mnist:3-vs-8`, ...) that cannot be understood.
    #[error("task `{spec}`: {what}")]
    Task { spec: String, what: String },

    /// A class name or index that the dataset does not have.
    #[error("{dataset}: unknown class `{name}` (known: {known})")]
    UnknownClass { dataset: &'static str, name: String, known: String },

    /// Errors from the WordPiece vocabulary.
    #[error(transparent)]
    Vocab(#[from] crate::tokenizer::VocabError),
}

/// `Result` with [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;
