//! The linear datamodeling score (LDS; Park et al. 2023, TRAK; used by dattri and Kronfluence):
//! how well the sum of a method's attributions over a random training subset predicts the output
//! of a model retrained on that subset.
//!
//! For a test point `x`, subsets `S_1..S_M` (each a random fraction `alpha` of the training set)
//! and models `f_j` trained on them, the prediction is `g_j(x) = sum_{i in S_j} phi(x_i -> x)` and
//! `LDS(x) = Spearman_j(g_j(x), f_j(x))`; a method's LDS is the mean over test points.

use crate::stats::average_ranks;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Subset `j` of `0..n` of size `round(alpha n)` (sorted), seeded by `(seed, j)`.
pub fn subset(n: usize, alpha: f64, seed: u64, j: usize) -> Vec<usize> {
    let k = ((alpha * n as f64).round() as usize).clamp(1, n.max(1));
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (j as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F));
    let mut v = rand::seq::index::sample(&mut rng, n, k.min(n)).into_vec();
    v.sort_unstable();
    v
}

/// `g_j = sum_{i in S_j} phi_i` for every subset.
pub fn subset_sums(phi: &[f64], subsets: &[Vec<usize>]) -> Vec<f64> {
    subsets.iter().map(|s| s.iter().map(|&i| phi[i]).sum()).collect()
}

/// Spearman rank correlation of `a` and `b` (average ranks for ties); NaN if either is constant
/// or shorter than 2.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return f64::NAN;
    }
    let (ra, rb) = (average_ranks(&a[..n]), average_ranks(&b[..n]));
    let mean = (n - 1) as f64 / 2.0;
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - mean) * (y - mean)).sum();
    let va: f64 = ra.iter().map(|x| (x - mean).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mean).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        return f64::NAN;
    }
    cov / (va * vb).sqrt()
}

/// `LDS(x) = Spearman_j(sum_{i in S_j} phi_i, f_j(x))` for one test point.
pub fn lds(phi: &[f64], subsets: &[Vec<usize>], outputs: &[f64]) -> f64 {
    spearman(&subset_sums(phi, subsets), outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_and_lds_on_known_numbers() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 1.0);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        // d = rank differences (0, 0, 1, -1): 1 - 6 * 2 / (4 * 15) = 0.8.
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 4.0, 3.0]) - 0.8).abs() < 1e-12);
        assert!(spearman(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
        // phi = (1, 2, 4): subset sums 3, 5, 6; outputs ordered the same -> LDS 1; reversed -> -1.
        let subsets = vec![vec![0, 1], vec![0, 2], vec![1, 2]];
        assert_eq!(subset_sums(&[1.0, 2.0, 4.0], &subsets), vec![3.0, 5.0, 6.0]);
        assert_eq!(lds(&[1.0, 2.0, 4.0], &subsets, &[0.1, 0.2, 0.3]), 1.0);
        assert_eq!(lds(&[1.0, 2.0, 4.0], &subsets, &[0.3, 0.2, 0.1]), -1.0);
    }

    #[test]
    fn subsets_are_seeded_sorted_and_of_the_asked_size() {
        let s = subset(100, 0.5, 7, 3);
        assert_eq!(s.len(), 50);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s, subset(100, 0.5, 7, 3));
        assert_ne!(s, subset(100, 0.5, 7, 4));
        assert_ne!(s, subset(100, 0.5, 8, 3));
    }
}
