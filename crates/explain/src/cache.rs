//! A cache of expensive global importances between calls: the NTK surrogate derivative is an
//! L-BFGS fit over the whole training set (one pass per evaluation), shared by every test point
//! of a run, so `genrep explain` computes it once per run and reads it back afterwards; the same
//! holds for the representer refit and the influence solves.
//!
//! An entry is keyed by a fingerprint of everything the result depends on (the model's
//! parameters, the training inputs and labels, and the fit's settings): a run retrained, a
//! dataset rebuilt differently or other settings give another key, never a stale answer.
//! Entries are JSON files written atomically.

use crate::importance::SurrogateReport;
use genrep_data::Examples;
use std::path::{Path, PathBuf};

/// FNV-1a over byte slices (lives in `genrep-data`, which fingerprints run data with it).
pub use genrep_data::fnv1a as fingerprint;

/// The bytes of a split's inputs and labels, for a fingerprint.
pub fn examples_bytes(ex: &Examples) -> Vec<u8> {
    ex.content_bytes()
}

/// A cached surrogate fit.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CachedFit {
    /// `[n, C]` global importances.
    pub alpha: Vec<f64>,
    /// How the fit ended.
    pub report: SurrogateReport,
}

/// A cached representer refit: the global importances and the refit head.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CachedRefit {
    /// `[n, C]` global importances.
    pub alpha: Vec<f64>,
    /// The refit head `[(d+1), C]`.
    pub theta: Vec<f64>,
    /// How the refit ended.
    pub report: SurrogateReport,
}

/// The entry file for `name` with fingerprint `key` in `dir`.
pub fn entry_path(dir: &Path, name: &str, key: u64) -> PathBuf {
    dir.join(format!("{name}-{key:016x}.json"))
}

/// The fingerprint of a model's parameters, its training data and a method's settings.
pub fn model_key<M: genrep_models::Classifier>(model: &M, train: &Examples, settings: &str) -> u64 {
    let params: Vec<u8> = crate::params::flat_values(model).iter().flat_map(|v| v.to_le_bytes()).collect();
    fingerprint(&[&params, &examples_bytes(train), settings.as_bytes()])
}

/// Reads an entry (`None` if absent or unreadable: the caller recomputes).
pub fn load<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes an entry atomically (failures are reported by the caller, not fatal: the result is
/// still returned).
pub fn store<T: serde::Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string(value).map_err(std::io::Error::other)?;
    genrep_models::write_atomic(path, text.as_bytes())
}
