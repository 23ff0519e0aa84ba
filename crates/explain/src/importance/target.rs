//! The target derivative (Tsai et al. 2023, Eqn 7): the negative loss derivative at the
//! trained model.

use super::{GlobalImportance, ImportanceInputs};
use crate::error::Result;
use genrep_trainer::loss::softmax_cross_entropy;

/// Target derivative (Eqn 7): `alpha_i = -dL(f(x_i), y_i)/df(x_i) = -(softmax(f(x_i)) - e_{y_i})`.
pub fn target_derivative(logits: &[f32], labels: &[usize], num_classes: usize) -> Vec<f64> {
    softmax_cross_entropy(logits, labels, num_classes).dloss_dlogits.iter().map(|&g| -(g as f64)).collect()
}

/// [`target_derivative`] as a [`GlobalImportance`].
pub struct TargetDerivative;

impl GlobalImportance for TargetDerivative {
    fn name(&self) -> String {
        "target".into()
    }
    fn alpha(&self, x: &ImportanceInputs<'_>) -> Result<Vec<f64>> {
        Ok(target_derivative(x.logits, x.labels, x.num_classes))
    }
}
