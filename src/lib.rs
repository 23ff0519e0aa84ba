//! # genrep
//!
//! A Rust deep-learning framework with built-in training-data explanation: train a model, then
//! ask which training examples made it say what it said (generalized representers, Tsai, Yeh &
//! Ravikumar, NeurIPS 2023; representer points, Yeh et al., NeurIPS 2018).
//!
//! This facade re-exports the workspace crates:
//! - [`data`]: dataset loaders, WordPiece tokenizer, task builder.
//! - [`models`]: the `Classifier` trait, the built-in CNNs, safetensors save/load, devices.
//! - [`explain`]: kernels, global importances and attributions (generalized representers).
//! - [`experiments`]: deletion diagnostics (DEL, AUC-DEL) and the paper's Table 1.
//! - [`trainer`]: the training loop, step observers, training records, checkpoints, run dirs.

pub use genrep_data as data;
pub use genrep_experiments as experiments;
pub use genrep_explain as explain;
pub use genrep_models as models;
pub use genrep_render as render;
pub use genrep_trainer as trainer;
