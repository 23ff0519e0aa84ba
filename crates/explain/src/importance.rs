//! Global importances `alpha_i` (an `[n, C]` row-major matrix) of Tsai et al. 2023, Section 4.

use crate::error::{ExplainError, Result};
use genrep_trainer::loss::softmax_cross_entropy;
use genrep_trainer::TrainingRecord;

/// Target derivative (Eqn 7): `alpha_i = -dL(f(x_i), y_i)/df(x_i) = -(softmax(f(x_i)) - e_{y_i})`.
pub fn target_derivative(logits: &[f32], labels: &[usize], num_classes: usize) -> Vec<f64> {
    softmax_cross_entropy(logits, labels, num_classes).dloss_dlogits.iter().map(|&g| -(g as f64)).collect()
}

/// Tracking representer (Eqn 10): `alpha_i = -sum_{t: i in B_t} (eta_t/|B_t|) dL(f^{(t-1)}(x_i), y_i)/df`,
/// read from the run's [`TrainingRecord`].
pub fn tracking(record: &TrainingRecord) -> Vec<f64> {
    record.tracking_sum.iter().map(|a| -a).collect()
}

/// How the surrogate fit ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SurrogateReport {
    /// Iterations of accelerated gradient descent.
    pub iterations: usize,
    /// Final gradient norm of the regularised objective (0 at a stationary point).
    pub grad_norm: f64,
    /// Mean |f_K(x_i) - f(x_i)| over training logits: how far the kernel machine is from the model.
    pub fit_residual: f64,
}

/// Surrogate derivative with the last-layer kernel (Eqn 6 = representer points, Yeh et al.
/// 2018, Theorem 3.1): fits `Theta` (`[(d+1), C]`, bias row included) minimising
/// `(1/n) sum_i CE(Theta^T phi_i, p_i) + lambda |Theta|^2` with soft targets `p_i = softmax(f(x_i))`,
/// starting from `init`, by accelerated gradient descent to `|grad| < tol`. At the stationary
/// point `Theta = sum_i alpha_i phi_i^T` with `alpha_i = -(1/(2 lambda n)) dL_i/dz_i`, which is
/// returned together with `Theta`.
pub fn surrogate_last_layer(
    feats: &[f64],
    dim: usize,
    model_logits: &[f32],
    num_classes: usize,
    lambda: f64,
    init: Vec<f64>,
    tol: f64,
    max_iter: usize,
) -> Result<(Vec<f64>, Vec<f64>, SurrogateReport)> {
    if !(lambda > 0.0) {
        return Err(ExplainError::Numeric("surrogate derivative needs lambda > 0".into()));
    }
    let c = num_classes;
    let n = feats.len() / dim;
    let targets: Vec<f64> = (0..n)
        .flat_map(|i| {
            let row = &model_logits[i * c..(i + 1) * c];
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
            let z: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
            row.iter().map(move |&v| (v as f64 - m).exp() / z).collect::<Vec<_>>()
        })
        .collect();
    // dL/dz for every example at parameters theta; returns (grad of objective, dL/dz).
    let grad_at = |theta: &[f64]| -> (Vec<f64>, Vec<f64>) {
        let mut g = vec![0.0; dim * c];
        let mut dz = vec![0.0; n * c];
        for i in 0..n {
            let phi = &feats[i * dim..(i + 1) * dim];
            let mut z = vec![0.0; c];
            for (k, zk) in z.iter_mut().enumerate() {
                *zk = (0..dim).map(|j| phi[j] * theta[j * c + k]).sum();
            }
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
            for k in 0..c {
                dz[i * c + k] = (z[k] - m).exp() / s - targets[i * c + k];
            }
            for j in 0..dim {
                for k in 0..c {
                    g[j * c + k] += phi[j] * dz[i * c + k] / n as f64;
                }
            }
        }
        for (gk, t) in g.iter_mut().zip(theta) {
            *gk += 2.0 * lambda * t;
        }
        (g, dz)
    };
    // Lipschitz bound: softmax-CE curvature <= 1/2, times the top eigenvalue of Phi^T Phi / n.
    let mut v = vec![1.0 / (dim as f64).sqrt(); dim];
    let mut top = 0.0;
    for _ in 0..30 {
        let mut w = vec![0.0; dim];
        for i in 0..n {
            let phi = &feats[i * dim..(i + 1) * dim];
            let s: f64 = phi.iter().zip(&v).map(|(a, b)| a * b).sum();
            for j in 0..dim {
                w[j] += phi[j] * s / n as f64;
            }
        }
        top = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if top == 0.0 {
            break;
        }
        v = w.iter().map(|x| x / top).collect();
    }
    let lip = 0.5 * top * 1.05 + 2.0 * lambda;
    let step = 1.0 / lip;
    let mut theta = init;
    let mut prev = theta.clone();
    let mut t_k = 1.0f64;
    let mut iterations = 0;
    while iterations < max_iter {
        // Nesterov momentum with the strongly-convex-free schedule; restart when it stops helping.
        let t_next = (1.0 + (1.0 + 4.0 * t_k * t_k).sqrt()) / 2.0;
        let beta = (t_k - 1.0) / t_next;
        let y: Vec<f64> = theta.iter().zip(&prev).map(|(a, b)| a + beta * (a - b)).collect();
        let (g, _) = grad_at(&y);
        let next: Vec<f64> = y.iter().zip(&g).map(|(a, b)| a - step * b).collect();
        prev = std::mem::replace(&mut theta, next);
        t_k = t_next;
        iterations += 1;
        if iterations % 10 == 0 {
            let (g_at, _) = grad_at(&theta);
            if g_at.iter().map(|x| x * x).sum::<f64>().sqrt() < tol {
                break;
            }
            if iterations % 200 == 0 {
                t_k = 1.0; // periodic restart keeps the iteration monotone in practice
            }
        }
    }
    let (g, dz) = grad_at(&theta);
    let gnorm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    let alpha: Vec<f64> = dz.iter().map(|d| -d / (2.0 * lambda * n as f64)).collect();
    let mut resid = 0.0;
    for i in 0..n {
        for k in 0..c {
            let z: f64 = (0..dim).map(|j| feats[i * dim + j] * theta[j * c + k]).sum();
            resid += (z - model_logits[i * c + k] as f64).abs();
        }
    }
    let report = SurrogateReport { iterations, grad_norm: gnorm, fit_residual: resid / (n * c) as f64 };
    Ok((alpha, theta, report))
}
