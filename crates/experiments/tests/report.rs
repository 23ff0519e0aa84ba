//! The report of a run still in progress compares methods on the same (network, test point)
//! pairs: a pair finished for some methods only is left out of every figure and counted.

use genrep_experiments::{markdown, summarize, Dataset, ExperimentConfig, Row};

fn del(net: u64, test: usize, method: &str, k: usize, value: f64) -> Row {
    Row::Del {
        net,
        test,
        method: method.into(),
        k,
        score: 1.0 + value,
        prob: 0.9,
        del: value,
        del_prob: 0.0,
        seconds: 1.0,
    }
}

/// All deletion sizes of one (method, net, test point), DEL(k_i) = base + i.
fn pair(net: u64, test: usize, method: &str, base: f64, ks: usize) -> Vec<Row> {
    (0..ks).map(|i| del(net, test, method, 10 * (i + 1), base + i as f64)).collect()
}

#[test]
fn unfinished_pairs_are_left_out_of_every_figure() {
    let mut cfg = ExperimentConfig::preset("smoke", Dataset::Mnist).unwrap();
    cfg.methods = vec!["random".into(), "tracking:ntk-final".into(), "target:ntk-final".into()];
    let ks = cfg.deletion_fractions.len();
    assert!(ks >= 2, "the smoke preset deletes at several sizes");
    let mean_i = (ks - 1) as f64 / 2.0; // mean of 0..ks
    let mut rows = Vec::new();
    // Net 1, test points 0 and 1: random and tracking finished.
    rows.extend(pair(1, 0, "random", 0.0, ks));
    rows.extend(pair(1, 1, "random", 2.0, ks));
    rows.extend(pair(1, 0, "tracking:ntk-final", 4.0, ks));
    rows.extend(pair(1, 1, "tracking:ntk-final", 6.0, ks));
    // Net 2, test point 0: random finished with an outlying value, tracking half way.
    rows.extend(pair(2, 0, "random", 100.0, ks));
    rows.extend(pair(2, 0, "tracking:ntk-final", 8.0, ks - 1));
    // target:ntk-final has not finished any pair: it must not hide the others.
    rows.extend(pair(1, 0, "target:ntk-final", 0.0, 1));

    let report = summarize(&cfg, &rows);
    assert_eq!(report.unfinished_pairs, 1);
    let random = report.method("random").expect("random has finished pairs");
    assert_eq!(random.pairs, 2, "net 2's pair is not finished for tracking, so it is left out");
    assert!((random.auc_del.0 - (1.0 + mean_i)).abs() < 1e-12, "{:?}", random.auc_del);
    let tracking = report.method("tracking:ntk-final").unwrap();
    assert_eq!(tracking.pairs, 2);
    assert!((tracking.auc_del.0 - (5.0 + mean_i)).abs() < 1e-12);
    let (mean, lo, hi) = tracking.vs_random.unwrap();
    assert!((mean - 4.0).abs() < 1e-12 && lo <= mean && mean <= hi, "{mean} [{lo}, {hi}]");
    assert!(report.method("target:ntk-final").is_none());
    assert!(markdown(&report).contains("**Interim report:** 1 (network, test point) pairs"));

    // Once tracking finishes net 2, every pair counts and the interim notice goes.
    rows.push(del(2, 0, "tracking:ntk-final", 10 * ks, 8.0 + (ks - 1) as f64));
    let report = summarize(&cfg, &rows);
    assert_eq!(report.unfinished_pairs, 0);
    assert_eq!(report.method("random").unwrap().pairs, 3);
    assert!(!markdown(&report).contains("Interim report"));
}
