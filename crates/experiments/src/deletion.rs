//! The deletion diagnostics of Tsai, Yeh & Ravikumar (NeurIPS 2023), Section 6.1.
//!
//! For a test point `x` with explained score `s(x)`, delete the `k` training points with the most
//! negative attributions `phi(x_i -> x)`, retrain from the same initialisation and minibatch
//! order, and measure how the score moved.

/// `DEL(x, k) = s_new(x) - s_old(x)`: the explained score after retraining without the `k` most
/// negative training points, minus the score before. A faithful ranking makes it positive
/// (removing opponents raises the score).
///
/// ```
/// use genrep_experiments::{auc_del, del};
/// // Scores before and after five retrainings (k = 2%, ..., 10% deleted).
/// let dels: Vec<f64> = [0.5, 0.9, 1.1, 1.6, 1.9].iter().map(|&s| del(0.4, s)).collect();
/// assert!((dels[0] - 0.1).abs() < 1e-12);
/// assert!((auc_del(&dels) - 0.8).abs() < 1e-12);
/// assert!(auc_del(&[]).is_nan());
/// ```
pub fn del(s_old: f64, s_new: f64) -> f64 {
    s_new - s_old
}

/// `AUC-DEL = (1/m) sum_{j=1..m} DEL(x, k_j)` over the `m` deletion sizes (the paper's five,
/// `k_j` = 2%, 4%, ..., 10% of the training set): the mean of `dels`; NaN for none.
pub fn auc_del(dels: &[f64]) -> f64 {
    if dels.is_empty() {
        return f64::NAN;
    }
    dels.iter().sum::<f64>() / dels.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn del_and_auc_del_on_known_numbers() {
        assert_eq!(del(1.5, 2.25), 0.75);
        assert_eq!(del(2.0, 1.0), -1.0);
        // Five deletion sizes with DEL 0.1, 0.2, 0.3, 0.4, 0.5: AUC-DEL 0.3.
        let d: Vec<f64> = [0.1, 0.2, 0.3, 0.4, 0.5].iter().map(|&x| del(1.0, 1.0 + x)).collect();
        assert!((auc_del(&d) - 0.3).abs() < 1e-12);
        assert_eq!(auc_del(&[-2.0]), -2.0);
        assert!(auc_del(&[]).is_nan());
    }
}
