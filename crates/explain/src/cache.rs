//! A cache of expensive global importances between calls: the NTK surrogate derivative is an
//! L-BFGS fit over the whole training set (one pass per evaluation), shared by every test point
//! of a run, so `genrep explain` computes it once per run and reads it back afterwards; the same
//! holds for the representer refit and the influence solves.
//!
//! An entry is keyed by a fingerprint of everything the result depends on (the model's
//! parameters, the training inputs and labels, and the fit's settings): a run retrained, a
//! dataset rebuilt differently or other settings give another key, never a stale answer.
//! Entries are JSON files written atomically. Processes sharing a cache directory (shards of
//! one experiment) take turns on an entry ([`compute_once`]): the first computes it, the others
//! wait for it and read it back, instead of all fitting the same surrogate at once.

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

/// The cached value at `entry`, computed by `compute` and stored there if absent (`None`: no
/// cache, always computes).
///
/// While one process (or thread) computes an entry it holds the OS lock `<entry>.lock`, and every
/// other caller of the same entry waits for it, then finds the entry and reads it back: the same
/// fit is never run twice at once; the lock file is removed when the entry is done. A lock that
/// cannot be taken, or a result that cannot be stored, is logged and only costs the sharing;
/// an error from `compute` is returned and nothing is stored.
pub fn compute_once<T, E>(
    entry: Option<&Path>,
    what: &str,
    compute: impl FnOnce() -> std::result::Result<T, E>,
) -> std::result::Result<T, E>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let Some(path) = entry else { return compute() };
    if let Some(hit) = load(path) {
        return Ok(hit);
    }
    let _lock = lock_entry(path)
        .map_err(|e| tracing::warn!("could not lock the cache entry for {what} ({e}); computing without it"))
        .ok();
    // Another process may have stored it while we waited.
    if let Some(hit) = load(path) {
        return Ok(hit);
    }
    let value = compute();
    if let Ok(v) = &value {
        if let Err(e) = store(path, v) {
            tracing::warn!("could not cache {what} at {}: {e}", path.display());
        }
    }
    // The lock file goes before the lock is released: a waiter then holds the old file's lock,
    // re-checks and finds the entry; only after a failed `compute` can two later callers both
    // compute (never a wrong answer, only the sharing lost).
    if let Some(lock) = &_lock {
        let _ = std::fs::remove_file(lock.path());
    }
    value
}

/// Takes (waiting) the lock of cache entry `path`.
fn lock_entry(path: &Path) -> std::result::Result<genrep_trainer::DirLock, genrep_trainer::TrainError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    genrep_trainer::DirLock::wait(dir, &stem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn an_entry_being_computed_is_waited_for_not_recomputed() {
        let dir = tempfile::tempdir().unwrap();
        let path = entry_path(dir.path(), "fit", 7);
        let runs = AtomicUsize::new(0);
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (a, b) = std::thread::scope(|s| {
            let first = s.spawn(|| {
                compute_once(Some(&path), "a fit", || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    started_tx.send(()).unwrap();
                    // The second caller arrives while this one holds the entry.
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    Ok::<_, String>(vec![1.0f64, 2.0])
                })
            });
            started_rx.recv().unwrap();
            let second = compute_once(Some(&path), "a fit", || {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(vec![9.0f64])
            });
            (first.join().unwrap(), second)
        });
        assert_eq!(runs.load(Ordering::SeqCst), 1, "the second caller recomputed the entry");
        assert_eq!(a.unwrap(), vec![1.0, 2.0]);
        assert_eq!(b.unwrap(), vec![1.0, 2.0]);
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(files, vec![path.file_name().unwrap().to_owned()], "only the entry is left");
    }

    #[test]
    fn a_failed_computation_stores_nothing_and_no_cache_always_computes() {
        let dir = tempfile::tempdir().unwrap();
        let path = entry_path(dir.path(), "fit", 8);
        let err = compute_once::<Vec<f64>, _>(Some(&path), "a fit", || Err("diverged"));
        assert_eq!(err.unwrap_err(), "diverged");
        assert!(!path.exists());
        let v = compute_once(Some(&path), "a fit", || Ok::<_, String>(vec![3.0f64])).unwrap();
        assert_eq!(v, vec![3.0]);
        assert!(path.exists());
        let fresh = compute_once(None, "a fit", || Ok::<_, String>(vec![4.0f64])).unwrap();
        assert_eq!(fresh, vec![4.0]);
    }
}
