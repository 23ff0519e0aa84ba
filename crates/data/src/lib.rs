//! # genrep-data
//!
//! Loaders for the datasets of the generalized-representer experiments (MNIST IDX, CIFAR-10
//! binary, AG News CSV, Jigsaw toxic CSV), a BERT WordPiece tokenizer, and the task builder
//! that turns them into normalised image tensors or fixed-length token ids.
//!
//! Every loader reads plain or gzip-compressed files from a [`DataDir`] (`--data-dir`, else
//! `$GENREP_DATA`, else `./datasets`) and returns a [`DataError`] that names the file and what
//! was expected, never a panic. A missing file listed in `datasets/SHA256SUMS` is downloaded
//! on first use and verified ([`download`]), unless downloading is off (`--offline`).

pub mod agnews;
pub mod cifar;
pub mod download;
pub mod error;
pub mod fingerprint;
pub mod image_set;
pub mod info;
pub mod jigsaw;
pub mod mnist;
pub mod source;
pub mod task;
pub mod text_set;
pub mod tokenizer;

pub use download::Download;
pub use error::{DataError, Result, DATA_HINT, FETCH_HINT};
pub use fingerprint::{fnv1a, DataFingerprint};
pub use image_set::ImageSet;
pub use source::{data_dir_from_env, data_required, DataDir, DATA_ENV};
pub use task::{build as build_task, DatasetKind, Examples, Inputs, Task, TaskOptions, TaskSpec};
pub use text_set::TextSet;
pub use tokenizer::WordPiece;

/// Which half of a dataset's canonical files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training files.
    Train,
    /// The test files.
    Test,
}

/// Counts how many of `labels` fall in each class `0..num_classes` (labels beyond are ignored).
pub fn class_counts(labels: impl Iterator<Item = usize>, num_classes: usize) -> Vec<usize> {
    let mut c = vec![0; num_classes];
    for l in labels {
        if let Some(slot) = c.get_mut(l) {
            *slot += 1;
        }
    }
    c
}
