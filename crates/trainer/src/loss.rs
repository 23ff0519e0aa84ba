//! Softmax cross-entropy, its per-example derivative, and the surrogate used for backprop.

use burn::prelude::*;

/// Per-batch results of [`softmax_cross_entropy`].
#[derive(Debug, Clone, PartialEq)]
pub struct LossParts {
    /// Mean loss `(1/B) sum_i -log softmax(f_i)_{y_i}`.
    pub mean_loss: f64,
    /// `[B, C]` per-example derivatives `dL_i/df_i = softmax(f_i) - onehot(y_i)` (before the mean).
    pub dloss_dlogits: Vec<f32>,
    /// Number of examples whose arg-max logit is the label.
    pub correct: usize,
}

/// Index of the largest entry of `row` (the first one on ties): the predicted class of a row of
/// logits. An empty row gives 0.
pub fn argmax<T: PartialOrd + Copy>(row: &[T]) -> usize {
    row.iter().enumerate().fold(0, |b, (k, &v)| if v > row[b] { k } else { b })
}

/// Softmax cross-entropy of `[B, C]` row-major `logits` against `labels`, computed in f64 with
/// the log-sum-exp shift: `L_i = logsumexp(f_i) - f_{i, y_i}`, `dL_i/df_i = softmax(f_i) - e_{y_i}`.
pub fn softmax_cross_entropy(logits: &[f32], labels: &[usize], num_classes: usize) -> LossParts {
    let c = num_classes;
    let mut total = 0.0f64;
    let mut correct = 0;
    let mut grad = vec![0.0f32; logits.len()];
    for (i, &y) in labels.iter().enumerate() {
        let row = &logits[i * c..(i + 1) * c];
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
        let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
        let lse = max + sum.ln();
        total += lse - row[y] as f64;
        if argmax(row) == y {
            correct += 1;
        }
        for k in 0..c {
            let p = (row[k] as f64 - lse).exp();
            grad[i * c + k] = (p - if k == y { 1.0 } else { 0.0 }) as f32;
        }
    }
    LossParts { mean_loss: total / labels.len().max(1) as f64, dloss_dlogits: grad, correct }
}

/// A scalar whose gradient with respect to `logits` is `weights` (a constant): `sum(logits *
/// weights)`. With `weights = dL/df / B` its backward pass yields exactly the gradient of the
/// mean cross-entropy, without building the softmax into the graph.
pub fn linear_surrogate(logits: Tensor<2>, weights: Vec<f32>) -> Tensor<1> {
    let dims = logits.dims();
    let device = logits.device();
    let w = Tensor::<2>::from_data(TensorData::new(weights, dims), &device.inner());
    (logits * w).sum()
}
