//! # genrep
//!
//! A Rust deep-learning framework with built-in training-data explanation: train a model, then
//! ask which training examples made it say what it said (generalized representers, Tsai, Yeh &
//! Ravikumar, NeurIPS 2023; representer points, Yeh et al., NeurIPS 2018).
//!
//! This facade re-exports the workspace crates:
//! - [`data`]: dataset loaders, WordPiece tokenizer, task builder.

pub use genrep_data as data;
