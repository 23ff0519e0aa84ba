//! The surrogate derivative (Tsai et al. 2023, Eqns 8-9; Yeh et al. 2018, Theorem 3.1): a
//! kernel machine fitted to the model's outputs with an L2 penalty, whose stationarity condition
//! gives the importances.

use super::softmax_rows;
use crate::error::{ExplainError, Result};

/// How the surrogate fit ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SurrogateReport {
    /// Iterations of accelerated gradient descent.
    pub iterations: usize,
    /// Final gradient norm of the regularised objective (0 at a stationary point).
    pub grad_norm: f64,
    /// Mean |f_K(x_i) - f(x_i)| over training logits: how far the kernel machine is from the model.
    pub fit_residual: f64,
    /// Whether the stopping rule (`|grad| <= tol * scale`) was met within the iteration cap.
    #[serde(default)]
    pub converged: bool,
}

/// Surrogate derivative with the last-layer kernel (Eqn 6 = representer points, Yeh et al.
/// 2018, Theorem 3.1): [`refit_last_layer`] with soft targets `p_i = softmax(f(x_i))`, the
/// model's own predictions. The report's `fit_residual` is the mean `|Theta^T phi_i - f(x_i)|`.
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
    let targets = softmax_rows(model_logits, num_classes);
    let (alpha, theta, mut report) = refit_last_layer(feats, dim, &targets, num_classes, lambda, init, tol, max_iter)?;
    let n = feats.len() / dim;
    let obj = Objective { feats, dim, c: num_classes, n, targets: &targets, lambda };
    let z = obj.logits(&theta);
    report.fit_residual =
        z.iter().zip(model_logits).map(|(a, b)| (a - *b as f64).abs()).sum::<f64>() / (n * num_classes) as f64;
    Ok((alpha, theta, report))
}

/// Fits a linear head `Theta` (`[(d+1), C]`, bias row included) on fixed features `phi_i`
/// (`feats`, `[n, d+1]`) minimising
/// `F(Theta) = (1/n) sum_i CE(Theta^T phi_i, t_i) + lambda |Theta|^2` for target probability rows
/// `t_i` (`targets`, `[n, C]`: one-hot labels for the 2018 paper's fine-tuning, or the model's
/// softmax for the surrogate derivative), starting from `init`, by L-BFGS (memory 10, Armijo
/// backtracking) until `|grad F| <= tol * max(1, |2 lambda Theta|)`. At the stationary point
/// `Theta = sum_i phi_i alpha_i^T` with `alpha_i = -(1/(2 lambda n)) dL_i/dz_i` (Theorem 3.1),
/// returned with `Theta`. The report's `fit_residual` is left 0.
#[allow(clippy::too_many_arguments)]
pub fn refit_last_layer(
    feats: &[f64],
    dim: usize,
    targets: &[f64],
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
    let n = feats.len() / dim.max(1);
    if n == 0 || init.len() != dim * c || targets.len() != n * c {
        return Err(ExplainError::Numeric(format!(
            "last-layer fit: {n} examples, {} targets and an initial head of {} entries for {dim}x{c}",
            targets.len(),
            init.len()
        )));
    }
    let obj = Objective { feats, dim, c, n, targets, lambda };
    let gnorm = |g: &[f64]| g.iter().map(|x| x * x).sum::<f64>().sqrt();
    let out = crate::solve::lbfgs(
        init,
        &mut |theta| {
            let (f, g, _) = obj.eval(theta);
            (f, g)
        },
        &|theta| (2.0 * lambda * gnorm(theta)).max(1.0),
        tol,
        max_iter,
    );
    let (theta, iterations) = (out.x, out.iterations);
    let (_, g, dz) = obj.eval(&theta);
    let alpha: Vec<f64> = dz.iter().map(|d| -d / (2.0 * lambda * n as f64)).collect();
    let converged = gnorm(&g) <= tol * (2.0 * lambda * gnorm(&theta)).max(1.0);
    let report = SurrogateReport { iterations, grad_norm: gnorm(&g), fit_residual: 0.0, converged };
    Ok((alpha, theta, report))
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

/// Logits of a linear head on fixed features, `Z = Phi Theta` (`feats` `[n, dim]` row-major,
/// `theta` `[dim, C]` row-major, bias row included when `phi_i` ends in 1): `[n, C]`. One
/// multi-threaded f64 matrix product (deterministic: each output block is computed whole).
pub fn linear_logits(feats: &[f64], dim: usize, theta: &[f64], c: usize) -> Vec<f64> {
    let d = dim.max(1);
    let n = feats.len() / d;
    let mut z = vec![0.0; n * c];
    genrep_kernels::matmul::matmul_f64(&mut z, feats, theta, n, d, c, false, false, true);
    z
}

impl Objective<'_> {
    /// `Z = Phi Theta`, `[n, C]`.
    fn logits(&self, theta: &[f64]) -> Vec<f64> {
        linear_logits(self.feats, self.dim, theta, self.c)
    }

    /// `(F, grad F, dL_i/dz_i)` at `theta`: `grad F = Phi^T dZ / n + 2 lambda Theta`.
    ///
    /// One pass over the features, in fixed blocks of rows run in parallel (each row read once
    /// for its logits and its share of the gradient; the problem is memory-bound), with the
    /// blocks' partial sums added in block order: deterministic whatever the thread count.
    fn eval(&self, theta: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
        use rayon::prelude::*;
        let (d, c, n) = (self.dim, self.c, self.n);
        let theta_t: Vec<f64> = (0..c).flat_map(|k| (0..d).map(move |j| theta[j * c + k])).collect();
        const BLOCK: usize = 256;
        // Per block: (loss, gradient, and the two partial products the caller sums).
        #[allow(clippy::type_complexity)]
        let parts: Vec<(f64, Vec<f64>, Vec<f64>, Vec<f64>)> = self.feats[..n * d]
            .par_chunks(BLOCK * d)
            .zip(self.targets[..n * c].par_chunks(BLOCK * c))
            .map(|(rows, targets)| {
                let m = rows.len() / d;
                let (mut z, mut dz, mut g) = (vec![0.0; m * c], vec![0.0; m * c], vec![0.0; c * d]);
                let loss =
                    genrep_kernels::simd::linear_head_block(rows, d, &theta_t, targets, c, &mut z, &mut dz, &mut g);
                (loss, z, dz, g)
            })
            .collect();
        let mut grad_t = vec![0.0; c * d];
        let (mut loss, mut dz) = (0.0, Vec::with_capacity(n * c));
        for (l, _, dzb, g) in &parts {
            loss += l;
            dz.extend_from_slice(dzb);
            grad_t.iter_mut().zip(g).for_each(|(a, b)| *a += b);
        }
        let reg: f64 = theta.iter().map(|t| t * t).sum();
        let mut grad = vec![0.0; d * c];
        for j in 0..d {
            for k in 0..c {
                grad[j * c + k] = grad_t[k * d + j] / n as f64 + 2.0 * self.lambda * theta[j * c + k];
            }
        }
        (loss / n as f64 + self.lambda * reg, grad, dz)
    }
}

/// Surrogate derivative with the NTK-final kernel (Eqn 4-6 with `Phi(x) = df(x)/dtheta`).
///
/// Fits the kernel machine `f_K(x) = <w, df(x)/dtheta>` (one output per class, `w` in
/// parameter space, i.e. `f_K = sum_i alpha_i K(x_i, .)` in the RKHS of the NTK) to the model's
/// own outputs by minimising
/// `F(w) = (1/n) sum_i CE(J_i w, softmax(f(x_i))) + lambda |w|^2`
/// with L-BFGS from `w = 0`, until `|grad F| <= tol * max(1e-3, 2 lambda |w|)`. At a stationary
/// point `w = sum_i J_i^T alpha_i` with `alpha_i = -(1/(2 lambda n)) dCE_i/dz_i` (the representer
/// theorem), which is returned.
///
/// On models with a fused path each evaluation is one pass over the training set: `z_i = J_i w`
/// exactly by forward mode, `dz_i`, and `sum_i J_i^T dz_i` by the backward pass of the same
/// example; value and gradient are consistent to f32 round-off. Other models get `J_i w` by a
/// central difference with `eps = cbrt(eps_f32) (1 + |theta|) / |w|` and the gradient from one
/// burn backward pass per batch. The parameter vector is streamed, never an `n x p` matrix. The
/// report's `fit_residual` is the mean `|J_i w - f(x_i)|` over training logits. `progress` gets
/// (evaluations, cap).
#[allow(clippy::too_many_arguments)]
pub fn surrogate_ntk<M: genrep_models::Classifier>(
    model: &M,
    train: &genrep_data::Examples,
    model_logits: &[f32],
    lambda: f64,
    tol: f64,
    max_iter: usize,
    batch_size: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<f64>, SurrogateReport)> {
    use crate::params::{flat_values, shifted};
    if lambda.is_nan() || lambda <= 0.0 {
        return Err(ExplainError::Numeric("surrogate derivative needs lambda > 0".into()));
    }
    let c = model.num_classes();
    let n = train.len();
    if n == 0 || model_logits.len() != n * c {
        return Err(ExplainError::Numeric(format!(
            "surrogate fit: {} logits for {n} examples x {c} classes",
            model_logits.len()
        )));
    }
    let targets = softmax_rows(model_logits, c);
    let values = flat_values(model);
    let theta_norm = values.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
    let p = values.len();
    let device = genrep_models::params::device_of(model);
    let fast = genrep_trainer::Engine::Auto.fast_net(model, &device).filter(|f| f.check_inputs(train).is_ok());
    let batch = batch_size.max(1);
    let all: Vec<usize> = (0..n).collect();
    // J w for every training example: exact (fused forward mode) or a central difference.
    let jvp = |w: &[f64]| -> Vec<f64> {
        let wf: Vec<f32> = w.iter().map(|&v| v as f32).collect();
        if let Some(f) = &fast {
            return f.jvp(train, &all, &wf).1.iter().map(|&v| v as f64).collect();
        }
        let wn = w.iter().map(|v| v * v).sum::<f64>().sqrt();
        if wn == 0.0 {
            return vec![0.0; n * c];
        }
        // The textbook step of a central difference in f32: cbrt(machine epsilon) ~ 4.9e-3, relative.
        let eps = (f32::EPSILON as f64).cbrt() * (1.0 + theta_norm) / wn;
        let plus = genrep_trainer::predict_logits(&shifted(model, &wf, eps as f32), train, batch, &device);
        let minus = genrep_trainer::predict_logits(&shifted(model, &wf, -eps as f32), train, batch, &device);
        plus.iter().zip(&minus).map(|(a, b)| (*a as f64 - *b as f64) / (2.0 * eps)).collect()
    };
    let mut evals = 0;
    let mut eval = |w: &[f64]| -> (f64, Vec<f64>) {
        let mut grad: Vec<f64> = w.iter().map(|v| 2.0 * lambda * v).collect();
        let loss = match &fast {
            Some(f) => {
                // One fused pass: the weights closure turns each example's exact J_i w into
                // dCE_i/dz_i / n; its loss is kept per example and summed in order.
                let wf: Vec<f32> = w.iter().map(|&v| v as f32).collect();
                let losses: Vec<std::sync::atomic::AtomicU64> = (0..n).map(|_| Default::default()).collect();
                let mut g = vec![0.0f32; p];
                f.weighted_grad(
                    train,
                    &all,
                    Some(&wf),
                    &|r, _, jw, out: &mut [f32]| {
                        let z: Vec<f64> = jw.iter().map(|&v| v as f64).collect();
                        let (l, dz) = crate::solve::soft_cross_entropy(&z, &targets[r * c..(r + 1) * c], c);
                        losses[r].store(l.to_bits(), std::sync::atomic::Ordering::Relaxed);
                        for (o, d) in out.iter_mut().zip(dz) {
                            *o = (d / n as f64) as f32;
                        }
                    },
                    &mut g,
                );
                grad.iter_mut().zip(&g).for_each(|(a, b)| *a += *b as f64);
                losses.iter().map(|l| f64::from_bits(l.load(std::sync::atomic::Ordering::Relaxed))).sum::<f64>()
            }
            None => {
                let z = jvp(w);
                let (loss, dz) = crate::solve::soft_cross_entropy(&z, &targets, c);
                for chunk in all.chunks(batch) {
                    let wts: Vec<f32> =
                        chunk.iter().flat_map(|&i| (0..c).map(move |k| i * c + k)).map(|j| dz[j] as f32).collect();
                    let g = crate::grads::batch_weighted_grad(model, train, chunk, &wts);
                    grad.iter_mut().zip(&g).for_each(|(a, b)| *a += *b as f64 / n as f64);
                }
                loss
            }
        };
        evals += 1;
        progress(evals.min(max_iter), max_iter);
        let reg: f64 = w.iter().map(|v| v * v).sum();
        (loss / n as f64 + lambda * reg, grad)
    };
    let gnorm = |g: &[f64]| g.iter().map(|x| x * x).sum::<f64>().sqrt();
    let scale = |w: &[f64]| (2.0 * lambda * gnorm(w)).max(1e-3);
    let out = crate::solve::lbfgs(vec![0.0; p], &mut eval, &scale, tol, max_iter);
    let z = jvp(&out.x);
    let (_, dz) = crate::solve::soft_cross_entropy(&z, &targets, c);
    let alpha: Vec<f64> = dz.iter().map(|d| -d / (2.0 * lambda * n as f64)).collect();
    let resid = z.iter().zip(model_logits).map(|(a, b)| (a - *b as f64).abs()).sum::<f64>() / (n * c) as f64;
    let converged = gnorm(&out.grad) <= tol * scale(&out.x);
    Ok((
        alpha,
        SurrogateReport { iterations: out.iterations, grad_norm: gnorm(&out.grad), fit_residual: resid, converged },
    ))
}
