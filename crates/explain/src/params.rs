//! Flat views of a model's parameters and gradients (moved to `genrep-models`, re-exported).

pub use genrep_models::params::*;
