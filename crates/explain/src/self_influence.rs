//! Per-training-example scores for dataset debugging: how much each training point's own
//! (possibly wrong) label drives the model. Mislabelled points score high (Yeh et al. 2018,
//! Section 4.1; Koh & Liang 2017, Section 5.4; Pruthi et al. 2020, Section 4).

use crate::error::{ExplainError, Result};
use crate::grads::weighted_output_grad;
use crate::importance::{refit_last_layer, SurrogateReport};
use crate::kernel::features_with_bias;
use crate::method::head_matrix;
use genrep_data::Examples;
use genrep_models::Classifier;
use genrep_trainer::predict_logits;
use rayon::prelude::*;

fn probs<M: Classifier>(model: &M, train: &Examples, batch_size: usize) -> Vec<f64> {
    let device = genrep_models::params::device_of(model);
    crate::importance::softmax_rows(&predict_logits(model, train, batch_size, &device), model.num_classes())
}

/// Representer importance of every training point for its own label (Yeh et al. 2018,
/// Theorem 3.1): the head is fine-tuned on the fixed penultimate features (bias included)
/// against the training labels `y_i` with penalty `lambda |Theta|^2` to a stationary point
/// ([`refit_last_layer`] from the trained head), and the score is `|alpha_{i, y_i}|` with
/// `alpha_i = -(1/(2 lambda n)) dCE(Theta^T phi_i, y_i)/dz`.
pub fn representer_label_importance<M: Classifier>(
    model: &M,
    train: &Examples,
    lambda: f64,
    batch_size: usize,
) -> Result<(Vec<f64>, SurrogateReport)> {
    let c = model.num_classes();
    let n = train.len();
    let feats = features_with_bias(model, train, batch_size);
    let dim = feats.len() / n.max(1);
    let mut one_hot = vec![0.0; n * c];
    for (i, &y) in train.labels.iter().enumerate() {
        one_hot[i * c + y] = 1.0;
    }
    let (alpha, _, report) = refit_last_layer(&feats, dim, &one_hot, c, lambda, head_matrix(model), 1e-6, 5000)?;
    Ok(((0..n).map(|i| alpha[i * c + train.labels[i]].abs()).collect(), report))
}

/// TracIn self-influence (Pruthi et al. 2020, Eqn 5 at x = x_i):
/// `sum_t eta_t |grad_theta L(f(x_i; theta_t), y_i)|^2` over the checkpoints `(model_t, eta_t)`.
/// Per-example gradients by the generic batch-1 path; `progress(done, total)` counts examples.
pub fn tracin_self_influence<M: Classifier>(
    checkpoints: &[(M, f64)],
    train: &Examples,
    batch_size: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Vec<f64> {
    let n = train.len();
    let total = n * checkpoints.len();
    let mut out = vec![0.0; n];
    for (k, (model, lr)) in checkpoints.iter().enumerate() {
        let c = model.num_classes();
        let p = probs(model, train, batch_size);
        for (i, o) in out.iter_mut().enumerate() {
            let w: Vec<f32> =
                (0..c).map(|j| (p[i * c + j] - if train.labels[i] == j { 1.0 } else { 0.0 }) as f32).collect();
            let g = weighted_output_grad(model, train, i, &w);
            *o += lr * g.iter().map(|v| (*v as f64) * (*v as f64)).sum::<f64>();
            if i % 64 == 0 {
                progress(k * n + i, total);
            }
        }
    }
    progress(total, total);
    out
}

/// Influence-function self-influence over the last layer, `g_i^T (H + damping I)^{-1} g_i`
/// with `g_i = dL(f(x_i), y_i)/dTheta` and `H` the mean training-loss Hessian of the head
/// (Koh & Liang 2017 restricted to the last layer, as the 2023 paper does for text).
///
/// Exact for binary classifiers by a Kronecker reduction: with `u = (1, -1)/sqrt 2`, the softmax
/// Hessian of example i is `2 p_i0 p_i1 u u^T`, so `H = A (x) u u^T + damping I` with
/// `A = (1/n) sum_i 2 p_i0 p_i1 phi_i phi_i^T`, every `g_i = sqrt 2 r_i phi_i (x) u`
/// (`r_i = p_i0 - [y_i = 0]`), and `g_i^T H^{-1} g_i = 2 r_i^2 phi_i^T (A + damping I)^{-1} phi_i`:
/// one `(d+1) x (d+1)` Cholesky factorisation instead of a `2(d+1)`-dimensional solve per example.
pub fn influence_ll_self_influence<M: Classifier>(
    model: &M,
    train: &Examples,
    damping: f64,
    batch_size: usize,
) -> Result<Vec<f64>> {
    let c = model.num_classes();
    if c != 2 {
        return Err(ExplainError::Numeric(format!(
            "last-layer influence self-influence is implemented for binary classifiers; this model has {c} classes"
        )));
    }
    if damping.is_nan() || damping < 0.0 {
        return Err(ExplainError::Numeric("damping must be >= 0".into()));
    }
    let n = train.len();
    let feats = features_with_bias(model, train, batch_size);
    let d = feats.len() / n.max(1);
    let p = probs(model, train, batch_size);
    // A = (1/n) sum_i w_i phi_i phi_i^T + damping I, row blocks in parallel.
    let mut a: Vec<f64> = (0..d)
        .into_par_iter()
        .flat_map_iter(|r| {
            let mut row = vec![0.0; d];
            for i in 0..n {
                let phi = &feats[i * d..(i + 1) * d];
                let w = 2.0 * p[i * 2] * p[i * 2 + 1] / n as f64 * phi[r];
                if w != 0.0 {
                    row.iter_mut().zip(phi).for_each(|(x, f)| *x += w * f);
                }
            }
            row[r] += damping;
            row
        })
        .collect();
    crate::solve::cholesky(&mut a, d)?;
    let l = &a;
    Ok((0..n)
        .into_par_iter()
        .map(|i| {
            // |L^{-1} phi_i|^2 = phi_i^T (L L^T)^{-1} phi_i by forward substitution.
            let mut y = feats[i * d..(i + 1) * d].to_vec();
            for r in 0..d {
                let s: f64 = (0..r).map(|k| l[r * d + k] * y[k]).sum();
                y[r] = (y[r] - s) / l[r * d + r];
            }
            let ri = p[i * 2] - if train.labels[i] == 0 { 1.0 } else { 0.0 };
            2.0 * ri * ri * y.iter().map(|v| v * v).sum::<f64>()
        })
        .collect())
}
