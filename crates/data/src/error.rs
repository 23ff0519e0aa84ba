//! The one error type of `genrep-data`: every variant names the file (or spec) and what was expected.

use std::path::PathBuf;

/// Points a user at the data documentation; appended to "file not found" errors.
pub const DATA_HINT: &str = "set GENREP_DATA or pass --data-dir; see datasets/README.md for where to get each file";

/// Points a user at the ways to get a dataset by hand; appended to download errors.
pub const FETCH_HINT: &str = "run `datasets/fetch.sh DIR` (it fetches from the original hosts and verifies), copy the files in by hand, or set GENREP_DATA_URL (--data-url) to a mirror of the datasets folder";

/// Errors raised while locating, reading or parsing datasets and task specifications.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A required file is absent (neither the plain nor the `.gz` name exists).
    #[error("{dataset}: missing file {path} (expected {expected}); {hint}", hint = DATA_HINT)]
    Missing { dataset: &'static str, path: PathBuf, expected: String },

    /// A file that could have been downloaded on first use but was not.
    #[error("{dataset}: missing file {path}: {why}; {hint}", hint = FETCH_HINT)]
    NotDownloaded { dataset: &'static str, path: PathBuf, why: String },

    /// A download that failed (unreachable host, HTTP error, broken transfer).
    #[error("{file}: download from {url} failed: {what}; {hint}", hint = FETCH_HINT)]
    Download { file: PathBuf, url: String, what: String },

    /// A downloaded file whose SHA-256 is not the one in `datasets/SHA256SUMS`; it was deleted.
    #[error("{file}: the file downloaded from {url} has SHA-256 {got}, expected {expected} (datasets/SHA256SUMS); it was not kept; {hint}", hint = FETCH_HINT)]
    Checksum { file: PathBuf, url: String, expected: String, got: String },

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
