//! Aggregation of an LDS experiment's rows ([`crate::LdsConfig`]) into the LDS report.
//!
//! For network `s`, test point `x` and method `m` with attributions `phi` (the ranking row),
//! the subset models `j = 1..M` of network `s` give `f_j(x)` (the explained score of the class
//! the original network predicts, against the same runner-up), and
//! `LDS(x) = Spearman_j(sum_{i in S_j} phi_i, f_j(x))` ([`crate::lds::lds`]). A method's LDS is
//! the mean over (network, test point) pairs, with a 95% Student-t interval over the pairs and a
//! two-stage bootstrap interval (networks, then test points within them).

use crate::config::ExperimentConfig;
use crate::error::{ExperimentError, Result};
use crate::lds::lds;
use crate::rows::Row;
use crate::stats::{cluster_bootstrap, mean_ci};
use genrep_explain::TestPoint;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The LDS of one method.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LdsMethod {
    /// Method name.
    pub method: String,
    /// (network, test point) pairs with a defined LDS.
    pub pairs: usize,
    /// Pairs whose LDS is undefined (constant attribution sums, e.g. all phi equal).
    pub undefined: usize,
    /// Mean LDS and its 95% Student-t half-width over the pairs.
    pub lds: (f64, f64),
    /// 95% two-stage bootstrap interval of the mean (2.5%, 97.5%).
    pub bootstrap: (f64, f64),
    /// Mean LDS per network: (seed, mean, pairs).
    pub per_net: Vec<(u64, f64, usize)>,
    /// Mean wall seconds of one explanation (per test point).
    pub explain_seconds: f64,
}

/// The LDS report of an experiment.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LdsReport {
    /// The experiment.
    pub config: ExperimentConfig,
    /// Networks: (seed, test accuracy, train accuracy).
    pub nets: Vec<(u64, f64, Option<f64>)>,
    /// Subset models found, and expected (nets x M).
    pub subset_models: (usize, usize),
    /// The fraction of (subset model, test point) where the subset model predicts the class the
    /// original network predicted (how far the subset models are from the explained network).
    pub subset_agreement: f64,
    /// Mean wall seconds of one subset model.
    pub subset_seconds: f64,
    /// Per method, in the config's order.
    pub methods: Vec<LdsMethod>,
}

/// One subset model's row: (subset j, the test points, their logits).
type SubsetOutputs<'a> = (usize, &'a [usize], &'a [Vec<f32>]);

/// Resamples of the two-stage bootstrap.
const RESAMPLES: usize = 2000;

/// Aggregates `rows` (deduplicated; any order) of the LDS experiment `cfg`. Pairs use the
/// subset models of their network that exist (a partial run reports on fewer; the count is in
/// the report); a network with fewer than 3 has no LDS yet.
pub fn summarize_lds(cfg: &ExperimentConfig, rows: &[Row]) -> Result<LdsReport> {
    let lds_cfg = cfg.lds.as_ref().ok_or_else(|| ExperimentError::config("lds", "not an LDS experiment"))?;
    let mut nets = Vec::new();
    let mut subsets: BTreeMap<u64, Vec<SubsetOutputs>> = BTreeMap::new();
    let mut subset_seconds = Vec::new();
    for r in rows {
        match r {
            Row::Net { net, test_accuracy, train_accuracy, .. } => nets.push((*net, *test_accuracy, *train_accuracy)),
            Row::Subset { net, subset, tests, logits, seconds } => {
                subsets.entry(*net).or_default().push((*subset, tests, logits));
                subset_seconds.push(*seconds);
            }
            _ => {}
        }
    }
    nets.sort_by_key(|n| n.0);
    for list in subsets.values_mut() {
        list.sort_by_key(|s| s.0);
    }
    let mut agree = (0usize, 0usize);
    let mut per_method: BTreeMap<&str, BTreeMap<u64, Vec<f64>>> = BTreeMap::new();
    let mut undefined: BTreeMap<&str, usize> = BTreeMap::new();
    let mut seconds: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for r in rows {
        let Row::Ranking { net, test, method, class, versus, phi: Some(phi), seconds: secs, .. } = r else {
            continue;
        };
        seconds.entry(method).or_default().push(*secs);
        let Some(list) = subsets.get(net).filter(|l| l.len() >= 3) else { continue };
        let point = TestPoint { index: *test, class: *class, versus: *versus };
        let mut outputs = Vec::with_capacity(list.len());
        let mut sets = Vec::with_capacity(list.len());
        for (j, tests, logits) in list {
            let Some(pos) = tests.iter().position(|t| t == test) else {
                return Err(ExperimentError::config(
                    "rows",
                    format!("subset model {j} of net {net} has no output for test point {test}"),
                ));
            };
            outputs.push(point.score(&logits[pos]));
            agree.0 += usize::from(genrep_trainer::loss::argmax(&logits[pos]) == *class);
            agree.1 += 1;
            sets.push(lds_cfg.subset(phi.len(), *net, *j));
        }
        let v = lds(phi, &sets, &outputs);
        if v.is_finite() {
            per_method.entry(method).or_default().entry(*net).or_default().push(v);
        } else {
            *undefined.entry(method).or_default() += 1;
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let methods = cfg
        .methods
        .iter()
        .map(|m| {
            let by_net = per_method.get(m.as_str()).cloned().unwrap_or_default();
            let all: Vec<f64> = by_net.values().flatten().copied().collect();
            let groups: Vec<Vec<f64>> = by_net.values().cloned().collect();
            let bootstrap =
                cluster_bootstrap(&groups, RESAMPLES, 7, |d: &[&f64]| d.iter().copied().sum::<f64>() / d.len() as f64);
            LdsMethod {
                method: m.clone(),
                pairs: all.len(),
                undefined: undefined.get(m.as_str()).copied().unwrap_or(0),
                lds: if all.is_empty() { (f64::NAN, f64::NAN) } else { mean_ci(&all) },
                bootstrap,
                per_net: by_net.iter().map(|(n, v)| (*n, mean(v), v.len())).collect(),
                explain_seconds: seconds.get(m.as_str()).map_or(f64::NAN, |v| mean(v)),
            }
        })
        .collect();
    let agreement = (agree.1 > 0).then(|| agree.0 as f64 / agree.1 as f64);
    Ok(LdsReport {
        config: cfg.clone(),
        nets,
        subset_models: (subsets.values().map(Vec::len).sum(), cfg.nets * lds_cfg.subsets),
        subset_agreement: agreement.unwrap_or(f64::NAN),
        subset_seconds: if subset_seconds.is_empty() { f64::NAN } else { mean(&subset_seconds) },
        methods,
    })
}

/// The LDS report as markdown.
pub fn lds_markdown(report: &LdsReport) -> String {
    let cfg = &report.config;
    let l = cfg.lds.as_ref();
    let mut s = String::new();
    let _ = writeln!(s, "# Linear datamodeling score (LDS) on {}: preset `{}`\n", cfg.dataset.paper_name(), cfg.preset);
    let _ = writeln!(
        s,
        "Task `{}`; {} networks (seeds {}..), {} test points each; per network {} subset models, each trained \
         from its own seed on a random {:.0}% of the training set ({} epochs, batch {}, lr {}). \
         LDS(x) = Spearman over the subset models of (sum of phi over the subset, the subset model's \
         explained score at x); the explained score is the one each method explains (class predicted by the \
         original network; {:?}). Mean over (network, test point) pairs, 95% Student-t half-width and two-stage \
         bootstrap interval.\n",
        cfg.task,
        cfg.nets,
        cfg.first_net_seed,
        cfg.tests_per_net,
        l.map_or(0, |l| l.subsets),
        l.map_or(f64::NAN, |l| l.fraction * 100.0),
        cfg.train.epochs,
        cfg.train.batch_size,
        cfg.train.lr,
        cfg.explain.score,
    );
    let _ = writeln!(
        s,
        "Subset models: {} of {} trained, {:.1} s each on average; they predict the original network's class at \
         {:.1}% of (model, test point).\n",
        report.subset_models.0,
        report.subset_models.1,
        report.subset_seconds,
        report.subset_agreement * 100.0
    );
    let _ = writeln!(s, "| method | LDS | 95% t | bootstrap 95% | pairs | undefined | per network | explain s/point |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for m in &report.methods {
        let per: Vec<String> = m.per_net.iter().map(|(n, v, k)| format!("{n}: {v:.3} ({k})")).collect();
        let _ = writeln!(
            s,
            "| `{}` | {:.3} | ± {:.3} | [{:.3}, {:.3}] | {} | {} | {} | {:.2} |",
            m.method,
            m.lds.0,
            m.lds.1,
            m.bootstrap.0,
            m.bootstrap.1,
            m.pairs,
            m.undefined,
            per.join(", "),
            m.explain_seconds
        );
    }
    let _ = writeln!(s, "\nNetworks:\n");
    for (seed, test, train) in &report.nets {
        let _ = writeln!(
            s,
            "- net {seed}: test accuracy {:.2}%, train {}",
            test * 100.0,
            train.map_or("-".into(), |v| format!("{:.2}%", v * 100.0))
        );
    }
    s
}

/// LDS per method as a horizontal bar chart with 95% Student-t whiskers.
pub fn lds_chart(report: &LdsReport) -> genrep_render::BarChart {
    genrep_render::BarChart {
        title: format!(
            "LDS, {} (preset {}): mean over test points, 95% t interval",
            report.config.dataset.paper_name(),
            report.config.preset
        ),
        x_label: "linear datamodeling score".into(),
        bars: report
            .methods
            .iter()
            .filter(|m| m.pairs > 0)
            .map(|m| genrep_render::Bar { label: m.method.clone(), value: m.lds.0, half_width: Some(m.lds.1) })
            .collect(),
    }
}

/// Writes `report.md`, `lds.svg` / `lds.png` and `summary.json` into `out` (atomically).
pub fn write_lds_report(out: &Path, report: &LdsReport) -> Result<()> {
    let write = |name: &str, bytes: &[u8]| {
        let p = out.join(name);
        genrep_models::write_atomic(&p, bytes).map_err(|e| ExperimentError::io(&p, e))
    };
    write("report.md", lds_markdown(report).as_bytes())?;
    {
        use genrep_render::Chart as _;
        lds_chart(report).save(out, "lds").map_err(|e| ExperimentError::config("report", e.to_string()))?;
    }
    let json = serde_json::to_string_pretty(report).map_err(|e| ExperimentError::config("report", e.to_string()))?;
    write("summary.json", json.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dataset;

    /// Subset models whose margin at test point 7 is exactly `2 sum_{i in S_j} w_i + 1` and at
    /// test point 9 its negative: a method with phi = w has LDS +1 at 7 and -1 at 9; a method
    /// with constant phi ranks nothing (undefined, not counted).
    #[test]
    fn lds_of_rows_follows_the_subset_models() {
        let mut cfg = ExperimentConfig::preset_lds("smoke", Dataset::Mnist).unwrap();
        cfg.methods = vec!["good".into(), "flat".into()];
        let l = cfg.lds.clone().unwrap();
        let n = 20;
        let w: Vec<f64> = (0..n).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect();
        let mut rows =
            vec![Row::Net { net: 1, test_accuracy: 0.9, seconds: 1.0, train_accuracy: None, balanced_accuracy: None }];
        for j in 0..l.subsets {
            let g: f64 = l.subset(n, 1, j).iter().map(|&i| w[i]).sum();
            // Class 1 explained against 0 at test 7 (margin 2g + 1), class 0 against 1 at test 9.
            rows.push(Row::Subset {
                net: 1,
                subset: j,
                tests: vec![7, 9],
                logits: vec![vec![0.0, (2.0 * g + 1.0) as f32], vec![0.0, (2.0 * g + 1.0) as f32]],
                seconds: 0.5,
            });
        }
        for (method, phi) in [("good", w.clone()), ("flat", vec![1.0; n])] {
            for (test, class, versus) in [(7, 1, Some(0)), (9, 0, Some(1))] {
                rows.push(Row::Ranking {
                    net: 1,
                    test,
                    method: method.into(),
                    class,
                    versus,
                    score: 0.0,
                    prob: 0.5,
                    order: vec![],
                    efficiency_residual: None,
                    seconds: 0.1,
                    solver: None,
                    phi: Some(phi.clone()),
                });
            }
        }
        let r = summarize_lds(&cfg, &rows).unwrap();
        assert_eq!(r.subset_models, (l.subsets, cfg.nets * l.subsets));
        let good = &r.methods[0];
        assert_eq!((good.pairs, good.undefined), (2, 0));
        assert!((good.lds.0 - 0.0).abs() < 1e-12, "mean of +1 and -1: {:?}", good.lds);
        assert_eq!(good.per_net, vec![(1, 0.0, 2)]);
        let flat = &r.methods[1];
        assert_eq!((flat.pairs, flat.undefined), (0, 2));
        assert!(lds_markdown(&r).contains("| `good` | 0.000 |"));
        assert_eq!(lds_chart(&r).bars.len(), 1, "only methods with an LDS get a bar");
        // A subset model without the ranked test point is an error, not a silent skip.
        if let Row::Subset { tests, .. } = &mut rows[1] {
            tests[1] = 8;
        }
        assert!(summarize_lds(&cfg, &rows).unwrap_err().to_string().contains("test point 9"));
    }
}
