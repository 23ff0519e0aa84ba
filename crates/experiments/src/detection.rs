//! Mislabel detection as a ranking problem (dattri, quanda; Yeh et al. 2018, Section 4.1): the
//! training points are ranked by a self-importance score and inspected from the top; how well
//! the ranking puts the flipped labels first is summarised by two areas.

/// ROC AUC of `scores` against the `flipped` flags: the probability that a random flipped point
/// scores above a random clean one, ties counting one half (the Mann-Whitney U statistic over
/// `n_flipped x n_clean`). NaN if either group is empty.
pub fn roc_auc(scores: &[f64], flipped: &[bool]) -> f64 {
    let n = scores.len().min(flipped.len());
    let pos = flipped[..n].iter().filter(|&&f| f).count();
    let neg = n - pos;
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    // 1-based average ranks (ties share the mean of their positions).
    let rank: Vec<f64> = crate::stats::average_ranks(&scores[..n]).iter().map(|r| r + 1.0).collect();
    let rank_sum: f64 = (0..n).filter(|&k| flipped[k]).map(|k| rank[k]).sum();
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos * neg) as f64
}

/// Area under the detection curve (fraction of the flipped labels found against the fraction
/// of the training set checked, in the order given): `(1/n) sum_{m=1..n} found(m) / n_flipped`,
/// where `found(m)` counts flipped points among the first `m` of `order`. 1 - (k - 1)/(2n) for a
/// perfect ranking of k flipped points, about 1/2 for a random one. NaN without flipped points.
pub fn detection_auc(order: &[usize], flipped: &[bool]) -> f64 {
    let k = flipped.iter().filter(|&&f| f).count();
    if k == 0 || order.is_empty() {
        return f64::NAN;
    }
    let mut found = 0usize;
    let mut area = 0.0;
    for &i in order {
        found += usize::from(flipped[i]);
        area += found as f64 / k as f64;
    }
    area / order.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_rankings() {
        let flipped = [true, false, false, true, false];
        // Flipped points scored highest: perfect.
        assert_eq!(roc_auc(&[0.9, 0.1, 0.2, 0.8, 0.3], &flipped), 1.0);
        // Scored lowest: zero.
        assert_eq!(roc_auc(&[0.0, 0.5, 0.6, 0.1, 0.7], &flipped), 0.0);
        // A clean point above both flipped ones: 2 of the 2 x 3 pairs misordered, 4/6; one tie
        // (flipped 0.3 vs clean 0.3) counts a half: 5.5/6; all tied: 1/2.
        assert!((roc_auc(&[0.9, 0.1, 0.95, 0.8, 0.3], &flipped) - 4.0 / 6.0).abs() < 1e-12);
        assert!((roc_auc(&[0.9, 0.1, 0.2, 0.3, 0.3], &flipped) - 5.5 / 6.0).abs() < 1e-12);
        assert_eq!(roc_auc(&[1.0; 5], &flipped), 0.5);
        assert!(roc_auc(&[1.0, 2.0], &[false, false]).is_nan());

        // Detection area: perfect order [0, 3, 1, 2, 4] finds 1/2, 1, 1, 1, 1 -> 4.5 / 5.
        assert!((detection_auc(&[0, 3, 1, 2, 4], &flipped) - 0.9).abs() < 1e-12);
        assert!((detection_auc(&[0, 3, 1, 2, 4], &flipped) - (1.0 - (2.0 - 1.0) / 10.0)).abs() < 1e-12);
        // Worst order [1, 2, 4, 0, 3]: 0, 0, 0, 1/2, 1 -> 1.5 / 5.
        assert!((detection_auc(&[1, 2, 4, 0, 3], &flipped) - 0.3).abs() < 1e-12);
    }
}
