//! Checkpoints written during training: which ones, and the index that lists them.

use crate::error::{Result, TrainError};
use genrep_models::write_atomic;
use std::path::Path;

/// Which point of training a checkpoint holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointKind {
    /// Initial parameters (step 0).
    Init,
    /// Middle of training (`T/2`).
    Middle,
    /// Final parameters (`T`).
    Final,
    /// End of epoch `e` (1-based), for TracInCP.
    Epoch(usize),
}

impl CheckpointKind {
    /// File stem: `init`, `middle`, `final`, `epoch-3`.
    pub fn name(self) -> String {
        match self {
            Self::Init => "init".into(),
            Self::Middle => "middle".into(),
            Self::Final => "final".into(),
            Self::Epoch(e) => format!("epoch-{e}"),
        }
    }
}

/// One saved checkpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// File stem (see [`CheckpointKind::name`]).
    pub name: String,
    /// What it is.
    pub kind: CheckpointKind,
    /// Optimiser steps taken before it was saved.
    pub step: usize,
    /// Epochs completed.
    pub epoch: usize,
    /// Learning rate in force at that point.
    pub lr: f64,
    /// File name, relative to the checkpoint directory.
    pub file: String,
    /// FNV-1a of the file's bytes (16 hex digits), checked on load; absent in runs written
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// Writes `value` as pretty JSON to `path`, atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| TrainError::io(path, e))?;
    write_atomic(path, &text).map_err(|e| TrainError::io(path, e))
}

/// Reads JSON from `path`, naming the file in errors.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, format!("cannot read: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| TrainError::io(path, format!("invalid JSON: {e}")))
}
