//! Dataset debugging (Yeh et al. 2018, Section 4.1): flip the labels of a seeded fraction of a
//! binary training set, train on the noisy labels, rank the training points for inspection by
//! several self-importance scores, and measure (a) the fraction of flipped labels found against
//! the fraction of the data checked and (b) the test accuracy after retraining with the checked
//! points' labels corrected.

use crate::error::{ExperimentError, Result};
use crate::runner::Monitor;
use burn::prelude::Device;
use genrep_data::{DataDir, Task, TaskOptions, TaskSpec};
use genrep_explain::self_influence::{
    influence_ll_self_influence, representer_label_importance, tracin_self_influence,
};
use genrep_models::{Architecture, ModelSpec};
use genrep_trainer::{
    evaluate, fit, predict_logits, train_run, try_init_seeded, FitOptions, RunConfig, RunDir, TrainConfig,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::time::Instant;

/// Ranking scores compared, in report order.
pub const DEBUG_METHODS: [&str; 5] = ["representer", "influence", "tracin", "loss", "random"];

/// A dataset-debugging study.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DebugConfig {
    /// A binary task.
    pub task: TaskSpec,
    /// How it is built.
    pub task_options: TaskOptions,
    /// Fraction of training labels flipped.
    pub flip_fraction: f64,
    /// Seed of the flips and of the random ranking.
    pub seed: u64,
    /// Training recipe (the same for the noisy model and every corrected retraining).
    pub train: TrainConfig,
    /// L2 penalty of the last-layer (representer) fine-tune (`ExplainOptions::last_layer_l2`).
    #[serde(alias = "lambda")]
    pub last_layer_l2: f64,
    /// Damping of the last-layer influence Hessian.
    pub damping: f64,
    /// Fractions of the training set checked for the accuracy-after-correction retrainings.
    pub check_fractions: Vec<f64>,
}

/// Results of one ranking method.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DebugCurve {
    /// Method name (see [`DEBUG_METHODS`]).
    pub method: String,
    /// (fraction of the training set checked, fraction of the flipped labels found), every 1%.
    pub found: Vec<(f64, f64)>,
    /// (fraction checked, test accuracy after retraining with those labels corrected).
    pub accuracy: Vec<(f64, f64)>,
    /// Wall seconds to compute the scores.
    pub seconds: f64,
    /// Area under the `found` curve, computed exactly over every prefix
    /// ([`crate::detection::detection_auc`]).
    pub detection_auc: f64,
    /// ROC AUC of the scores against the flipped flags ([`crate::detection::roc_auc`]).
    pub roc_auc: f64,
}

/// Results of a study.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DebugReport {
    /// The study.
    pub config: DebugConfig,
    /// Training points and how many labels were flipped.
    pub n: usize,
    /// Flipped training points.
    pub flipped: usize,
    /// Test accuracy of the model trained on the noisy labels.
    pub noisy_accuracy: f64,
    /// Test accuracy when every flipped label is corrected (the ceiling).
    pub clean_accuracy: f64,
    /// One curve per method.
    pub curves: Vec<DebugCurve>,
}

/// Runs the study with the built-in model for the task ([`ModelSpec::default_for`]); the noisy
/// model is trained into `out/run` (reused if complete).
pub fn run_debug(
    cfg: &DebugConfig,
    data: &DataDir,
    device: &Device,
    device_name: &str,
    out: &Path,
    monitor: &dyn Monitor,
) -> Result<DebugReport> {
    let built_in = |task: &Task| ModelSpec::default_for(&task.train, task.num_classes());
    run_debug_with(cfg, data, device, device_name, out, monitor, built_in)
}

/// [`run_debug`] with any architecture: `architecture` describes the network for the (binary)
/// task; the noisy model and every retraining on corrected labels are built from it.
pub fn run_debug_with<A: Architecture>(
    cfg: &DebugConfig,
    data: &DataDir,
    device: &Device,
    device_name: &str,
    out: &Path,
    monitor: &dyn Monitor,
    architecture: impl FnOnce(&Task) -> genrep_models::Result<A>,
) -> Result<DebugReport> {
    if !(cfg.flip_fraction > 0.0 && cfg.flip_fraction < 0.5) {
        return Err(ExperimentError::config("flip", format!("{} is not in (0, 0.5)", cfg.flip_fraction)));
    }
    cfg.train.validate()?;
    // A second study on the same --out is refused while this one runs.
    let _lock = genrep_trainer::DirLock::acquire(out, "debug")?;
    let mut task = genrep_data::build_task(data, &cfg.task, &cfg.task_options)?;
    if task.num_classes() != 2 {
        return Err(ExperimentError::config(
            "task",
            format!(
                "{} has {} classes; dataset debugging flips labels of a binary task (e.g. mnist:3-vs-8)",
                cfg.task,
                task.num_classes()
            ),
        ));
    }
    let n = task.train.len();
    let true_labels = task.train.labels.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let k = ((cfg.flip_fraction * n as f64).round() as usize).max(1);
    let flipped: Vec<usize> = rand::seq::index::sample(&mut rng, n, k).into_vec();
    let mut is_flipped = vec![false; n];
    for &i in &flipped {
        is_flipped[i] = true;
        task.train.labels[i] = 1 - task.train.labels[i];
    }
    monitor.note(&format!("{}: flipped {k} of {n} training labels (seed {})", cfg.task, cfg.seed));

    let spec = architecture(&task)?;
    let run = RunDir::new(out.join("run"));
    let run_cfg = RunConfig {
        task: cfg.task.clone(),
        task_options: cfg.task_options.clone(),
        model: spec.clone(),
        train: cfg.train.clone(),
        device: device_name.into(),
    };
    // The noisy training set (flips included) is part of the fingerprint: a run trained with
    // another --flip, --seed or recipe is retrained, never reused.
    let data = genrep_data::DataFingerprint::of_splits(&task.train, Some(&task.test), 2);
    if run.is_complete_for(&run_cfg, &data)? {
        monitor.note(&format!("reusing the noisy model in {}", run.path.display()));
    } else {
        if run.config_path().exists() {
            monitor.note(&format!("{} was trained with other settings or labels: retraining", run.path.display()));
        }
        monitor.note("training on the noisy labels");
        train_run(&run, &run_cfg, &task.train, Some(&task.test), device, false, false, &mut [])?;
    }
    let ad = device.clone().autodiff();
    let model = run.load_model_as::<A>("final", &ad)?;
    let (_, noisy_accuracy) = evaluate(&model, &task.test, 256, device);

    let mut scores: Vec<(String, Vec<f64>, f64)> = Vec::new();
    for m in DEBUG_METHODS {
        let start = Instant::now();
        monitor.stage(&format!("scoring training points: {m}"), n);
        let s = match m {
            "representer" => {
                let (s, rep) = representer_label_importance(&model, &task.train, cfg.last_layer_l2, 256)?;
                monitor.note(&format!(
                    "representer fine-tune: {} iterations, gradient norm {:.1e}",
                    rep.iterations, rep.grad_norm
                ));
                s
            }
            "influence" => influence_ll_self_influence(&model, &task.train, cfg.damping, 256)?,
            "tracin" => {
                let list = run.read_checkpoints()?;
                let mut cps = Vec::new();
                for c in list.iter().filter(|c| {
                    matches!(c.kind, genrep_trainer::CheckpointKind::Epoch(_) | genrep_trainer::CheckpointKind::Final)
                }) {
                    cps.push((run.load_model_as::<A>(&c.name, &ad)?, c.lr));
                }
                tracin_self_influence(&cps, &task.train, 256, &mut |d, t| monitor.position(d, t))
            }
            "loss" => {
                // Cross-entropy -log softmax(f_i)_{y_i} against the (noisy) training label.
                let logits = predict_logits(&model, &task.train, 256, device);
                logits
                    .chunks(2)
                    .zip(&task.train.labels)
                    .map(|(row, &y)| {
                        let (a, b) = (row[0] as f64, row[1] as f64);
                        let m = a.max(b);
                        m + ((a - m).exp() + (b - m).exp()).ln() - row[y] as f64
                    })
                    .collect()
            }
            _ => {
                let mut r = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5EED);
                (0..n).map(|_| r.random::<f64>()).collect()
            }
        };
        scores.push((m.to_string(), s, start.elapsed().as_secs_f64()));
    }

    // Retraining with corrected labels: same initialisation and minibatch order.
    let retrain = |labels: &[usize]| -> Result<f64> {
        let mut train = task.train.clone();
        train.labels = labels.to_vec();
        let model = try_init_seeded(device, cfg.train.seed, |d| spec.init(d))?;
        let outcome = fit(model, &train, None, &cfg.train, &FitOptions::new(device.clone()), &mut [])?;
        Ok(evaluate(&outcome.model, &task.test, 256, device).1)
    };
    monitor.note("retraining on the corrected labels (ceiling)");
    let clean_accuracy = retrain(&true_labels)?;
    let mut curves = Vec::new();
    monitor.stage("retraining with the checked labels corrected", scores.len() * cfg.check_fractions.len());
    for (method, s, seconds) in scores {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| s[b].total_cmp(&s[a]).then(a.cmp(&b)));
        let found = (0..=100)
            .map(|pct| {
                let m = n * pct / 100;
                let hits = order[..m].iter().filter(|&&i| is_flipped[i]).count();
                (pct as f64 / 100.0, hits as f64 / k as f64)
            })
            .collect();
        let mut accuracy = Vec::new();
        for &f in &cfg.check_fractions {
            let m = ((f * n as f64).round() as usize).min(n);
            let mut labels = task.train.labels.clone();
            for &i in &order[..m] {
                labels[i] = true_labels[i];
            }
            accuracy.push((f, retrain(&labels)?));
            monitor.tick();
        }
        let detection_auc = crate::detection::detection_auc(&order, &is_flipped);
        let roc_auc = crate::detection::roc_auc(&s, &is_flipped);
        curves.push(DebugCurve { method, found, accuracy, seconds, detection_auc, roc_auc });
    }
    Ok(DebugReport { config: cfg.clone(), n, flipped: k, noisy_accuracy, clean_accuracy, curves })
}

/// The study as markdown: detection at 5/10/20/30 % checked and accuracy after correction.
pub fn debug_markdown(r: &DebugReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Dataset debugging on `{}`\n\n{} training points, {} labels flipped ({:.0}%, seed {}); {} epochs, batch {}, lr {}. \
         Test accuracy trained on the noisy labels: {:.2}%; with every label corrected: {:.2}%.\n",
        r.config.task,
        r.n,
        r.flipped,
        100.0 * r.config.flip_fraction,
        r.config.seed,
        r.config.train.epochs,
        r.config.train.batch_size,
        r.config.train.lr,
        100.0 * r.noisy_accuracy,
        100.0 * r.clean_accuracy
    );
    let _ = writeln!(
        s,
        "Fraction of the flipped labels found after checking the top-ranked fraction of the training set:\n"
    );
    let cols = [5usize, 10, 20, 30];
    let _ = writeln!(
        s,
        "| ranking | {} | detection AUC | ROC AUC | scoring s |",
        cols.iter().map(|c| format!("{c}% checked")).collect::<Vec<_>>().join(" | ")
    );
    let _ = writeln!(s, "|---|{}---|---|---|", "---|".repeat(cols.len()));
    for c in &r.curves {
        let v: Vec<String> = cols.iter().map(|&p| format!("{:.1}%", 100.0 * c.found[p].1)).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {:.3} | {:.1} |",
            c.method,
            v.join(" | "),
            c.detection_auc,
            c.roc_auc,
            c.seconds
        );
    }
    let _ = writeln!(
        s,
        "\nDetection AUC: area under the found-vs-checked curve (1 - (k-1)/2n for a perfect ranking, about 0.5 \
         for a random one); ROC AUC: probability that a flipped point outranks a clean one.\n"
    );
    let _ = writeln!(s, "\nTest accuracy after retraining with the checked points' labels corrected:\n");
    let fr = &r.config.check_fractions;
    let _ = writeln!(
        s,
        "| ranking | {} |",
        fr.iter().map(|f| format!("{:.0}% checked", 100.0 * f)).collect::<Vec<_>>().join(" | ")
    );
    let _ = writeln!(s, "|---|{}", "---|".repeat(fr.len()));
    for c in &r.curves {
        let v: Vec<String> = c.accuracy.iter().map(|a| format!("{:.2}%", 100.0 * a.1)).collect();
        let _ = writeln!(s, "| {} | {} |", c.method, v.join(" | "));
    }
    s
}

/// Writes `debug.md`, `debug-curves.csv`, `debug-accuracy.csv`, `debug-curves.png` and
/// `debug.json` into `out`.
pub fn write_debug(out: &std::path::Path, r: &DebugReport) -> Result<()> {
    let write = |name: &str, bytes: &[u8]| {
        let p = out.join(name);
        genrep_models::write_atomic(&p, bytes).map_err(|e| ExperimentError::io(&p, e))
    };
    write("debug.md", debug_markdown(r).as_bytes())?;
    let table = |name: &str, header: [&str; 3], rows: &mut dyn Iterator<Item = (String, f64, f64)>| -> Result<()> {
        let path = out.join(name);
        let err = |e: csv::Error| ExperimentError::io(&path, std::io::Error::other(e));
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(header).map_err(err)?;
        for (method, a, b) in rows {
            w.write_record([method, a.to_string(), b.to_string()]).map_err(err)?;
        }
        let bytes = w.into_inner().map_err(|e| ExperimentError::io(&path, std::io::Error::other(e.to_string())))?;
        write(name, &bytes)
    };
    table(
        "debug-curves.csv",
        ["method", "fraction_checked", "fraction_found"],
        &mut r.curves.iter().flat_map(|c| c.found.iter().map(|&(a, b)| (c.method.clone(), a, b))),
    )?;
    table(
        "debug-accuracy.csv",
        ["method", "fraction_checked", "test_accuracy"],
        &mut r.curves.iter().flat_map(|c| c.accuracy.iter().map(|&(a, b)| (c.method.clone(), a, b))),
    )?;
    let chart = genrep_render::LineChart {
        title: format!("{}: flipped labels found ({} of {})", r.config.task, r.flipped, r.n),
        x_label: "fraction of training data checked".into(),
        y_label: "fraction of flipped labels found".into(),
        series: r
            .curves
            .iter()
            .map(|c| genrep_render::Series {
                name: format!("{} (ROC AUC {:.3})", c.method, c.roc_auc),
                points: c.found.clone(),
                half_widths: None,
            })
            .collect(),
        x_range: Some((0.0, 1.0)),
        y_range: Some((0.0, 1.0)),
    };
    {
        use genrep_render::Chart as _;
        chart.save(out, "debug-curves").map_err(|e| ExperimentError::config("debug", e.to_string()))?;
    }
    let json = serde_json::to_string_pretty(r).map_err(|e| ExperimentError::config("debug", e.to_string()))?;
    write("debug.json", json.as_bytes())
}
