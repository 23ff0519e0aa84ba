//! Aggregation of result rows into Table 1 cells, the markdown report and deletion curves.
//!
//! Conventions (stated in every report): s(x) is the logit of the class the original network
//! predicts at x; DEL(x, k) = s_new(x) - s_old(x); AUC-DEL = mean of DEL over k_0 = 0, k_1..k_5
//! with DEL(x, 0) = 0 (retraining without exclusions reproduces the network bit for bit);
//! only (net, test point) pairs with every k finished count; the interval is a 95% Student-t
//! interval over those pairs.

use crate::config::ExperimentConfig;
use crate::error::{ExperimentError, Result};
use crate::paper::{paper_auc_del, EXPERIMENTS};
use crate::rows::Row;
use crate::runner::supported_methods;
use crate::stats::mean_ci;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

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
}

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// The experiment.
    pub config: ExperimentConfig,
    /// Networks: (seed, test accuracy, training seconds).
    pub nets: Vec<(u64, f64, f64)>,
    /// Deletion sizes found in the rows.
    pub ks: Vec<usize>,
    /// Per method, in the config's order.
    pub methods: Vec<MethodSummary>,
    /// Methods that could not run, with the reason.
    pub unsupported: Vec<(String, String)>,
}

impl Report {
    /// The summary of `method`, if it has any complete pair.
    pub fn method(&self, method: &str) -> Option<&MethodSummary> {
        self.methods.iter().find(|m| m.method == method && m.pairs > 0)
    }
}

/// Aggregates `rows` (deduplicated; any order) of the experiment `cfg`.
pub fn summarize(cfg: &ExperimentConfig, rows: &[Row]) -> Report {
    let want = cfg.deletion_fractions.len();
    let mut nets = Vec::new();
    let mut del: BTreeMap<(String, u64, usize), Vec<(usize, f64, f64, f64)>> = BTreeMap::new();
    let mut rank: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut ks: Vec<usize> = Vec::new();
    for r in rows {
        match r {
            Row::Net { net, test_accuracy, seconds } => nets.push((*net, *test_accuracy, *seconds)),
            Row::Ranking { method, seconds, efficiency_residual, .. } => {
                rank.entry(method.clone()).or_default().push((*seconds, efficiency_residual.unwrap_or(f64::NAN)))
            }
            Row::Del { net, test, method, k, del: d, del_prob, seconds, .. } => {
                del.entry((method.clone(), *net, *test)).or_default().push((*k, *d, *del_prob, *seconds));
                if !ks.contains(k) {
                    ks.push(*k);
                }
            }
        }
    }
    ks.sort_unstable();
    nets.sort_by_key(|n| n.0);
    let (_, unsupported) = supported_methods(cfg);
    let methods = cfg
        .methods
        .iter()
        .map(|m| {
            let mut aucs = Vec::new();
            let mut aucs_p = Vec::new();
            let mut per_k: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
            let mut retrain = Vec::new();
            for ((method, _, _), v) in del.range((m.clone(), 0, 0)..) {
                if method != m {
                    break;
                }
                retrain.extend(v.iter().map(|x| x.3));
                if v.len() < want {
                    continue;
                }
                let mut v = v.clone();
                v.sort_by_key(|x| x.0);
                aucs.push(v.iter().map(|x| x.1).sum::<f64>() / (want + 1) as f64);
                aucs_p.push(v.iter().map(|x| x.2).sum::<f64>() / (want + 1) as f64);
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
            MethodSummary {
                method: m.clone(),
                pairs: aucs.len(),
                auc_del: mean_ci(&aucs),
                auc_del_prob: mean_ci(&aucs_p),
                curve,
                explain_seconds: mean(&r.iter().map(|x| x.0).collect::<Vec<_>>()),
                retrain_seconds: mean(&retrain),
                efficiency_residual: mean(&r.iter().map(|x| x.1).collect::<Vec<_>>()),
            }
        })
        .collect();
    Report { config: cfg.clone(), nets, ks, methods, unsupported }
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

/// The report as markdown: settings and conventions, the three experiments of Table 1 with
/// our AUC-DEL next to the paper's, and a per-method table with deletion curves and wall times.
pub fn markdown(report: &Report) -> String {
    let cfg = &report.config;
    let d = cfg.dataset;
    let mut s = String::new();
    let _ = writeln!(s, "# Table 1 (AUC-DEL) on {}: preset `{}`\n", d.paper_name(), cfg.preset);
    let acc: Vec<String> = report.nets.iter().map(|n| format!("{:.2}%", 100.0 * n.1)).collect();
    let _ = writeln!(
        s,
        "Task `{}` ({}); {} networks (seeds {}..), {} test points each drawn at random with seed {}; \
         deletion sizes k = {:?}; training: {} epochs, batch {}, plain SGD lr {}. \
         Network test accuracies: {}.\n",
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
        if acc.is_empty() { "-".into() } else { acc.join(", ") }
    );
    let _ = writeln!(
        s,
        "Conventions: s(x) is the **logit** of the class the original network predicts at x; \
         DEL(x, k) = s_new(x) - s_old(x) after retraining from the same initialisation with the \
         same minibatch order without the k training points of most negative phi(x_i -> x); \
         AUC-DEL = mean of DEL over k_0 = 0 and the k above, with DEL(x, 0) = 0 (retraining \
         without exclusions is bit-identical); cells are mean ± 95% Student-t half-width over \
         complete (network, test point) pairs; larger is better. The paper's numbers (50 x 10 \
         pairs for vision, 200 x 10 for text, ~6,000 training points per class) are in brackets.\n"
    );
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
    let _ = writeln!(s, "## Per method\n");
    let ks: Vec<String> = report.ks.iter().map(|k| format!("DEL k={k}")).collect();
    let _ = writeln!(
        s,
        "| method | pairs | AUC-DEL (logit) | AUC-DEL (probability) | {} | explain s / test point | retrain s | efficiency residual |",
        ks.join(" | ")
    );
    let _ = writeln!(s, "|---|---|---|---|{}---|---|---|", "---|".repeat(ks.len()));
    let mut ranked: Vec<&MethodSummary> = report.methods.iter().filter(|m| m.pairs > 0).collect();
    ranked.sort_by(|a, b| b.auc_del.0.total_cmp(&a.auc_del.0));
    for m in &ranked {
        let dels: Vec<String> = report
            .ks
            .iter()
            .map(|k| m.curve.iter().find(|c| c.0 == *k).map(|c| format!("{:.2}", c.1)).unwrap_or_else(|| "-".into()))
            .collect();
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} | {:.2} | {:.2} | {:.3} |",
            m.method,
            m.pairs,
            cell(m.auc_del, m.pairs),
            if m.pairs == 0 { "-".into() } else { format!("{:.3} ± {:.3}", m.auc_del_prob.0, m.auc_del_prob.1) },
            dels.join(" | "),
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
            "\nOrdering, ours: {}.\n\nOrdering, paper: {}.\n\nKendall tau between the two: {:.2}.\n",
            with_paper.iter().map(|m| format!("`{}`", m.method)).collect::<Vec<_>>().join(" > "),
            by_paper.iter().map(|m| format!("`{}`", m.method)).collect::<Vec<_>>().join(" > "),
            kendall_tau(
                &with_paper.iter().map(|m| m.auc_del.0).collect::<Vec<_>>(),
                &with_paper.iter().map(|m| paper_auc_del(d, &m.method).map(|p| p.0).unwrap_or(0.0)).collect::<Vec<_>>()
            )
        );
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
            sum += ((a[i] - a[j]).signum() * (b[i] - b[j]).signum()) as f64;
            pairs += 1.0;
        }
    }
    if pairs == 0.0 {
        f64::NAN
    } else {
        sum / pairs
    }
}

/// Deletion curves (mean DEL against k, one line per method) as a standalone SVG.
pub fn svg_curves(report: &Report) -> String {
    let (w, h, left, right, top, bottom) = (760.0, 440.0, 60.0, 230.0, 30.0, 50.0);
    let lines: Vec<&MethodSummary> = report.methods.iter().filter(|m| m.pairs > 0).collect();
    let kmax = report.ks.iter().copied().max().unwrap_or(1).max(1) as f64;
    let vals = lines.iter().flat_map(|m| m.curve.iter().map(|c| c.1));
    let (mut lo, mut hi) = vals.fold((0.0f64, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    if hi - lo < 1e-9 {
        hi += 1.0;
        lo -= 1.0;
    }
    let x = |k: f64| left + (w - left - right) * k / kmax;
    let y = |v: f64| top + (h - top - bottom) * (hi - v) / (hi - lo);
    let colors = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
        "#000000", "#aa3377",
    ];
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"18\" text-anchor=\"middle\">Deletion curves, {} (preset {}): mean DEL(x, k) in logits</text>\n",
        (w - right + left) / 2.0,
        report.config.dataset.paper_name(),
        report.config.preset
    );
    // Axes, zero line and ticks.
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"black\"/>",
        h - bottom,
        w - right,
        h - bottom,
        h - bottom
    );
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>",
        y(0.0),
        w - right
    );
    for k in std::iter::once(0).chain(report.ks.iter().copied()) {
        let _ =
            writeln!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{k}</text>", x(k as f64), h - bottom + 16.0);
    }
    for i in 0..=4 {
        let v = lo + (hi - lo) * i as f64 / 4.0;
        let _ = writeln!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v:.2}</text>", left - 6.0, y(v) + 4.0);
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">k (training points removed)</text>",
        (w - right + left) / 2.0,
        h - 12.0
    );
    for (i, m) in lines.iter().enumerate() {
        let c = colors[i % colors.len()];
        let pts: Vec<String> = m.curve.iter().map(|p| format!("{:.1},{:.1}", x(p.0 as f64), y(p.1))).collect();
        let _ = writeln!(s, "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>", pts.join(" "));
        let ly = top + 10.0 + 18.0 * i as f64;
        let _ = writeln!(
            s,
            "<line x1=\"{0}\" y1=\"{ly}\" x2=\"{1}\" y2=\"{ly}\" stroke=\"{c}\" stroke-width=\"3\"/><text x=\"{2}\" y=\"{3}\">{4} ({5:.2})</text>",
            w - right + 12.0,
            w - right + 32.0,
            w - right + 38.0,
            ly + 4.0,
            m.method,
            m.auc_del.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Writes `report.md`, `deletion-curves.svg` and `summary.json` into `out` (atomically).
pub fn write_report(out: &Path, report: &Report) -> Result<()> {
    let write = |name: &str, bytes: &[u8]| {
        let p = out.join(name);
        genrep_models::write_atomic(&p, bytes).map_err(|e| ExperimentError::io(&p, e))
    };
    write("report.md", markdown(report).as_bytes())?;
    write("deletion-curves.svg", svg_curves(report).as_bytes())?;
    let json = serde_json::to_string_pretty(report).map_err(|e| ExperimentError::config("report", e.to_string()))?;
    write("summary.json", json.as_bytes())
}
