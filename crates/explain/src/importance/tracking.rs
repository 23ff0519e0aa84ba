//! The tracking representer (Tsai et al. 2023, Eqn 10): the loss derivatives accumulated along
//! the SGD trajectory (recorded during training by `genrep_trainer::TrainingRecord`).

use super::{GlobalImportance, ImportanceInputs};
use crate::error::{ExplainError, Result};
use genrep_trainer::TrainingRecord;

/// Tracking representer (Eqn 10): `alpha_i = -sum_{t: i in B_t} (eta_t/|B_t|) dL(f^{(t-1)}(x_i), y_i)/df`,
/// read from the run's [`TrainingRecord`].
pub fn tracking(record: &TrainingRecord) -> Vec<f64> {
    record.tracking_sum.iter().map(|a| -a).collect()
}

/// [`tracking`] as a [`GlobalImportance`] (needs the training record).
pub struct Tracking;

impl GlobalImportance for Tracking {
    fn name(&self) -> String {
        "tracking".into()
    }
    fn alpha(&self, x: &ImportanceInputs<'_>) -> Result<Vec<f64>> {
        let record = x.record.ok_or_else(|| ExplainError::Missing {
            method: "tracking".into(),
            what: "the run's training record".into(),
        })?;
        Ok(tracking(record))
    }
}
