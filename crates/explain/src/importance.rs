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
/// `F(Theta) = (1/n) sum_i CE(Theta^T phi_i, p_i) + lambda |Theta|^2` with soft targets
/// `p_i = softmax(f(x_i))`, starting from `init`, by L-BFGS (memory 10, Armijo backtracking)
/// until `|grad F| <= tol * max(1, |2 lambda Theta|)`. At the stationary point
/// `Theta = sum_i alpha_i phi_i^T` with `alpha_i = -(1/(2 lambda n)) dL_i/dz_i`, returned with `Theta`.
#[allow(clippy::too_many_arguments)]
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
    if lambda.is_nan() || lambda <= 0.0 {
        return Err(ExplainError::Numeric("surrogate derivative needs lambda > 0".into()));
    }
    let c = num_classes;
    let n = feats.len() / dim;
    if n == 0 || init.len() != dim * c {
        return Err(ExplainError::Numeric(format!(
            "surrogate fit: {n} examples and an initial head of {} entries for {dim}x{c}",
            init.len()
        )));
    }
    let targets = softmax_rows(model_logits, c);
    let obj = Objective { feats, dim, c, n, targets: &targets, lambda };
    let mut theta = init;
    let (mut f, mut g, _) = obj.eval(&theta);
    let gnorm = |g: &[f64]| g.iter().map(|x| x * x).sum::<f64>().sqrt();
    let scale = |theta: &[f64]| (2.0 * lambda * gnorm(theta)).max(1.0);
    let (mut s_hist, mut y_hist): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (Vec::new(), Vec::new());
    let mut iterations = 0;
    while iterations < max_iter && gnorm(&g) > tol * scale(&theta) {
        // Two-loop recursion: d = -H_k g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(s_hist.len());
        for (s, y) in s_hist.iter().zip(&y_hist).rev() {
            let rho = 1.0 / dotf(y, s);
            let a = rho * dotf(s, &q);
            q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
            alphas.push((rho, a));
        }
        if let (Some(s), Some(y)) = (s_hist.last(), y_hist.last()) {
            let gamma = dotf(s, y) / dotf(y, y);
            q.iter_mut().for_each(|v| *v *= gamma);
        } else {
            let g0 = gnorm(&g);
            q.iter_mut().for_each(|v| *v /= g0.max(1e-12));
        }
        for ((s, y), (rho, a)) in s_hist.iter().zip(&y_hist).zip(alphas.into_iter().rev()) {
            let b = rho * dotf(y, &q);
            q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
        }
        let mut d: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dotf(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (numerical trouble): restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            d = g.iter().map(|v| -v).collect();
            slope = dotf(&g, &d);
        }
        let mut step = 1.0;
        let (new_theta, new_f, new_g) = loop {
            let cand: Vec<f64> = theta.iter().zip(&d).map(|(t, di)| t + step * di).collect();
            let (cf, cg, _) = obj.eval(&cand);
            if cf <= f + 1e-4 * step * slope || step < 1e-12 {
                break (cand, cf, cg);
            }
            step *= 0.5;
        };
        let s: Vec<f64> = new_theta.iter().zip(&theta).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = new_g.iter().zip(&g).map(|(a, b)| a - b).collect();
        if dotf(&s, &y) > 1e-12 * dotf(&y, &y).max(1e-300) {
            s_hist.push(s);
            y_hist.push(y);
            if s_hist.len() > 10 {
                s_hist.remove(0);
                y_hist.remove(0);
            }
        }
        theta = new_theta;
        f = new_f;
        g = new_g;
        iterations += 1;
    }
    let (_, g, dz) = obj.eval(&theta);
    let alpha: Vec<f64> = dz.iter().map(|d| -d / (2.0 * lambda * n as f64)).collect();
    let z = obj.logits(&theta);
    let resid: f64 = z.iter().zip(model_logits).map(|(a, b)| (a - *b as f64).abs()).sum::<f64>() / (n * c) as f64;
    let report = SurrogateReport { iterations, grad_norm: gnorm(&g), fit_residual: resid };
    Ok((alpha, theta, report))
}

fn dotf(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn softmax_rows(logits: &[f32], c: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks(c) {
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let z: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
        out.extend(row.iter().map(|&v| (v as f64 - m).exp() / z));
    }
    out
}

/// The regularised soft-target cross-entropy of a linear head on fixed features.
struct Objective<'a> {
    feats: &'a [f64],
    dim: usize,
    c: usize,
    n: usize,
    targets: &'a [f64],
    lambda: f64,
}

impl Objective<'_> {
    /// `Z = Phi Theta`, `[n, C]`.
    fn logits(&self, theta: &[f64]) -> Vec<f64> {
        use rayon::prelude::*;
        let (d, c) = (self.dim, self.c);
        self.feats
            .par_chunks(d)
            .flat_map_iter(|phi| (0..c).map(move |k| (0..d).map(|j| phi[j] * theta[j * c + k]).sum::<f64>()))
            .collect()
    }

    /// `(F, grad F, dL_i/dz_i)` at `theta`.
    fn eval(&self, theta: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
        use rayon::prelude::*;
        let (d, c, n) = (self.dim, self.c, self.n);
        let z = self.logits(theta);
        let mut loss = 0.0;
        let mut dz = vec![0.0; n * c];
        for i in 0..n {
            let row = &z[i * c..(i + 1) * c];
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
            let lse = m + s.ln();
            for k in 0..c {
                let t = self.targets[i * c + k];
                loss -= t * (row[k] - lse);
                dz[i * c + k] = (row[k] - lse).exp() - t;
            }
        }
        // grad = Phi^T dz / n + 2 lambda Theta, accumulated per thread over row blocks.
        let block = 512;
        let mut grad = (0..n.div_ceil(block))
            .into_par_iter()
            .map(|b| {
                let mut g = vec![0.0; d * c];
                for i in b * block..((b + 1) * block).min(n) {
                    let phi = &self.feats[i * d..(i + 1) * d];
                    for k in 0..c {
                        let w = dz[i * c + k];
                        if w != 0.0 {
                            for j in 0..d {
                                g[j * c + k] += phi[j] * w;
                            }
                        }
                    }
                }
                g
            })
            .reduce(
                || vec![0.0; d * c],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let reg: f64 = theta.iter().map(|t| t * t).sum();
        for (gk, t) in grad.iter_mut().zip(theta) {
            *gk = *gk / n as f64 + 2.0 * self.lambda * t;
        }
        (loss / n as f64 + self.lambda * reg, grad, dz)
    }
}
