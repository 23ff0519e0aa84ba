//! Aggregation of result rows into Table 1 cells, the markdown report and deletion curves.
//!
//! Conventions (stated in every report): s(x) is the explained score of the class c the
//! original network predicts at x (the logit margin f_c - f_v against the runner-up v by
//! default, or the logit f_c); DEL(x, k) = s_new(x) - s_old(x); AUC-DEL = (1/5) sum of DEL over
//! k_1..k_5, as the paper writes it (runs before this convention averaged over k_0 = 0 too,
//! i.e. reported 5/6 of it); only (net, test point) pairs with every k finished count; the
//! interval is a 95% Student-t interval over those pairs. Methods are compared by paired
//! differences over the shared pairs, with 95% intervals from a two-stage bootstrap (networks,
//! then test points within them).

use crate::config::ExperimentConfig;
use crate::error::{ExperimentError, Result};
use crate::paper::{paper_auc_del, EXPERIMENTS};
use crate::rows::Row;
use crate::runner::supported_methods;
use crate::stats::{cluster_bootstrap, mean_ci};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Deletion rows grouped by (method, net, test point): (k, DEL, DEL of the probability, seconds).
type DelRows = BTreeMap<(String, u64, usize), Vec<(usize, f64, f64, f64)>>;

/// Reads one accuracy of a network summary.
type NetMetric = fn(&NetSummary) -> Option<f64>;

/// Aggregates of one method.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MethodSummary {
    /// Method name.
    pub method: String,
    /// Complete (net, test point) pairs.
    pub pairs: usize,
    /// AUC-DEL in logits: (mean, 95% CI half-width).
    pub auc_del: (f64, f64),
    /// AUC-DEL in probabilities.
    pub auc_del_prob: (f64, f64),
    /// Mean DEL at each k (k, mean, half-width), k_0 = 0 first.
    pub curve: Vec<(usize, f64, f64)>,
    /// Mean wall seconds of one explanation (per test point).
    pub explain_seconds: f64,
    /// Mean wall seconds of one retraining.
    pub retrain_seconds: f64,
    /// Mean efficiency residual |sum_i phi_i - s(x)|.
    pub efficiency_residual: f64,
    /// The paired difference to `random` over shared pairs: (mean, 2.5%, 97.5% bootstrap).
    pub vs_random: Option<(f64, f64, f64)>,
    /// How the method's iterative solves ended, if it has any.
    pub solver: Option<SolverSummary>,
}

/// The iterative solves behind one method's rankings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SolverSummary {
    /// `cg`, `lissa` or `lbfgs`.
    pub kind: String,
    /// Solves recorded.
    pub solves: usize,
    /// Of which did not meet their tolerance.
    pub unconverged: usize,
    /// Largest iteration count.
    pub max_iterations: usize,
    /// Largest final residual (relative residual; gradient norm for L-BFGS).
    pub max_residual: f64,
}

/// A network of the experiment.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NetSummary {
    /// Seed.
    pub seed: u64,
    /// Test accuracy.
    pub test_accuracy: f64,
    /// Balanced test accuracy (if recorded).
    pub balanced_accuracy: Option<f64>,
    /// Training accuracy at the final weights (if recorded).
    pub train_accuracy: Option<f64>,
    /// Training seconds.
    pub seconds: f64,
}

/// A paired comparison of two methods over their shared (network, test point) pairs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// What is compared, e.g. `tracking - target (NTK-final)`.
    pub label: String,
    /// The first method.
    pub a: String,
    /// The method subtracted.
    pub b: String,
    /// Shared complete pairs.
    pub pairs: usize,
    /// Mean of AUC-DEL(a) - AUC-DEL(b).
    pub mean: f64,
    /// 95% two-stage bootstrap interval.
    pub ci: (f64, f64),
    /// The same difference in the paper's Table 1.
    pub paper: Option<f64>,
}

/// The paired comparisons the report makes (issue 14): Experiment I's two steps, the influence
/// against the NTK kernel, and training's effect on the NTK.
pub const COMPARISONS: [(&str, &str, &str); 4] = [
    ("tracking - target (NTK-final)", "tracking:ntk-final", "target:ntk-final"),
    ("target - surrogate (NTK-final)", "target:ntk-final", "surrogate:ntk-final"),
    ("Inf-final - NTK-final (tracking)", "tracking:inf-final", "tracking:ntk-final"),
    ("NTK-final - NTK-init (tracking)", "tracking:ntk-final", "tracking:ntk-init"),
];

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// The experiment.
    pub config: ExperimentConfig,
    /// Networks.
    pub nets: Vec<NetSummary>,
    /// The logistic-regression baseline: (test accuracy, balanced test accuracy, train accuracy).
    pub baseline: Option<(f64, f64, f64)>,
    /// Paired comparisons ([`COMPARISONS`]).
    pub comparisons: Vec<Comparison>,
    /// Kendall's tau between our ordering of the methods and the paper's, with a 95% two-stage
    /// bootstrap interval: (tau, 2.5%, 97.5%, methods compared).
    pub tau: Option<(f64, f64, f64, usize)>,
    /// Deletion sizes found in the rows.
    pub ks: Vec<usize>,
    /// Per method, in the config's order.
    pub methods: Vec<MethodSummary>,
    /// Methods that could not run, with the reason.
    pub unsupported: Vec<(String, String)>,
    /// (network, test point) pairs finished for some methods but not for every method that has
    /// finished any pair: left out of every figure, so that methods are compared on the same
    /// pairs (a run still in progress, or a shard not merged yet).
    pub unfinished_pairs: usize,
}

impl Report {
    /// The summary of `method`, if it has any complete pair.
    pub fn method(&self, method: &str) -> Option<&MethodSummary> {
        self.methods.iter().find(|m| m.method == method && m.pairs > 0)
    }
}

/// Resamples of the two-stage bootstrap.
const RESAMPLES: usize = 2000;

/// Aggregates `rows` (deduplicated; any order) of the experiment `cfg`.
pub fn summarize(cfg: &ExperimentConfig, rows: &[Row]) -> Report {
    let want = cfg.deletion_fractions.len();
    let mut nets = Vec::new();
    let mut baseline = None;
    let mut del: DelRows = BTreeMap::new();
    let mut rank: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut solves: BTreeMap<String, Vec<crate::rows::Solver>> = BTreeMap::new();
    let mut ks: Vec<usize> = Vec::new();
    for r in rows {
        match r {
            Row::Net { net, test_accuracy, seconds, train_accuracy, balanced_accuracy } => nets.push(NetSummary {
                seed: *net,
                test_accuracy: *test_accuracy,
                balanced_accuracy: *balanced_accuracy,
                train_accuracy: *train_accuracy,
                seconds: *seconds,
            }),
            Row::Baseline { test_accuracy, balanced_accuracy, train_accuracy, .. } => {
                baseline = Some((*test_accuracy, *balanced_accuracy, *train_accuracy))
            }
            Row::Ranking { method, seconds, efficiency_residual, solver, .. } => {
                rank.entry(method.clone()).or_default().push((*seconds, efficiency_residual.unwrap_or(f64::NAN)));
                if let Some(sv) = solver {
                    solves.entry(method.clone()).or_default().push(sv.clone());
                }
            }
            Row::Del { net, test, method, k, del: d, del_prob, seconds, .. } => {
                del.entry((method.clone(), *net, *test)).or_default().push((*k, *d, *del_prob, *seconds));
                if !ks.contains(k) {
                    ks.push(*k);
                }
            }
            Row::Subset { .. } => {}
        }
    }
    ks.sort_unstable();
    nets.sort_by_key(|n| n.seed);
    // AUC-DEL of every complete (method, net, test point), as the paper writes it.
    let mut pair_auc: BTreeMap<(u64, usize), BTreeMap<String, f64>> = BTreeMap::new();
    for ((method, net, test), v) in &del {
        if v.len() >= want {
            pair_auc
                .entry((*net, *test))
                .or_default()
                .insert(method.clone(), v.iter().map(|x| x.1).sum::<f64>() / want as f64);
        }
    }
    // A run still in progress (or a shard not merged yet) leaves some pairs finished for only
    // some methods; per-method means over different pairs would compare methods on different
    // test points, so every figure uses only the pairs finished for every method that has
    // finished any pair.
    let finished: Vec<&String> =
        cfg.methods.iter().filter(|m| pair_auc.values().any(|p| p.contains_key(m.as_str()))).collect();
    let started = pair_auc.len();
    pair_auc.retain(|_, p| finished.iter().all(|m| p.contains_key(m.as_str())));
    let unfinished_pairs = started - pair_auc.len();
    let by_net: Vec<Vec<&BTreeMap<String, f64>>> = {
        let mut g: BTreeMap<u64, Vec<&BTreeMap<String, f64>>> = BTreeMap::new();
        for ((net, _), m) in &pair_auc {
            g.entry(*net).or_default().push(m);
        }
        g.into_values().collect()
    };
    let paired = |a: &str, b: &str| -> Option<(usize, f64, (f64, f64))> {
        let diff = |m: &BTreeMap<String, f64>| Some(m.get(a)? - m.get(b)?);
        let groups: Vec<Vec<f64>> = by_net.iter().map(|g| g.iter().filter_map(|m| diff(m)).collect()).collect();
        let all: Vec<f64> = groups.iter().flatten().copied().collect();
        if all.is_empty() {
            return None;
        }
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        let ci = cluster_bootstrap(&groups, RESAMPLES, 14, |d| d.iter().copied().sum::<f64>() / d.len() as f64);
        Some((all.len(), mean, ci))
    };
    let (_, unsupported) = supported_methods(cfg);
    let methods = cfg
        .methods
        .iter()
        .map(|m| {
            let mut aucs = Vec::new();
            let mut aucs_p = Vec::new();
            let mut per_k: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
            let mut retrain = Vec::new();
            for ((method, net, test), v) in del.range((m.clone(), 0, 0)..) {
                if method != m {
                    break;
                }
                retrain.extend(v.iter().map(|x| x.3));
                if v.len() < want || !pair_auc.contains_key(&(*net, *test)) {
                    continue;
                }
                let mut v = v.clone();
                v.sort_by_key(|x| x.0);
                aucs.push(crate::deletion::auc_del(&v.iter().map(|x| x.1).collect::<Vec<_>>()));
                aucs_p.push(crate::deletion::auc_del(&v.iter().map(|x| x.2).collect::<Vec<_>>()));
                for x in &v {
                    per_k.entry(x.0).or_default().push(x.1);
                }
            }
            let mut curve = vec![(0, 0.0, 0.0)];
            curve.extend(per_k.iter().map(|(k, v)| {
                let (mean, ci) = mean_ci(v);
                (*k, mean, ci)
            }));
            let r = rank.get(m).cloned().unwrap_or_default();
            let mean = |x: &[f64]| if x.is_empty() { f64::NAN } else { x.iter().sum::<f64>() / x.len() as f64 };
            let solver = solves.get(m).filter(|v| !v.is_empty()).map(|v| SolverSummary {
                kind: v[0].kind.clone(),
                solves: v.len(),
                unconverged: v.iter().filter(|s| !s.converged).count(),
                max_iterations: v.iter().map(|s| s.iterations).max().unwrap_or(0),
                max_residual: v.iter().map(|s| s.residual).fold(0.0, f64::max),
            });
            MethodSummary {
                method: m.clone(),
                pairs: aucs.len(),
                auc_del: mean_ci(&aucs),
                auc_del_prob: mean_ci(&aucs_p),
                curve,
                explain_seconds: mean(&r.iter().map(|x| x.0).collect::<Vec<_>>()),
                retrain_seconds: mean(&retrain),
                efficiency_residual: mean(&r.iter().map(|x| x.1).collect::<Vec<_>>()),
                vs_random: if m == "random" {
                    None
                } else {
                    paired(m, "random").map(|(_, mean, ci)| (mean, ci.0, ci.1))
                },
                solver,
            }
        })
        .collect();
    let d = cfg.dataset;
    let comparisons = COMPARISONS
        .iter()
        .filter_map(|(label, a, b)| {
            let (pairs, mean, ci) = paired(a, b)?;
            let paper = match (paper_auc_del(d, a), paper_auc_del(d, b)) {
                (Some(x), Some(y)) => Some(x.0 - y.0),
                _ => None,
            };
            Some(Comparison { label: label.to_string(), a: a.to_string(), b: b.to_string(), pairs, mean, ci, paper })
        })
        .collect();
    // Kendall's tau to the paper's ordering, over the methods the paper reports and every pair has.
    let compared: Vec<&String> = cfg.methods.iter().filter(|m| paper_auc_del(d, m).is_some()).collect();
    let compared: Vec<&String> =
        compared.into_iter().filter(|m| pair_auc.values().any(|p| p.contains_key(m.as_str()))).collect();
    let paper_scores: Vec<f64> =
        compared.iter().map(|m| paper_auc_del(d, m).map(|p| p.0).unwrap_or(f64::NAN)).collect();
    let tau_of = |records: &[&&BTreeMap<String, f64>]| {
        let means: Vec<f64> = compared
            .iter()
            .map(|m| {
                let v: Vec<f64> = records.iter().filter_map(|r| r.get(m.as_str()).copied()).collect();
                if v.is_empty() {
                    f64::NAN
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                }
            })
            .collect();
        if means.iter().any(|v| v.is_nan()) {
            f64::NAN
        } else {
            kendall_tau(&means, &paper_scores)
        }
    };
    let tau = (compared.len() >= 2).then(|| {
        let all: Vec<&&BTreeMap<String, f64>> = by_net.iter().flatten().collect();
        let (lo, hi) = cluster_bootstrap(&by_net, RESAMPLES, 15, |r| tau_of(r));
        (tau_of(&all), lo, hi, compared.len())
    });
    Report { config: cfg.clone(), nets, baseline, ks, methods, unsupported, comparisons, tau, unfinished_pairs }
}

fn cell(v: (f64, f64), pairs: usize) -> String {
    if pairs == 0 {
        return "-".into();
    }
    if v.1.is_nan() {
        format!("{:.2} (m={pairs})", v.0)
    } else {
        format!("{:.2} ± {:.2}", v.0, v.1)
    }
}

fn pct(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

/// The report as markdown: settings and conventions, model quality against the baseline, the
/// three experiments of Table 1 with our AUC-DEL next to the paper's, paired comparisons, the
/// ordering against the paper's, and a per-method table with deletion curves, solver
/// diagnostics and wall times.
pub fn markdown(report: &Report) -> String {
    let cfg = &report.config;
    let d = cfg.dataset;
    let mut s = String::new();
    let _ = writeln!(s, "# Table 1 (AUC-DEL) on {}: preset `{}`\n", d.paper_name(), cfg.preset);
    let _ = writeln!(
        s,
        "Task `{}` ({}); {} networks (seeds {}..), {} test points each drawn at random with seed {}; \
         deletion sizes k = {:?}; training: {} epochs, batch {}, plain SGD lr {}, exclusions: {:?}.\n",
        cfg.task,
        match (cfg.task_options.train_per_class, cfg.task_options.balance_train) {
            (Some(c), false) => format!("at most {c} training points per class"),
            (Some(c), true) => format!("at most {c} training points per class, class-balanced"),
            (None, false) => "all training points".into(),
            (None, true) => "class-balanced: every class capped at the smallest one's count".into(),
        },
        cfg.nets,
        cfg.first_net_seed,
        cfg.tests_per_net,
        cfg.test_seed,
        report.ks,
        cfg.train.epochs,
        cfg.train.batch_size,
        cfg.train.lr,
        cfg.train.exclusion,
    );
    let score = match cfg.explain.score {
        genrep_explain::ExplainedScore::Margin => {
            "the **logit margin** f_c(x) - f_v(x) of the class c the original network predicts at x against the \
             runner-up v (the paper's scalar f for a binary task)"
        }
        genrep_explain::ExplainedScore::Logit => {
            "the **logit** f_c(x) of the class c the original network predicts at x"
        }
    };
    let _ = writeln!(
        s,
        "Conventions: s(x) is {score}; DEL(x, k) = s_new(x) - s_old(x) after retraining from the same \
         initialisation with the same minibatch order without the k training points of most negative \
         phi(x_i -> x); AUC-DEL = (1/5) sum of DEL(x, k_i) over the five k above, as the paper writes it \
         (reports before 2026-11-30 averaged over k_0 = 0 as well, i.e. showed 5/6 of this); cells are \
         mean ± 95% Student-t half-width over complete (network, test point) pairs; larger is better. The \
         paper's numbers (50 x 10 pairs for vision, 200 x 10 for text, ~6,000 training points per class) \
         are in brackets.\n"
    );
    if report.unfinished_pairs > 0 {
        let _ = writeln!(
            s,
            "**Interim report:** {} (network, test point) pairs are finished for some methods but not all; \
             they are left out of every figure below, so that all methods are compared on the same pairs.\n",
            report.unfinished_pairs
        );
    }
    // Model quality.
    let _ = writeln!(s, "## Networks\n");
    let _ = writeln!(s, "| | test accuracy | balanced test accuracy | train accuracy |");
    let _ = writeln!(s, "|---|---|---|---|");
    if let Some((t, b, tr)) = report.baseline {
        let _ = writeln!(
            s,
            "| logistic regression ({}) | {} | {} | {} |",
            if d.is_text() { "bag of words" } else { "pixels" },
            pct(t),
            pct(b),
            pct(tr)
        );
    }
    for n in &report.nets {
        let _ = writeln!(
            s,
            "| net {} | {} | {} | {} |",
            n.seed,
            pct(n.test_accuracy),
            n.balanced_accuracy.map(pct).unwrap_or_else(|| "-".into()),
            n.train_accuracy.map(pct).unwrap_or_else(|| "-".into()),
        );
    }
    if let Some((t, b, _)) = report.baseline {
        let (metric, base, get): (&str, f64, NetMetric) = if d == crate::config::Dataset::Toxicity {
            ("balanced test accuracy", b, |n| n.balanced_accuracy)
        } else {
            ("test accuracy", t, |n| Some(n.test_accuracy))
        };
        let below: Vec<String> =
            report.nets.iter().filter(|n| get(n).is_some_and(|v| v <= base)).map(|n| n.seed.to_string()).collect();
        let _ = writeln!(
            s,
            "\n{} the baseline in {metric}{}.\n",
            if below.is_empty() { "Every network beats" } else { "Not every network beats" },
            if below.is_empty() { String::new() } else { format!(" (nets at or below it: {})", below.join(", ")) }
        );
    } else {
        s.push('\n');
    }
    for (title, cols) in EXPERIMENTS {
        let _ = writeln!(s, "## {title}\n");
        let _ = writeln!(s, "| | {} |", cols.iter().map(|c| c.0).collect::<Vec<_>>().join(" | "));
        let _ = writeln!(s, "|---|{}", "---|".repeat(cols.len()));
        let mut ours = format!("| **{} (ours)** |", d.paper_name());
        let mut paper = format!("| {} (paper) |", d.paper_name());
        for (_, method) in cols.iter() {
            let m = report.methods.iter().find(|m| m.method == *method);
            let _ = write!(
                ours,
                " {} |",
                match m {
                    Some(m) => cell(m.auc_del, m.pairs),
                    None => match report.unsupported.iter().find(|u| u.0 == *method) {
                        Some(_) => "n/a".into(),
                        None => "not run".into(),
                    },
                }
            );
            let _ = write!(
                paper,
                " {} |",
                paper_auc_del(d, method).map(|(a, b)| format!("[{a:.2} ± {b:.2}]")).unwrap_or_else(|| "-".into())
            );
        }
        let _ = writeln!(s, "{ours}\n{paper}\n");
    }
    for (m, why) in &report.unsupported {
        let _ = writeln!(s, "n/a: `{m}` was not run: {why}.\n");
    }
    if !report.comparisons.is_empty() {
        let _ = writeln!(s, "## Paired comparisons\n");
        let _ = writeln!(
            s,
            "Differences of AUC-DEL over the (network, test point) pairs both methods share; 95% interval \
             from a two-stage bootstrap ({RESAMPLES} resamples: networks with replacement, then test points \
             within each).\n"
        );
        let _ = writeln!(s, "| comparison | pairs | mean difference | 95% interval | paper |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for c in &report.comparisons {
            let _ = writeln!(
                s,
                "| {} | {} | {:+.2} | [{:+.2}, {:+.2}] | {} |",
                c.label,
                c.pairs,
                c.mean,
                c.ci.0,
                c.ci.1,
                c.paper.map(|p| format!("{p:+.2}")).unwrap_or_else(|| "-".into())
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Per method\n");
    let ks: Vec<String> = report.ks.iter().map(|k| format!("DEL k={k}")).collect();
    let _ = writeln!(
        s,
        "| method | pairs | AUC-DEL | AUC-DEL (probability) | - random [95%] | {} | solver | explain s / test point | retrain s | efficiency residual |",
        ks.join(" | ")
    );
    let _ = writeln!(s, "|---|---|---|---|---|{}---|---|---|---|", "---|".repeat(ks.len()));
    let mut ranked: Vec<&MethodSummary> = report.methods.iter().filter(|m| m.pairs > 0).collect();
    ranked.sort_by(|a, b| b.auc_del.0.total_cmp(&a.auc_del.0));
    for m in &ranked {
        let dels: Vec<String> = report
            .ks
            .iter()
            .map(|k| m.curve.iter().find(|c| c.0 == *k).map(|c| format!("{:.2}", c.1)).unwrap_or_else(|| "-".into()))
            .collect();
        let solver = match &m.solver {
            None => "-".into(),
            Some(sv) => format!(
                "{}: {} solves{}, <= {} it., residual <= {:.1e}",
                sv.kind,
                sv.solves,
                if sv.unconverged > 0 { format!(" (**{} unconverged**)", sv.unconverged) } else { String::new() },
                sv.max_iterations,
                sv.max_residual
            ),
        };
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.3} |",
            m.method,
            m.pairs,
            cell(m.auc_del, m.pairs),
            if m.pairs == 0 { "-".into() } else { format!("{:.3} ± {:.3}", m.auc_del_prob.0, m.auc_del_prob.1) },
            m.vs_random.map(|(v, lo, hi)| format!("{v:+.2} [{lo:+.2}, {hi:+.2}]")).unwrap_or_else(|| "-".into()),
            dels.join(" | "),
            solver,
            m.explain_seconds,
            m.retrain_seconds,
            m.efficiency_residual
        );
    }
    // Orderings next to the paper's.
    let with_paper: Vec<&&MethodSummary> = ranked.iter().filter(|m| paper_auc_del(d, &m.method).is_some()).collect();
    if with_paper.len() >= 2 {
        let mut by_paper = with_paper.clone();
        by_paper.sort_by(|a, b| {
            let pa = paper_auc_del(d, &a.method).map(|p| p.0).unwrap_or(f64::NAN);
            let pb = paper_auc_del(d, &b.method).map(|p| p.0).unwrap_or(f64::NAN);
            pb.total_cmp(&pa)
        });
        let _ = writeln!(
            s,
            "\nOrdering, ours: {}.\n\nOrdering, paper: {}.\n",
            with_paper.iter().map(|m| format!("`{}`", m.method)).collect::<Vec<_>>().join(" > "),
            by_paper.iter().map(|m| format!("`{}`", m.method)).collect::<Vec<_>>().join(" > "),
        );
        if let Some((tau, lo, hi, k)) = report.tau {
            let _ = writeln!(
                s,
                "Kendall tau between the two ({k} methods): {tau:.2}, 95% two-stage bootstrap interval [{lo:.2}, {hi:.2}].\n"
            );
        }
    }
    let _ = writeln!(s, "Deletion curves: `deletion-curves.svg`.");
    s
}

/// Kendall's tau-a between two score lists over the same items.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let mut sum = 0.0;
    let mut pairs = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            sum += (a[i] - a[j]).signum() * (b[i] - b[j]).signum();
            pairs += 1.0;
        }
    }
    if pairs == 0.0 {
        f64::NAN
    } else {
        sum / pairs
    }
}

/// Deletion curves: mean DEL against k, one line per method (legend: the method and its
/// AUC-DEL), with 95% Student-t interval bars at each k.
pub fn deletion_chart(report: &Report) -> genrep_render::LineChart {
    genrep_render::LineChart {
        title: format!(
            "Deletion curves, {} (preset {}): mean DEL(x, k) in logits",
            report.config.dataset.paper_name(),
            report.config.preset
        ),
        x_label: "k (training points removed)".into(),
        y_label: "mean DEL(x, k)".into(),
        series: report
            .methods
            .iter()
            .filter(|m| m.pairs > 0)
            .map(|m| genrep_render::Series {
                name: format!("{} ({:.2})", m.method, m.auc_del.0),
                points: m.curve.iter().map(|c| (c.0 as f64, c.1)).collect(),
                half_widths: Some(m.curve.iter().map(|c| c.2).collect()),
            })
            .collect(),
        x_range: None,
        y_range: None,
    }
}

/// Writes `report.md`, `deletion-curves.svg` / `.png` and `summary.json` into `out` (atomically).
pub fn write_report(out: &Path, report: &Report) -> Result<()> {
    let write = |name: &str, bytes: &[u8]| {
        let p = out.join(name);
        genrep_models::write_atomic(&p, bytes).map_err(|e| ExperimentError::io(&p, e))
    };
    write("report.md", markdown(report).as_bytes())?;
    {
        use genrep_render::Chart as _;
        deletion_chart(report)
            .save(out, "deletion-curves")
            .map_err(|e| ExperimentError::config("report", e.to_string()))?;
    }
    let json = serde_json::to_string_pretty(report).map_err(|e| ExperimentError::config("report", e.to_string()))?;
    write("summary.json", json.as_bytes())
}

/// Summarises `rows` (deduplicated first) by the experiment's metric, AUC-DEL ([`summarize`],
/// [`write_report`]) or, for an LDS experiment, the linear datamodeling score
/// ([`crate::summarize_lds`], [`crate::write_lds_report`]), writes the report files into `out`
/// and returns the report as markdown.
pub fn report_dir(out: &Path, cfg: &ExperimentConfig, rows: Vec<Row>) -> Result<String> {
    let rows = crate::rows::dedup(rows)?;
    if cfg.lds.is_some() {
        let report = crate::lds_report::summarize_lds(cfg, &rows)?;
        crate::lds_report::write_lds_report(out, &report)?;
        return Ok(crate::lds_report::lds_markdown(&report));
    }
    let report = summarize(cfg, &rows);
    write_report(out, &report)?;
    Ok(markdown(&report))
}
