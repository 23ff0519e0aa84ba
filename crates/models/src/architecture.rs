//! The seam for whole runs: a serialisable description of an architecture that builds a model.
//!
//! [`Classifier`] is what explaining needs from a model; [`Architecture`] is what everything that
//! *creates* models needs (run directories, the Table 1 and LDS grids, retraining without deleted
//! points, dataset debugging): a value that can be written into a run's `config.json`, read back,
//! and turned into a freshly initialised model again. The built-in [`crate::ModelSpec`] is one;
//! a user's own architecture is another (see `examples/custom_architecture.rs`), and it goes
//! through `genrep_trainer::train_run`, `genrep_experiments::runner::run_with` and
//! `genrep_experiments::debug::run_debug_with` with no change to genrep.

use crate::classifier::Classifier;
use crate::error::Result;
use burn::prelude::*;
use burn::store::ModuleSnapshot;
use genrep_data::Examples;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// A description of a model that can be stored, compared and built.
///
/// The value is what a run directory's `config.json` holds under `model` (so it must serialise,
/// and two runs are the same run only if their descriptions are equal); [`Architecture::init`]
/// builds the model it describes with fresh weights (seed the device first, e.g. with
/// `genrep_trainer::try_init_seeded`, for reproducible weights).
pub trait Architecture: Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The model this architecture builds.
    type Model: Classifier + ModuleSnapshot;

    /// Builds the model on `device` with freshly initialised weights.
    fn init(&self, device: &Device) -> Result<Self::Model>;

    /// Errors (naming what the model expects and what the data has) if the model cannot consume
    /// `examples`; called before training and before a run is used with a task. The default
    /// accepts everything: override it so that mismatched data is an error, not a panic inside
    /// the forward pass.
    fn check_examples(&self, _examples: &Examples) -> Result<()> {
        Ok(())
    }
}
