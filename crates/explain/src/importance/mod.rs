//! Global importances `alpha_i` (an `[n, C]` row-major matrix) of Tsai et al. 2023, Section 4.
//!
//! One file per importance: [`target`] (the target derivative, Eqn 7), [`tracking`] (the tracking
//! representer, Eqn 10), [`surrogate`] (the surrogate derivative, Eqns 8-9, fitted on the last
//! layer or the NTK). A new importance implements [`GlobalImportance`].

pub mod surrogate;
pub mod target;
pub mod tracking;

pub use surrogate::{linear_logits, refit_last_layer, surrogate_last_layer, surrogate_ntk, SurrogateReport};
pub use target::{target_derivative, TargetDerivative};
pub use tracking::{tracking, Tracking};

use crate::error::Result;
use genrep_trainer::TrainingRecord;

/// What a global importance may look at: the trained model's logits on the training split, the
/// labels, and the run's training record.
pub struct ImportanceInputs<'a> {
    /// `[n, C]` logits of the final model on the training split.
    pub logits: &'a [f32],
    /// Training labels.
    pub labels: &'a [usize],
    /// Number of classes `C`.
    pub num_classes: usize,
    /// The run's training record, when there is one.
    pub record: Option<&'a TrainingRecord>,
}

/// A global importance `alpha` (Section 4 of Tsai et al. 2023): one weight per training example
/// and class, `[n, C]` row-major. Implement it to try a new importance with any
/// [`crate::Kernel`] through [`crate::Explainer::explain_with`], which computes
/// `phi(x_i -> x) = sum_c' alpha_{i,c'} K_{c',c}(x_i, x)` (Eqn 4).
pub trait GlobalImportance {
    /// Name for reports.
    fn name(&self) -> String;
    /// `[n, C]` importances.
    fn alpha(&self, inputs: &ImportanceInputs<'_>) -> Result<Vec<f64>>;
}

/// Row-wise softmax of `[n, C]` logits, in f64 (max-subtracted).
pub fn softmax_rows(logits: &[f32], c: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks(c) {
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let z: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
        out.extend(row.iter().map(|&v| (v as f64 - m).exp() / z));
    }
    out
}
