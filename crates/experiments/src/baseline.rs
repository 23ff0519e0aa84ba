//! The bar a Table 1 network has to clear: L2-regularised multinomial logistic regression on
//! the same training examples, on raw pixels for images (raw values for feature vectors) and on
//! a bag of words (token presence) for text, and the accuracy figures both are compared by.

use genrep_data::{Examples, Inputs};
use genrep_explain::solve::{lbfgs, soft_cross_entropy};

/// Test accuracy, balanced test accuracy and training accuracy of a classifier.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Accuracy {
    /// Fraction of test examples classified correctly.
    pub test: f64,
    /// Mean over classes of the per-class recall on the test split (chance is `1/C` whatever the
    /// class balance; on Toxicity's 91%-negative test split plain accuracy rewards the majority).
    pub balanced: f64,
    /// Fraction of training examples classified correctly.
    pub train: f64,
}

/// Plain and balanced accuracy of `[n, C]` logits against `labels`.
pub fn accuracies(logits: &[f32], labels: &[usize], c: usize) -> (f64, f64) {
    let n = labels.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let (mut hit, mut per_class) = (0usize, vec![(0usize, 0usize); c]);
    for (i, &y) in labels.iter().enumerate() {
        let row = &logits[i * c..(i + 1) * c];
        let pred = genrep_trainer::loss::argmax(row);
        per_class[y].1 += 1;
        if pred == y {
            hit += 1;
            per_class[y].0 += 1;
        }
    }
    let present: Vec<f64> = per_class.iter().filter(|p| p.1 > 0).map(|p| p.0 as f64 / p.1 as f64).collect();
    (hit as f64 / n as f64, present.iter().sum::<f64>() / present.len() as f64)
}

/// Sparse rows: `(feature index, value)` per example, plus a bias feature.
fn features(ex: &Examples) -> (Vec<Vec<(usize, f64)>>, usize) {
    match &ex.inputs {
        Inputs::Images { data, .. } | Inputs::Features { data, .. } => {
            let d = ex.input_size();
            let rows = (0..ex.len())
                .map(|i| {
                    let mut r: Vec<(usize, f64)> =
                        data[i * d..(i + 1) * d].iter().map(|&v| v as f64).enumerate().collect();
                    r.push((d, 1.0));
                    r
                })
                .collect();
            (rows, d + 1)
        }
        Inputs::Tokens { seq_len, ids, vocab_size } => {
            // Token presence, without the special tokens ([PAD] = 0, [CLS] = 101, [SEP] = 102 in
            // the BERT vocabulary), plus a bias.
            let rows = (0..ex.len())
                .map(|i| {
                    let mut t: Vec<usize> = ids[i * seq_len..(i + 1) * seq_len]
                        .iter()
                        .map(|&t| t as usize)
                        .filter(|&t| t != 0 && t != 101 && t != 102)
                        .collect();
                    t.sort_unstable();
                    t.dedup();
                    let mut r: Vec<(usize, f64)> = t.into_iter().map(|t| (t, 1.0)).collect();
                    r.push((*vocab_size, 1.0));
                    r
                })
                .collect();
            (rows, vocab_size + 1)
        }
    }
}

fn logits(rows: &[Vec<(usize, f64)>], w: &[f64], c: usize) -> Vec<f64> {
    let mut z = vec![0.0; rows.len() * c];
    for (i, r) in rows.iter().enumerate() {
        for &(j, v) in r {
            for k in 0..c {
                z[i * c + k] += v * w[j * c + k];
            }
        }
    }
    z
}

/// Fits `min_W (1/n) sum_i CE(W^T x_i, y_i) + lambda |W|^2` on `train` (L-BFGS to a relative
/// gradient of 1e-6 or 2,000 iterations) and reports its accuracies on `train` and `test`.
pub fn logistic_regression(train: &Examples, test: &Examples, c: usize, lambda: f64) -> Accuracy {
    let (rows, d) = features(train);
    let n = rows.len().max(1);
    let mut targets = vec![0.0; rows.len() * c];
    for (i, &y) in train.labels.iter().enumerate() {
        targets[i * c + y] = 1.0;
    }
    let mut eval = |w: &[f64]| {
        let z = logits(&rows, w, c);
        let (loss, dz) = soft_cross_entropy(&z, &targets, c);
        let mut g: Vec<f64> = w.iter().map(|v| 2.0 * lambda * v).collect();
        for (i, r) in rows.iter().enumerate() {
            for &(j, v) in r {
                for k in 0..c {
                    g[j * c + k] += v * dz[i * c + k] / n as f64;
                }
            }
        }
        (loss / n as f64 + lambda * w.iter().map(|v| v * v).sum::<f64>(), g)
    };
    let out = lbfgs(vec![0.0; d * c], &mut eval, &|_| 1.0, 1e-6, 2000);
    let to32 = |z: Vec<f64>| z.into_iter().map(|v| v as f32).collect::<Vec<f32>>();
    let (train_acc, _) = accuracies(&to32(logits(&rows, &out.x, c)), &train.labels, c);
    let (test_rows, _) = features(test);
    let (test_acc, balanced) = accuracies(&to32(logits(&test_rows, &out.x, c)), &test.labels, c);
    Accuracy { test: test_acc, balanced, train: train_acc }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_accuracy_is_the_mean_recall() {
        // 3 of class 0 (all right), 1 of class 1 (wrong): accuracy 3/4, balanced (1 + 0) / 2.
        let logits = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let (a, b) = accuracies(&logits, &[0, 0, 0, 1], 2);
        assert!((a - 0.75).abs() < 1e-12 && (b - 0.5).abs() < 1e-12);
    }

    #[test]
    fn logistic_regression_separates_separable_pixels() {
        let n = 40;
        let data: Vec<f32> = (0..n * 4).map(|k| if (k / 4) % 2 == (k % 4) / 2 { 1.0 } else { -1.0 }).collect();
        let ex = Examples {
            inputs: Inputs::Images { channels: 1, height: 2, width: 2, data, mean: vec![0.0], std: vec![1.0] },
            labels: (0..n).map(|i| i % 2).collect(),
            source_index: (0..n).collect(),
            texts: None,
        };
        let acc = logistic_regression(&ex, &ex, 2, 1e-4);
        assert_eq!((acc.train, acc.test, acc.balanced), (1.0, 1.0, 1.0));
    }
}
