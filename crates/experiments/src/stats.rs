//! Means and confidence intervals.

/// The 97.5% quantile of Student's t with `df` degrees of freedom (`statrs`); NaN for `df = 0`.
pub fn t975(df: usize) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    match StudentsT::new(0.0, 1.0, df as f64) {
        Ok(t) if df > 0 => t.inverse_cdf(0.975),
        _ => f64::NAN,
    }
}

/// 0-based ranks of `x` in ascending order, ties sharing the mean of their positions (what
/// Spearman's rho and the Mann-Whitney U statistic rank by).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut r = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        idx[i..=j].iter().for_each(|&k| r[k] = (i + j) as f64 / 2.0);
        i = j + 1;
    }
    r
}

/// Mean and 95% confidence half-width `t_{0.975, m-1} * sd / sqrt(m)` of `x` (sample sd with
/// m - 1 in the denominator). With one value the half-width is NaN.
pub fn mean_ci(x: &[f64]) -> (f64, f64) {
    let m = x.len();
    if m == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = x.iter().sum::<f64>() / m as f64;
    if m == 1 {
        return (mean, f64::NAN);
    }
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1) as f64;
    (mean, t975(m - 1) * (var / m as f64).sqrt())
}

/// A two-stage (cluster) bootstrap for results nested in networks: each resample draws
/// networks with replacement, then test points with replacement within each drawn network, and
/// evaluates `stat` on the drawn records. Returns the 2.5% and 97.5% percentiles of `stat`
/// over `resamples` draws (seeded: the same inputs give the same interval). Records are the
/// per-(network, test point) results, grouped by network; `stat` returns NaN to skip a draw.
pub fn cluster_bootstrap<R>(groups: &[Vec<R>], resamples: usize, seed: u64, stat: impl Fn(&[&R]) -> f64) -> (f64, f64) {
    use rand::{Rng, SeedableRng};
    let groups: Vec<&Vec<R>> = groups.iter().filter(|g| !g.is_empty()).collect();
    if groups.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(resamples);
    let mut drawn: Vec<&R> = Vec::new();
    for _ in 0..resamples {
        drawn.clear();
        for _ in 0..groups.len() {
            let g = groups[rng.random_range(0..groups.len())];
            for _ in 0..g.len() {
                drawn.push(&g[rng.random_range(0..g.len())]);
            }
        }
        let v = stat(&drawn);
        if v.is_finite() {
            values.push(v);
        }
    }
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| values[((p * (values.len() - 1) as f64).round() as usize).min(values.len() - 1)];
    (q(0.025), q(0.975))
}

/// Summary statistics of a sample (benchmark timings): median, mean, sample sd (n - 1), range.
/// An empty sample gives NaN everywhere.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Median (the mean of the two middle values for an even count).
    pub median: f64,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one value).
    pub sd: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Summary {
    /// The summary of `xs`.
    pub fn of(xs: &[f64]) -> Self {
        let mut s = xs.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        if n == 0 {
            return Self { median: f64::NAN, mean: f64::NAN, sd: f64::NAN, min: f64::NAN, max: f64::NAN };
        }
        let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
        let mean = s.iter().sum::<f64>() / n as f64;
        let var = if n > 1 { s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
        Self { median, mean, sd: var.sqrt(), min: s[0], max: s[n - 1] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_matches_a_hand_computation() {
        // mean 2.5, sd = sqrt(5/3), m = 4: half-width t_{0.975,3} * sqrt(5/3) / 2, with
        // t_{0.975,3} = 3.182446305284263 (printed tables round it to 3.182).
        let (m, h) = mean_ci(&[1.0, 2.0, 3.0, 4.0]);
        assert!((m - 2.5).abs() < 1e-12);
        assert!((h - 3.182446305284263 * (5.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-9);
        for (df, table) in [(1, 12.706), (2, 4.303), (5, 2.571), (14, 2.145), (30, 2.042), (120, 1.980)] {
            assert!((t975(df) - table).abs() < 1e-3, "df {df}: {} vs the table's {table}", t975(df));
        }
        assert!(t975(0).is_nan());
        assert!(mean_ci(&[1.0]).1.is_nan());
        assert!((t975(1000) - 1.96).abs() < 0.01);
    }

    #[test]
    fn cluster_bootstrap_covers_the_mean_and_widens_with_between_group_spread() {
        let tight: Vec<Vec<f64>> =
            (0..10).map(|g| (0..10).map(|t| 1.0 + 0.01 * ((g * 7 + t) % 5) as f64).collect()).collect();
        let spread: Vec<Vec<f64>> = (0..10).map(|g| (0..10).map(|_| g as f64 / 5.0).collect()).collect();
        let mean = |r: &[&f64]| r.iter().copied().sum::<f64>() / r.len() as f64;
        let (a, b) = cluster_bootstrap(&tight, 500, 1, mean);
        assert!(a < 1.02 && b > 1.02 && b - a < 0.02, "{a} {b}");
        let (c, d) = cluster_bootstrap(&spread, 500, 1, mean);
        assert!(c < 0.9 && d > 0.9 && d - c > 0.4, "{c} {d}");
        assert_eq!(cluster_bootstrap(&spread, 500, 1, mean), (c, d), "seeded");
    }

    #[test]
    fn summary_of_known_samples() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!((s.median, s.mean, s.min, s.max), (2.5, 2.5, 1.0, 4.0));
        assert!((s.sd - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(Summary::of(&[7.0]).sd, 0.0);
        assert!(Summary::of(&[]).median.is_nan());
    }
}
