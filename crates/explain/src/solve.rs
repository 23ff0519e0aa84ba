//! Linear solvers for the influence kernel: conjugate gradient on a matrix-free operator, and
//! a dense Cholesky solve for small systems.

use crate::error::{ExplainError, Result};

/// How a conjugate-gradient solve ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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
