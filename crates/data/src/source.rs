//! Locating the data directory and reading (optionally gzip-compressed) files from it.

use crate::download::{expected_sha256, fetch, url_for, Download};
use crate::error::{DataError, Result};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Environment variable naming the data directory.
pub const DATA_ENV: &str = "GENREP_DATA";

/// Where the datasets live, and how that was decided (shown in errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    /// The directory holding `mnist/`, `cifar-10-batches-bin/`, ...
    pub path: PathBuf,
    /// `--data-dir`, `$GENREP_DATA` or `default ./datasets`.
    pub origin: String,
    /// Whether a missing file listed in `datasets/SHA256SUMS` is downloaded on first use.
    pub download: Download,
}

impl DataDir {
    /// Resolves the data directory: `explicit` (from `--data-dir`), else `$GENREP_DATA`, else
    /// `./datasets`. Errors if the chosen directory does not exist. Missing files are
    /// downloaded on first use as the environment says ([`Download::from_env`]).
    pub fn resolve(explicit: Option<&Path>) -> Result<Self> {
        let (path, origin) = match explicit {
            Some(p) => (p.to_path_buf(), "--data-dir".to_string()),
            None => match std::env::var_os(DATA_ENV) {
                Some(v) if !v.is_empty() => (PathBuf::from(v), format!("${DATA_ENV}")),
                _ => (PathBuf::from("datasets"), "the default ./datasets".to_string()),
            },
        };
        if !path.is_dir() {
            return Err(DataError::MissingDir { path, origin });
        }
        Ok(Self { path, origin, download: Download::from_env() })
    }

    /// A data directory at `path` without checking that it exists (for tests and tools). It
    /// does not download; see [`DataDir::with_download`].
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), origin: "explicit path".into(), download: Download::Offline }
    }

    /// This data directory with downloading set to `download`.
    pub fn with_download(mut self, download: Download) -> Self {
        self.download = download;
        self
    }

    /// Finds `rel` (e.g. `mnist/train-labels-idx1-ubyte`) as given or with `.gz` appended
    /// (or removed), returning the first path that exists. When neither exists and one of the
    /// two names is listed in `datasets/SHA256SUMS`, it is downloaded on first use (see
    /// [`crate::download`]) unless this directory is [`Download::Offline`].
    pub fn locate(&self, dataset: &'static str, rel: &str, expected: &str) -> Result<PathBuf> {
        let alt_rel = match rel.strip_suffix(".gz") {
            Some(stem) => stem.to_string(),
            None => format!("{rel}.gz"),
        };
        let plain = self.path.join(rel);
        for p in [&plain, &self.path.join(&alt_rel)] {
            if p.is_file() {
                return Ok(p.clone());
            }
        }
        let missing = || DataError::Missing { dataset, path: plain.clone(), expected: expected.to_string() };
        let Some((listed, sha256)) =
            [rel, alt_rel.as_str()].into_iter().find_map(|r| expected_sha256(r).map(|s| (r, s)))
        else {
            return Err(missing());
        };
        let why = match &self.download {
            Download::Offline => "downloading is off (--offline or GENREP_OFFLINE)".to_string(),
            Download::OnFirstUse { mirror } => match url_for(listed, mirror.as_deref()) {
                Some(url) => return fetch(&self.path, listed, &url, sha256),
                None => "no public host serves genrep's packaging of this file and no mirror is set".to_string(),
            },
        };
        Err(DataError::NotDownloaded { dataset, path: self.path.join(listed), why })
    }

    /// Reads `rel` (plain or `.gz`, see [`DataDir::locate`]) fully into memory, decompressing gzip.
    pub fn read(&self, dataset: &'static str, rel: &str, expected: &str) -> Result<(PathBuf, Vec<u8>)> {
        let path = self.locate(dataset, rel, expected)?;
        let bytes = read_maybe_gz(&path)?;
        Ok((path, bytes))
    }
}

/// Reads a file and gunzips it when it starts with the gzip magic bytes `1f 8b`.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    decode_maybe_gz(path, raw)
}

/// Gunzips `raw` if it carries the gzip magic, else returns it unchanged. Errors name `path`.
pub fn decode_maybe_gz(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::with_capacity(raw.len() * 4);
        GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|source| DataError::Gzip { path: path.to_path_buf(), source })?;
        Ok(out)
    } else if path.extension().is_some_and(|e| e == "gz") {
        Err(DataError::Gzip {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "file name ends in .gz but the gzip magic bytes 1f 8b are missing",
            ),
        })
    } else {
        Ok(raw)
    }
}

/// For tests and examples: the data directory named by `$GENREP_DATA`, a relative value taken
/// relative to `base` when it does not exist relative to the working directory (cargo runs
/// tests in the crate's directory). `None`, after printing a visible skip message, when unset.
///
/// # Panics
/// Under `CI=true` (see [`data_required`]) a missing or unset data folder panics instead of
/// skipping, so CI cannot go green having tested none of the data-dependent paths.
pub fn data_dir_from_env(base: &Path) -> Option<PathBuf> {
    let found = match std::env::var_os(DATA_ENV) {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            Some(if p.is_relative() && !p.exists() { base.join(p) } else { p })
        }
        _ => None,
    };
    match found {
        Some(p) if p.is_dir() => Some(p),
        other => {
            let why = match &other {
                Some(p) => format!("{DATA_ENV}={} is not a directory", p.display()),
                None => format!("{DATA_ENV} not set"),
            };
            if data_required() {
                panic!("{why}, and CI=true requires the data-dependent tests to run");
            }
            eprintln!("skipping: {why} (point it at the datasets folder to run this test)");
            None
        }
    }
}

/// True under `CI=true` (or `CI=1`): data-dependent tests must run, not skip.
pub fn data_required() -> bool {
    std::env::var("CI").map(|v| v == "true" || v == "1").unwrap_or(false)
}
