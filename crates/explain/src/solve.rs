//! Linear solvers for the influence kernel: conjugate gradient on a matrix-free operator, and
//! a dense Cholesky solve for small systems.
//!
//! Ours rather than `argmin`'s: adding argmin 0.11 (even as a dev-dependency, with only the
//! `vec` math backend) switches on `num-complex/std` and `num-integer/std` under the `gemm` and
//! `ndarray` that burn uses, rebuilding the burn stack and splitting the README's one shared
//! build (measured with `cargo tree`, docs/DEPENDENCIES.md). These are held to oracles instead
//! (crates/explain/tests/oracles.rs): CG and LiSSA against a dense Cholesky solve, L-BFGS by the
//! representer identity at the refit's stationary point.

use crate::error::{ExplainError, Result};

/// How a conjugate-gradient solve ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CgReport {
    /// Iterations run.
    pub iterations: usize,
    /// Final relative residual `|A u - b| / |b|`.
    pub relative_residual: f64,
    /// Whether the tolerance was reached.
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Solves `A u = b` for a symmetric positive-definite operator `apply(v) = A v` by conjugate
/// gradient from `u = 0`, stopping at relative residual `tol` or `max_iter` iterations.
pub fn conjugate_gradient(
    mut apply: impl FnMut(&[f64]) -> Vec<f64>,
    b: &[f64],
    tol: f64,
    max_iter: usize,
) -> Result<(Vec<f64>, CgReport)> {
    let n = b.len();
    let bnorm = dot(b, b).sqrt();
    if bnorm == 0.0 {
        return Ok((vec![0.0; n], CgReport { iterations: 0, relative_residual: 0.0, converged: true }));
    }
    let mut u = vec![0.0; n];
    let mut r = b.to_vec();
    let mut p = r.clone();
    let mut rr = dot(&r, &r);
    let mut it = 0;
    while it < max_iter && rr.sqrt() / bnorm > tol {
        let ap = apply(&p);
        let pap = dot(&p, &ap);
        if pap <= 0.0 || !pap.is_finite() {
            return Err(ExplainError::Numeric(format!(
                "conjugate gradient: the Hessian is not positive definite along a search direction \
                 (p^T H p = {pap:e} at iteration {it}); increase the damping"
            )));
        }
        let a = rr / pap;
        for k in 0..n {
            u[k] += a * p[k];
            r[k] -= a * ap[k];
        }
        let rr_new = dot(&r, &r);
        let beta = rr_new / rr;
        for k in 0..n {
            p[k] = r[k] + beta * p[k];
        }
        rr = rr_new;
        it += 1;
    }
    let rel = rr.sqrt() / bnorm;
    Ok((u, CgReport { iterations: it, relative_residual: rel, converged: rel <= tol }))
}

/// In-place Cholesky factorisation `A = L L^T` of a dense symmetric `n x n` row-major matrix
/// (the lower triangle is overwritten with `L`). Errors if `A` is not positive definite.
pub fn cholesky(a: &mut [f64], n: usize) -> Result<()> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return Err(ExplainError::Numeric(format!(
                "Cholesky: matrix not positive definite at pivot {j} (value {d:e}); add damping"
            )));
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    Ok(())
}

/// Solves `L L^T u = b` given the factor from [`cholesky`].
pub fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            y[i] -= l[i * n + k] * y[k];
        }
        y[i] /= l[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= l[k * n + i] * y[k];
        }
        y[i] /= l[i * n + i];
    }
    y
}

/// How an [`lbfgs`] minimisation ended.
#[derive(Debug, Clone, PartialEq)]
pub struct LbfgsOutcome {
    /// The minimiser found.
    pub x: Vec<f64>,
    /// Objective value there.
    pub value: f64,
    /// Gradient there.
    pub grad: Vec<f64>,
    /// Iterations taken.
    pub iterations: usize,
}

/// An objective for [`lbfgs`]: the value and the gradient at a point.
pub type Objective<'a> = dyn FnMut(&[f64]) -> (f64, Vec<f64>) + 'a;

/// Minimises a smooth function by L-BFGS (memory 10, two-loop recursion, Armijo backtracking),
/// from `init`, until `|grad| <= tol * scale(x)` or `max_iter` iterations. `eval(x)` returns
/// `(f(x), grad f(x))`. Falls back to steepest descent when the quasi-Newton direction is not
/// a descent direction (e.g. from an inexact gradient).
pub fn lbfgs(
    init: Vec<f64>,
    eval: &mut Objective<'_>,
    scale: &dyn Fn(&[f64]) -> f64,
    tol: f64,
    max_iter: usize,
) -> LbfgsOutcome {
    let dotf = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let gnorm = |g: &[f64]| g.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut x = init;
    let (mut f, mut g) = eval(&x);
    let (mut s_hist, mut y_hist): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (Vec::new(), Vec::new());
    let mut iterations = 0;
    while iterations < max_iter && gnorm(&g) > tol * scale(&x) {
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
            s_hist.clear();
            y_hist.clear();
            d = g.iter().map(|v| -v).collect();
            slope = dotf(&g, &d);
        }
        // Armijo backtracking, at most 20 halvings. A direction that does not decrease the
        // objective by then has hit the precision of its evaluation (f32 passes give values
        // accurate to ~1e-7 relative); the candidate with the smallest gradient is then taken if
        // it is more stationary than the current point, else the search stops there.
        let mut step = 1.0;
        let mut best: Option<(Vec<f64>, f64, Vec<f64>, f64)> = None;
        let accepted = loop {
            let cand: Vec<f64> = x.iter().zip(&d).map(|(t, di)| t + step * di).collect();
            let (cf, cg) = eval(&cand);
            if cf <= f + 1e-4 * step * slope {
                break Some((cand, cf, cg));
            }
            let cn = gnorm(&cg);
            if best.as_ref().is_none_or(|b| cn < b.3) {
                best = Some((cand, cf, cg, cn));
            }
            if step < 1e-6 {
                break best.filter(|b| b.3 < gnorm(&g)).map(|b| (b.0, b.1, b.2));
            }
            step *= 0.5;
        };
        let Some((new_x, new_f, new_g)) = accepted else { break };
        let s: Vec<f64> = new_x.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = new_g.iter().zip(&g).map(|(a, b)| a - b).collect();
        if dotf(&s, &y) > 1e-12 * dotf(&y, &y).max(1e-300) {
            s_hist.push(s);
            y_hist.push(y);
            if s_hist.len() > 10 {
                s_hist.remove(0);
                y_hist.remove(0);
            }
        }
        x = new_x;
        f = new_f;
        g = new_g;
        iterations += 1;
    }
    LbfgsOutcome { x, value: f, grad: g, iterations }
}

/// Soft-target cross-entropy of logit rows `z` (`[n, C]`) against probability rows `targets`:
/// returns `(sum_i CE(z_i, p_i), dCE_i/dz_i = softmax(z_i) - p_i)`.
pub fn soft_cross_entropy(z: &[f64], targets: &[f64], c: usize) -> (f64, Vec<f64>) {
    let mut dz = vec![0.0; z.len()];
    let loss = z
        .chunks(c)
        .zip(targets.chunks(c))
        .zip(dz.chunks_mut(c))
        .map(|((row, t), d)| genrep_kernels::simd::soft_cross_entropy_row(row, t, d))
        .sum();
    (loss, dz)
}

/// Settings of LiSSA (Agarwal, Bullins & Hazan 2017; the influence-function solver of Koh &
/// Liang 2017): `u_0 = b`, `u_j = b + u_{j-1} - (H_j + damping I) u_{j-1} / scale` with `H_j`
/// the curvature on a fresh minibatch, and `H^{-1} b ~ u_depth / scale`, averaged over
/// `repeats` runs. It converges when `scale` exceeds the largest eigenvalue of `H + damping I`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LissaOptions {
    /// Recursion depth per repeat.
    pub depth: usize,
    /// Scale (an upper bound on the curvature's spectrum).
    pub scale: f64,
    /// Minibatch size of each curvature product.
    pub batch: usize,
    /// Independent repeats averaged.
    pub repeats: usize,
}

impl Default for LissaOptions {
    fn default() -> Self {
        Self { depth: 200, scale: 50.0, batch: 64, repeats: 1 }
    }
}

/// Solves `(H + damping I) u = b` by LiSSA ([`LissaOptions`]). `apply(v, j)` returns the
/// damped curvature product on minibatch number `j` (the caller draws the minibatches);
/// `full(v)` returns it on the whole sample and is called once at the end to report the
/// relative residual `|A u - b| / |b|` (`converged` means it is at most `tol`).
pub fn lissa(
    mut apply: impl FnMut(&[f64], usize) -> Vec<f64>,
    full: impl FnOnce(&[f64]) -> Vec<f64>,
    b: &[f64],
    opts: &LissaOptions,
    tol: f64,
) -> Result<(Vec<f64>, CgReport)> {
    if !(opts.scale.is_finite() && opts.scale > 0.0) || opts.depth == 0 || opts.repeats == 0 || opts.batch == 0 {
        return Err(ExplainError::Numeric(format!(
            "LiSSA needs depth, repeats and batch >= 1 and a positive scale (got {opts:?})"
        )));
    }
    let mut total = vec![0.0; b.len()];
    let mut step = 0;
    for _ in 0..opts.repeats {
        let mut u = b.to_vec();
        for _ in 0..opts.depth {
            let hu = apply(&u, step);
            step += 1;
            for ((ui, bi), hi) in u.iter_mut().zip(b).zip(&hu) {
                *ui = bi + *ui - hi / opts.scale;
            }
            if u.iter().any(|v| !v.is_finite()) {
                return Err(ExplainError::Numeric(format!(
                    "LiSSA diverged after {step} steps: raise the scale above the largest curvature eigenvalue (now {})",
                    opts.scale
                )));
            }
        }
        total.iter_mut().zip(&u).for_each(|(t, v)| *t += v / (opts.scale * opts.repeats as f64));
    }
    let r = full(&total);
    let bnorm = dot(b, b).sqrt().max(1e-300);
    let res = r.iter().zip(b).map(|(a, c)| (a - c) * (a - c)).sum::<f64>().sqrt() / bnorm;
    Ok((total, CgReport { iterations: step, relative_residual: res, converged: res <= tol }))
}
