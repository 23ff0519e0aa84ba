//! Extreme eigenvalues of a symmetric positive (semi-)definite operator by the Lanczos method,
//! matrix-free: the condition of the influence kernels' damped Hessians `H + damping I`.
//!
//! `k` Lanczos steps from a seeded random start build an orthonormal basis `Q_k` (fully
//! re-orthogonalised) with `Q_k^T A Q_k = T_k` tridiagonal; the extreme eigenvalues of `T_k` (the
//! Ritz values, found here by bisection on Sturm sequences) approach those of `A` from inside:
//! `lambda_max(T_k) <= lambda_max(A)` and `lambda_min(T_k) >= lambda_min(A)`, with equality once
//! `k` reaches the dimension (or an invariant subspace). Golub & Van Loan, *Matrix
//! Computations*, sections 10.1 and 8.4.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Extreme eigenvalue estimates of a symmetric operator.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spectrum {
    /// Smallest Ritz value (an upper bound of the smallest eigenvalue).
    pub min: f64,
    /// Largest Ritz value (a lower bound of the largest eigenvalue).
    pub max: f64,
    /// Lanczos steps taken: at most the dimension, fewer when an invariant subspace was found
    /// (then the values are exact).
    pub steps: usize,
}

impl Spectrum {
    /// The condition number `max / min` (infinite when `min <= 0`).
    pub fn condition(&self) -> f64 {
        if self.min > 0.0 {
            self.max / self.min
        } else {
            f64::INFINITY
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A start vector for [`lanczos_extremes`]: `n` uniform entries in [-0.5, 0.5) drawn with `seed`.
pub fn random_start(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random::<f64>() - 0.5).collect()
}

/// Lanczos with full re-orthogonalisation: up to `steps` products with the symmetric operator
/// `apply` from `start`. The Krylov space, and so the spectrum found, is that of the operator
/// restricted to the smallest invariant subspace containing `start` (start inside a subspace to
/// measure the operator there). Returns the extreme Ritz values, or `None` for a zero start or
/// no steps.
pub fn lanczos_extremes(mut apply: impl FnMut(&[f64]) -> Vec<f64>, start: Vec<f64>, steps: usize) -> Option<Spectrum> {
    let n = start.len();
    let norm = dot(&start, &start).sqrt();
    if n == 0 || steps == 0 || !(norm > 0.0 && norm.is_finite()) {
        return None;
    }
    let mut q: Vec<f64> = start.into_iter().map(|v| v / norm).collect();
    let mut basis: Vec<Vec<f64>> = Vec::new();
    let (mut alpha, mut beta) = (Vec::new(), Vec::new());
    for _ in 0..steps.min(n) {
        let mut w = apply(&q);
        let a = dot(&w, &q);
        alpha.push(a);
        basis.push(q);
        // Full re-orthogonalisation against every basis vector (twice: "twice is enough").
        for _ in 0..2 {
            for b in &basis {
                let c = dot(&w, b);
                w.iter_mut().zip(b).for_each(|(wi, bi)| *wi -= c * bi);
            }
        }
        let b = dot(&w, &w).sqrt();
        // ||T|| bound (Gershgorin) for the relative breakdown test.
        let scale = alpha
            .iter()
            .enumerate()
            .map(|(i, a)| a.abs() + if i > 0 { beta[i - 1] } else { 0.0 } + beta.get(i).copied().unwrap_or(b))
            .fold(0.0f64, f64::max)
            .max(1e-300);
        if b <= 1e-12 * scale {
            break; // invariant subspace: the Ritz values are eigenvalues
        }
        beta.push(b);
        q = w.into_iter().map(|v| v / b).collect();
    }
    let k = alpha.len();
    beta.truncate(k.saturating_sub(1));
    Some(Spectrum {
        min: tridiagonal_eigenvalue(&alpha, &beta, 0),
        max: tridiagonal_eigenvalue(&alpha, &beta, k - 1),
        steps: k,
    })
}

/// The number of eigenvalues of the symmetric tridiagonal matrix (diagonal `a`, off-diagonal
/// `b`) below `x`: the sign changes of its Sturm sequence.
fn count_below(a: &[f64], b: &[f64], x: f64) -> usize {
    let mut count = 0;
    let mut d = 1.0;
    for i in 0..a.len() {
        let off = if i == 0 { 0.0 } else { b[i - 1] * b[i - 1] };
        d = a[i] - x - if i == 0 { 0.0 } else { off / d };
        if d == 0.0 {
            d = f64::EPSILON * (a[i].abs() + x.abs()).max(f64::MIN_POSITIVE);
        }
        if d < 0.0 {
            count += 1;
        }
    }
    count
}

/// The `k`-th smallest (0-based) eigenvalue of a symmetric tridiagonal matrix (diagonal `a`,
/// off-diagonal `b` of length `a.len() - 1`, `k < a.len()`), by bisection inside its Gershgorin
/// interval to full double precision.
fn tridiagonal_eigenvalue(a: &[f64], b: &[f64], k: usize) -> f64 {
    let n = a.len();
    debug_assert!(k < n && b.len() + 1 == n, "tridiagonal_eigenvalue: k {k}, {n} diagonal, {} off", b.len());
    let radius = |i: usize| {
        (if i > 0 { b[i - 1].abs() } else { 0.0 }) + if i + 1 < n { b.get(i).map_or(0.0, |v| v.abs()) } else { 0.0 }
    };
    let mut lo = (0..n).map(|i| a[i] - radius(i)).fold(f64::INFINITY, f64::min);
    let mut hi = (0..n).map(|i| a[i] + radius(i)).fold(f64::NEG_INFINITY, f64::max);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if count_below(a, b, mid) > k {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dense symmetric matrix `Q diag(eig) Q^T` with a random orthogonal `Q` (Gram-Schmidt).
    fn with_spectrum(eig: &[f64], seed: u64) -> Vec<f64> {
        let n = eig.len();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut q: Vec<Vec<f64>> = Vec::new();
        while q.len() < n {
            let mut v: Vec<f64> = (0..n).map(|_| rng.random::<f64>() - 0.5).collect();
            for u in &q {
                let c = dot(&v, u);
                v.iter_mut().zip(u).for_each(|(vi, ui)| *vi -= c * ui);
            }
            let norm = dot(&v, &v).sqrt();
            q.push(v.into_iter().map(|x| x / norm).collect());
        }
        let mut a = vec![0.0; n * n];
        for (e, u) in eig.iter().zip(&q) {
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] += e * u[i] * u[j];
                }
            }
        }
        a
    }

    fn matvec(a: &[f64], n: usize) -> impl FnMut(&[f64]) -> Vec<f64> + '_ {
        move |v: &[f64]| (0..n).map(|i| dot(&a[i * n..(i + 1) * n], v)).collect()
    }

    #[test]
    fn tridiagonal_bisection_matches_a_closed_form() {
        // The n x n second-difference matrix (2 on the diagonal, -1 beside it) has eigenvalues
        // 2 - 2 cos(j pi / (n + 1)), j = 1..n.
        let n = 12;
        let (a, b) = (vec![2.0; n], vec![-1.0; n - 1]);
        for k in 0..n {
            let exact = 2.0 - 2.0 * ((k + 1) as f64 * std::f64::consts::PI / (n + 1) as f64).cos();
            assert!((tridiagonal_eigenvalue(&a, &b, k) - exact).abs() < 1e-12, "k = {k}");
        }
    }

    #[test]
    fn lanczos_finds_the_extreme_eigenvalues_of_a_known_spectrum() {
        let n = 40;
        let eig: Vec<f64> = (0..n).map(|i| 0.01 * 1.2f64.powi(i as i32)).collect();
        let a = with_spectrum(&eig, 7);
        // All n steps: exact up to round-off.
        let s = lanczos_extremes(matvec(&a, n), random_start(n, 1), n).unwrap();
        assert!((s.min - eig[0]).abs() < 1e-9 * eig[n - 1], "{s:?}");
        assert!((s.max - eig[n - 1]).abs() < 1e-9 * eig[n - 1], "{s:?}");
        assert!((s.condition() - eig[n - 1] / eig[0]).abs() < 1e-4 * s.condition());
        // Fewer steps: Ritz values lie inside the spectrum, the largest already close.
        let s = lanczos_extremes(matvec(&a, n), random_start(n, 1), 15).unwrap();
        assert!(s.max <= eig[n - 1] * (1.0 + 1e-12) && s.max > 0.99 * eig[n - 1], "{s:?}");
        assert!(s.min >= eig[0] * (1.0 - 1e-12), "{s:?}");
    }

    #[test]
    fn a_start_inside_a_subspace_measures_the_operator_there() {
        // diag(1, 2, .., 10) from a start with no component on the first three axes: the
        // spectrum seen is 4 .. 10.
        let n = 10;
        let apply = |v: &[f64]| v.iter().enumerate().map(|(i, x)| (i + 1) as f64 * x).collect::<Vec<f64>>();
        let mut start = random_start(n, 4);
        start[..3].iter_mut().for_each(|v| *v = 0.0);
        let s = lanczos_extremes(apply, start, n).unwrap();
        assert_eq!(s.steps, 7, "{s:?}");
        assert!((s.min - 4.0).abs() < 1e-10 && (s.max - 10.0).abs() < 1e-10, "{s:?}");
        assert!(lanczos_extremes(apply, vec![0.0; n], n).is_none(), "a zero start has no Krylov space");
    }

    #[test]
    fn an_invariant_subspace_stops_early_with_exact_values() {
        // Only 3 distinct eigenvalues: Lanczos terminates after 3 steps.
        let eig: Vec<f64> = (0..30).map(|i| [0.5, 2.0, 7.0][i % 3]).collect();
        let a = with_spectrum(&eig, 3);
        let s = lanczos_extremes(matvec(&a, 30), random_start(30, 2), 30).unwrap();
        assert_eq!(s.steps, 3, "{s:?}");
        assert!((s.min - 0.5).abs() < 1e-10 && (s.max - 7.0).abs() < 1e-10, "{s:?}");
    }
}
