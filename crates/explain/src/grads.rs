//! Per-example gradients of weighted outputs, `g_i(w) = d/dtheta [ w . f(x_i; theta) ]`.
//!
//! With `w = e_c` this is the NTK feature map `df_c(x_i)/dtheta`; with `w = dL_i/df` it is the
//! loss gradient `dL_i/dtheta` (chain rule, `w` held constant); with `w = alpha_i` it is the
//! vector whose inner product with `df_c(x)/dtheta` gives `sum_c' alpha_{i,c'} K_{c',c}`.
//! This is the generic path: one batch-1 backward pass per example, exact for any
//! [`Classifier`].

use crate::params::flat_grads;
use burn::prelude::*;
use genrep_data::Examples;
use genrep_models::{Classifier, Input};

/// `d/dtheta [ sum_c w_c f_c(x_i) ]` for training/test example `index` of `examples`, flattened.
/// `model` must live on an autodiff device.
pub fn weighted_output_grad<M: Classifier>(model: &M, examples: &Examples, index: usize, w: &[f32]) -> Vec<f32> {
    let device = genrep_models::params::device_of(model);
    let x = Input::gather(examples, &[index], &device.clone().inner());
    let logits = model.logits(&x);
    let wt = Tensor::<2>::from_data(TensorData::new(w.to_vec(), [1, w.len()]), &device.inner());
    let grads = (logits * wt).sum().backward();
    flat_grads(model, &grads)
}

/// The gradient of the summed weighted outputs of a batch, `d/dtheta sum_i w_i . f(x_i)`
/// (`weights` is `[batch, C]` row-major). One backward pass for the whole batch.
pub fn batch_weighted_grad<M: Classifier>(
    model: &M,
    examples: &Examples,
    indices: &[usize],
    weights: &[f32],
) -> Vec<f32> {
    batch_grad_from_logits(model, examples, indices, |_| weights.to_vec())
}

/// Like [`batch_weighted_grad`], with the weights computed from the batch's own logits
/// (`[batch, C]` values, held constant): one forward and one backward pass, no second forward.
pub fn batch_grad_from_logits<M: Classifier>(
    model: &M,
    examples: &Examples,
    indices: &[usize],
    weights: impl FnOnce(&[f32]) -> Vec<f32>,
) -> Vec<f32> {
    let device = genrep_models::params::device_of(model);
    let x = Input::gather(examples, indices, &device.clone().inner());
    let logits = model.logits(&x);
    let c = logits.dims()[1];
    let values = genrep_models::params::f32_values(logits.to_data());
    let w = weights(&values);
    let wt = Tensor::<2>::from_data(TensorData::new(w, [indices.len(), c]), &device.inner());
    let grads = (logits * wt).sum().backward();
    flat_grads(model, &grads)
}
