//! Sensitivity maps of representer values (Yeh et al. 2018, Section 4.4): which pixels of the
//! test image make a training image a strong proponent or opponent.

use crate::error::{ExplainError, Result};
use genrep_data::Examples;
use genrep_models::{Classifier, Input};

/// The gradient of the representer value `alpha_{i,c} f_i^T f(x_t)` with respect to the pixels
/// of test image `t` (normalised input space), flattened `[C, H, W]`; `f` are the penultimate
/// features (the appended bias 1 of the last-layer kernel has zero derivative), `f_i` is held
/// fixed and `alpha_ic` is the training point's global importance for the explained class.
/// `model` must live on an autodiff device.
pub fn representer_sensitivity<M: Classifier>(
    model: &M,
    train: &Examples,
    i: usize,
    test: &Examples,
    t: usize,
    alpha_ic: f64,
) -> Result<Vec<f32>> {
    if i >= train.len() {
        return Err(ExplainError::Index { what: "train", index: i, len: train.len() });
    }
    if t >= test.len() {
        return Err(ExplainError::Index { what: "test", index: t, len: test.len() });
    }
    let device = genrep_models::params::device_of(model);
    let plain = device.clone().inner();
    let fi = model.valid().features(&Input::gather(train, &[i], &plain));
    let Input::Images(x) = Input::gather(test, &[t], &plain) else {
        return Err(ExplainError::Numeric("sensitivity maps need image inputs".into()));
    };
    let x = x.autodiff().require_grad();
    let ft = model.features(&Input::Images(x.clone()));
    let value = (ft * fi.autodiff()).sum() * alpha_ic;
    let grads = value.backward();
    let g = x.grad(&grads).ok_or_else(|| ExplainError::Numeric("no gradient reached the test image".into()))?;
    Ok(genrep_models::params::f32_values(g.into_data()))
}
