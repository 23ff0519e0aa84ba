//! The deletion-diagnostic runner (Section 6.1 of Tsai et al. 2023).
//!
//! For every network (seed s) and each of its test points x:
//! 1. train the network once (`nets/net-s/`, a normal run directory with checkpoints and the
//!    training record), and take s_old(x) = f_c(x), the logit of the predicted class c;
//! 2. for every method, explain x and keep the training points in order of increasing
//!    phi(x_i -> x) (most negative first);
//! 3. for every k in the deletion sizes, retrain from the same initialisation with the same
//!    minibatch order but without the first k points of that order, and record
//!    DEL(x, k) = s_new(x) - s_old(x).
//!
//! Every finished step is a row in `rows.jsonl` (see [`crate::rows`]); a rerun skips finished
//! rows, and `--shard i/N` runs only the (net, test point) pairs it owns.

use crate::baseline::{accuracies, logistic_regression};
use crate::config::{ExperimentConfig, Shard};
use crate::error::{ExperimentError, Result};
use crate::rows::{read_rows, Key, Row, RowStore, Solver};
use burn::prelude::Device;
use genrep_data::{DataDir, Task};
use genrep_explain::importance::softmax_rows;
use genrep_explain::{explain, parse_method_spec, subset, Checkpoints, Context, ExplainOptions, Method, TestPoint};
use genrep_models::{write_atomic, Architecture, ModelSpec};
use genrep_trainer::{fit, predict_logits, train_run, try_init_seeded, FitOptions, RunConfig, RunDir};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Receives progress from a run (implemented with progress bars by the CLI). Called from
/// worker threads, hence `Sync`.
pub trait Monitor: Sync {
    /// A one-line remark.
    fn note(&self, message: &str);
    /// A stage of `total` units begins.
    fn stage(&self, what: &str, total: usize);
    /// One unit of the current stage is done.
    fn tick(&self);
    /// `done` of `total` units of the current stage are done (long single steps report this way).
    fn position(&self, _done: usize, _total: usize) {}
}

/// A monitor without progress bars: notes go to the `tracing` log (level info; shown by
/// whatever subscriber the application installs, e.g. the CLI's `RUST_LOG` / `--verbose`).
pub struct Quiet;

impl Monitor for Quiet {
    fn note(&self, message: &str) {
        tracing::info!("{message}");
    }
    fn stage(&self, _: &str, _: usize) {}
    fn tick(&self) {}
}

/// Where and how to run an experiment.
pub struct RunOptions {
    /// Output directory (experiment.json, rows*.jsonl, nets/, the report).
    pub out: PathBuf,
    /// The part of the grid to run.
    pub shard: Shard,
    /// Retrainings run at once (threads).
    pub jobs: usize,
    /// Compute device.
    pub device: Device,
    /// Its name, stored in the networks' run configs.
    pub device_name: String,
    /// Dataset folder.
    pub data: DataDir,
}

/// What a call to [`run`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Networks trained now.
    pub nets_trained: usize,
    /// Explanations computed now (method x test point).
    pub rankings: usize,
    /// Retrainings done now.
    pub retrains: usize,
    /// LDS subset models trained now.
    pub subset_models: usize,
    /// Rows that were already there and skipped.
    pub skipped: usize,
    /// Methods that could not run (name, reason).
    pub unsupported: Vec<(String, String)>,
}

/// The results file of a shard: `rows.jsonl`, or `rows-shard-I-of-N.jsonl`.
pub fn rows_path(out: &Path, shard: Shard) -> PathBuf {
    if shard.count == 1 {
        out.join("rows.jsonl")
    } else {
        out.join(format!("rows-shard-{}-of-{}.jsonl", shard.index, shard.count))
    }
}

/// Writes `experiment.json`, or checks that the one already in `out` describes `cfg`.
pub fn pin_config(out: &Path, cfg: &ExperimentConfig) -> Result<()> {
    let path = out.join("experiment.json");
    let text = serde_json::to_string_pretty(cfg).map_err(|e| ExperimentError::config("experiment", e.to_string()))?;
    match std::fs::read_to_string(&path) {
        Ok(old) => {
            let old_cfg: ExperimentConfig = serde_json::from_str(&old).map_err(|e| ExperimentError::File {
                path: path.clone(),
                line: e.line(),
                what: format!("not an experiment description: {e}"),
            })?;
            if &old_cfg != cfg {
                return Err(ExperimentError::config(
                    "out",
                    format!(
                        "{} holds results of a different experiment ({} preset `{}`); rerun with the same \
                         settings to resume, or choose another --out",
                        out.display(),
                        old_cfg.dataset.name(),
                        old_cfg.preset
                    ),
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_atomic(&path, text.as_bytes()).map_err(|e| ExperimentError::io(&path, e))
        }
        Err(e) => Err(ExperimentError::io(&path, e)),
    }
}

/// `architecture.json` of an experiment directory.
const ARCHITECTURE_FILE: &str = "architecture.json";

/// Pins the architecture of the networks of an experiment directory in `architecture.json`, as
/// [`pin_config`] pins the grid: a later run (a resume, another shard) with another architecture
/// is refused, since its rows would mix with these. A directory written before the pin existed,
/// with rows already, was run with the built-in model for the task.
fn pin_architecture<A: Architecture>(out: &Path, spec: &A, task: &Task) -> Result<()> {
    let path = out.join(ARCHITECTURE_FILE);
    let json = |e: serde_json::Error| ExperimentError::config("architecture", e.to_string());
    let refuse = |found: String| {
        ExperimentError::config(
            "architecture",
            format!(
                "{} holds results of networks of another architecture ({found}) than this run's ({}); \
                 choose another --out",
                out.display(),
                serde_json::to_string(spec).unwrap_or_default()
            ),
        )
    };
    match std::fs::read(&path) {
        Ok(bytes) => match serde_json::from_slice::<A>(&bytes) {
            Ok(found) if &found == spec => Ok(()),
            _ => Err(refuse(String::from_utf8_lossy(&bytes).split_whitespace().collect())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let has_rows = crate::rows::read_dir_rows(out).map(|r| !r.is_empty()).unwrap_or(false);
            if has_rows {
                let built_in = ModelSpec::default_for(&task.train, task.num_classes())?;
                if serde_json::to_value(spec).map_err(json)? != serde_json::to_value(&built_in).map_err(json)? {
                    return Err(refuse(format!("the built-in {}", serde_json::to_string(&built_in).map_err(json)?)));
                }
            }
            let text = serde_json::to_string_pretty(spec).map_err(json)?;
            write_atomic(&path, text.as_bytes()).map_err(|e| ExperimentError::io(&path, e))
        }
        Err(e) => Err(ExperimentError::io(&path, e)),
    }
}

/// Merges shard directories (each holding `experiment.json` and `rows*.jsonl`, possibly copied
/// back from different machines) into `out`: refuses directories of different experiments and
/// rows of one key that disagree ([`crate::dedup`]); writes `out/experiment.json` and
/// `out/rows.jsonl` atomically and returns the experiment and its rows.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<(ExperimentConfig, Vec<Row>)> {
    let mut cfg: Option<ExperimentConfig> = None;
    let mut arch: Option<Option<Vec<u8>>> = None;
    let mut rows = Vec::new();
    for dir in dirs {
        let c = read_config(dir)?;
        let a = std::fs::read(dir.join(ARCHITECTURE_FILE)).ok();
        if let (Some(first), Some(first_arch)) = (&cfg, &arch) {
            let differs = |a: &Option<Vec<u8>>, b: &Option<Vec<u8>>| {
                let parse =
                    |x: &Option<Vec<u8>>| x.as_ref().and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok());
                parse(a) != parse(b)
            };
            if first != &c || differs(first_arch, &a) {
                return Err(ExperimentError::config(
                    "merge",
                    format!(
                        "{} holds a different experiment (grid or architecture) than {}",
                        dir.display(),
                        dirs[0].display()
                    ),
                ));
            }
        }
        cfg = Some(c);
        arch = Some(a);
        rows.extend(crate::rows::read_dir_rows(dir)?);
    }
    let cfg = cfg.ok_or_else(|| ExperimentError::config("merge", "name at least one directory"))?;
    std::fs::create_dir_all(out).map_err(|e| ExperimentError::io(out, e))?;
    pin_config(out, &cfg)?;
    if let Some(Some(bytes)) = &arch {
        let path = out.join(ARCHITECTURE_FILE);
        write_atomic(&path, bytes).map_err(|e| ExperimentError::io(&path, e))?;
    }
    let rows = crate::rows::dedup(rows)?;
    let mut text = String::new();
    for r in &rows {
        let line = serde_json::to_string(r).map_err(|e| ExperimentError::config("merge", e.to_string()))?;
        text.push_str(&line);
        text.push('\n');
    }
    let path = out.join("rows.jsonl");
    write_atomic(&path, text.as_bytes()).map_err(|e| ExperimentError::io(&path, e))?;
    Ok((cfg, rows))
}

/// Reads `experiment.json` from `out`.
pub fn read_config(out: &Path) -> Result<ExperimentConfig> {
    let path = out.join("experiment.json");
    let text = std::fs::read_to_string(&path).map_err(|e| ExperimentError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| ExperimentError::File {
        path,
        line: e.line(),
        what: format!("not an experiment description: {e}"),
    })
}

/// Methods of `cfg` that parse (with their settings, `name@key=value`), and the ones that do not
/// with the reason.
#[allow(clippy::type_complexity)]
pub fn supported_methods(cfg: &ExperimentConfig) -> (Vec<(String, Method, ExplainOptions)>, Vec<(String, String)>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for name in &cfg.methods {
        match parse_method_spec(name, &cfg.explain) {
            Ok((m, o)) => ok.push((name.clone(), m, o)),
            Err(e) => bad.push((name.clone(), e.to_string())),
        }
    }
    (ok, bad)
}

/// One training to do after a network's rankings: a deletion retraining, or an LDS subset model.
enum Job {
    Retrain(Retrain),
    Subset(usize),
}

/// One retraining to do.
struct Retrain {
    test: usize,
    method: String,
    k: usize,
    point: TestPoint,
    s_old: f64,
    p_old: f64,
    excluded: Vec<usize>,
}

/// Runs (or resumes) the part of `cfg`'s grid that `opts.shard` owns, with the built-in model
/// for the dataset ([`ExperimentConfig::architecture`]).
pub fn run(cfg: &ExperimentConfig, opts: &RunOptions, monitor: &dyn Monitor) -> Result<RunSummary> {
    run_with(cfg, opts, monitor, |task: &Task| cfg.architecture(task))
}

/// [`run`] with any architecture: `architecture` describes the network for the task (called
/// once); every network, retraining and LDS subset model of the grid is built from it, and each
/// network's run directory (`nets/net-S/`) records it in its `config.json`.
pub fn run_with<A: Architecture>(
    cfg: &ExperimentConfig,
    opts: &RunOptions,
    monitor: &dyn Monitor,
    architecture: impl FnOnce(&Task) -> genrep_models::Result<A>,
) -> Result<RunSummary> {
    cfg.validate()?;
    if opts.jobs == 0 {
        return Err(ExperimentError::config("jobs", "must be at least 1"));
    }
    opts.shard.validate()?;
    std::fs::create_dir_all(&opts.out).map_err(|e| ExperimentError::io(&opts.out, e))?;
    // One process per shard of an --out: a second one is refused (it would redo the same work
    // and append duplicate rows). Shards of one grid may run side by side.
    let lock_name = match opts.shard.count {
        1 => "experiment".to_string(),
        n => format!("experiment-shard-{}-of-{n}", opts.shard.index),
    };
    let lock = genrep_trainer::DirLock::acquire(&opts.out, &lock_name)?;
    if let Some(stale) = &lock.stale {
        monitor.note(&format!("resuming after an interrupted run ({stale})"));
    }
    pin_config(&opts.out, cfg)?;
    let mut summary = RunSummary::default();
    let (methods, unsupported) = supported_methods(cfg);
    for (name, why) in &unsupported {
        monitor.note(&format!("skipping method {name}: {why}"));
    }
    summary.unsupported = unsupported;

    let task = genrep_data::build_task(&opts.data, &cfg.task, &cfg.task_options)?;
    let spec = architecture(&task)?;
    spec.check_examples(&task.train)?;
    spec.check_examples(&task.test)?;
    pin_architecture(&opts.out, &spec, &task)?;
    let data_fp = genrep_data::DataFingerprint::of(&task);
    let n = task.train.len();
    let ks = cfg.deletion_sizes(n);
    let k_max = ks.iter().copied().max().unwrap_or(0);
    monitor.note(&format!(
        "{} ({}): {} training / {} test points; deleting k = {:?}; {} nets x {} test points x {} methods",
        cfg.dataset.paper_name(),
        cfg.task,
        n,
        task.test.len(),
        ks,
        cfg.nets,
        cfg.tests_per_net,
        methods.len()
    ));

    // Rows of the other shards in this directory count as done too.
    let own = rows_path(&opts.out, opts.shard);
    let mut known = Vec::new();
    for entry in std::fs::read_dir(&opts.out).map_err(|e| ExperimentError::io(&opts.out, e))? {
        let p = entry.map_err(|e| ExperimentError::io(&opts.out, e))?.path();
        let name = p.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if p != own && name.starts_with("rows") && name.ends_with(".jsonl") {
            known.extend(read_rows(&p)?);
        }
    }
    let (store, note) = RowStore::open(&own, known)?;
    if let Some(note) = note {
        monitor.note(&note);
    }
    let store = Mutex::new(store);
    let has = |key: &Key| store.lock().unwrap_or_else(|p| p.into_inner()).has(key);

    if !has(&Key::Baseline) && opts.shard.index == 0 {
        let start = Instant::now();
        let acc = logistic_regression(&task.train, &task.test, task.num_classes(), BASELINE_LAMBDA);
        monitor.note(&format!(
            "logistic-regression baseline: test accuracy {:.4}, balanced {:.4} ({:.1}s)",
            acc.test,
            acc.balanced,
            start.elapsed().as_secs_f64()
        ));
        store.lock().unwrap_or_else(|p| p.into_inner()).append(Row::Baseline {
            test_accuracy: acc.test,
            balanced_accuracy: acc.balanced,
            train_accuracy: acc.train,
            seconds: start.elapsed().as_secs_f64(),
        })?;
    }

    let lds = cfg.lds.as_ref();
    let mut pair = 0;
    for j in 0..cfg.nets {
        let seed = cfg.net_seed(j);
        let all_tests = cfg.test_points(seed, task.test.len());
        let tests: Vec<usize> = all_tests
            .iter()
            .copied()
            .filter(|_| {
                pair += 1;
                opts.shard.owns(pair - 1)
            })
            .collect();
        // LDS: the subset models this shard owns (unit j * M + s of the net-major enumeration)
        // and have no row yet.
        let subsets_owned: Vec<usize> =
            lds.map(|l| (0..l.subsets).filter(|&s| opts.shard.owns(j * l.subsets + s)).collect()).unwrap_or_default();
        let subsets_todo: Vec<usize> = subsets_owned.iter().copied().filter(|&s| !has(&Key::Subset(seed, s))).collect();
        summary.skipped += subsets_owned.len() - subsets_todo.len();
        // Rows still missing for (method, test point) (DEL: one per k; LDS: the ranking with
        // its attributions); methods with any are pending.
        let per_pair = if lds.is_some() { 1 } else { ks.len() };
        let missing = |m: &str, t: usize| match lds {
            Some(_) => usize::from(!has(&Key::Ranking(seed, t, m.to_string()))),
            None => ks.iter().filter(|&&k| !has(&Key::Del(seed, t, m.to_string(), k))).count(),
        };
        let mut left = 0;
        let pending: Vec<(&String, &Method, &ExplainOptions, Vec<usize>)> = methods
            .iter()
            .map(|(name, m, o)| {
                let ts: Vec<usize> = tests
                    .iter()
                    .copied()
                    .filter(|&t| {
                        let n = missing(name, t);
                        left += n;
                        n > 0
                    })
                    .collect();
                (name, m, o, ts)
            })
            .filter(|(_, _, _, ts)| !ts.is_empty())
            .collect();
        summary.skipped += tests.len() * methods.len() * per_pair - left;
        if pending.is_empty() && subsets_todo.is_empty() {
            continue;
        }

        let net_dir = RunDir::new(opts.out.join("nets").join(format!("net-{seed}")));
        let run_cfg = RunConfig {
            task: cfg.task.clone(),
            task_options: cfg.task_options.clone(),
            model: spec.clone(),
            train: cfg.train_for(seed),
            device: opts.device_name.clone(),
        };
        // Shards sharing this directory take turns on a network: the first trains it, the others
        // wait and reuse it.
        let net_lock = genrep_trainer::DirLock::wait(&net_dir.path, "train")?;
        let reusable = if net_dir.is_complete() && net_dir.read_fingerprint()?.is_none() {
            // Written before run fingerprints existed: reused as before, checked for size only.
            net_dir.verify_as::<A>(&task)?;
            true
        } else {
            net_dir.is_complete_for(&run_cfg, &data_fp)?
        };
        if !reusable {
            monitor.note(&format!("net {seed}: training ({} epochs on {n} points)", cfg.train.epochs));
            let start = Instant::now();
            train_run(&net_dir, &run_cfg, &task.train, Some(&task.test), &opts.device, false, false, &mut [])?;
            let secs = start.elapsed().as_secs_f64();
            let row = net_row::<A>(seed, &net_dir, &task, &opts.device, secs)?;
            if let Row::Net { test_accuracy, train_accuracy, balanced_accuracy, .. } = &row {
                monitor.note(&format!(
                    "net {seed}: test accuracy {test_accuracy:.4} (balanced {:.4}), train accuracy {:.4} ({secs:.1}s)",
                    balanced_accuracy.unwrap_or(f64::NAN),
                    train_accuracy.unwrap_or(f64::NAN)
                ));
            }
            store.lock().unwrap_or_else(|p| p.into_inner()).append(row)?;
            summary.nets_trained += 1;
        } else if !has(&Key::Net(seed)) {
            let secs = net_dir.read_metrics()?.iter().map(|m| m.seconds).sum();
            let row = net_row::<A>(seed, &net_dir, &task, &opts.device, secs)?;
            store.lock().unwrap_or_else(|p| p.into_inner()).append(row)?;
        }

        drop(net_lock);
        net_dir.verify_as::<A>(&task)?;

        // Rankings.
        let ad = opts.device.clone().autodiff();
        let model = net_dir.load_model_as::<A>("final", &ad)?;
        let record = net_dir.read_record()?;
        let checkpoints = Checkpoints {
            list: net_dir.read_checkpoints()?,
            load: Box::new(|name: &str| Ok(net_dir.load_model_as::<A>(name, &ad)?)),
        };
        let cache = net_dir.path.join("cache");
        let ctx = Context {
            model,
            train: &task.train,
            test: &task.test,
            record: Some(&record),
            batch_size: 256,
            cache: Some(&cache),
        };
        let mut work = Vec::new();
        for (name, method, method_opts, ts) in &pending {
            let missing: Vec<usize> =
                ts.iter().copied().filter(|&t| !has(&Key::Ranking(seed, t, name.to_string()))).collect();
            if !missing.is_empty() {
                monitor.stage(&format!("net {seed}: explaining {} test points with {name}", missing.len()), n);
                let start = Instant::now();
                let (attrs, diag) = explain(
                    &ctx,
                    method,
                    name,
                    &missing,
                    method_opts,
                    Some(&checkpoints),
                    cfg.dataset.is_text(),
                    &mut |d, t| monitor.position(d, t),
                )?;
                let per_test = start.elapsed().as_secs_f64() / missing.len() as f64;
                let c = task.num_classes();
                for (j, a) in attrs.iter().enumerate() {
                    // One test point per batch, exactly as after retraining: batch composition
                    // changes float round-off, and DEL must be 0 when nothing is deleted.
                    let logits = predict_logits(&ctx.model, &subset(&task.test, &[a.test_index]), 1, &opts.device);
                    let row = &logits[..c];
                    let mut order = a.most_negative_first();
                    order.truncate(k_max);
                    let point = TestPoint { index: a.test_index, class: a.explained_class, versus: a.versus };
                    let solver = match (diag.cg.get(j), &diag.surrogate) {
                        (Some(cg), _) => Some(Solver {
                            kind: if method_opts.lissa.is_some() { "lissa" } else { "cg" }.into(),
                            iterations: cg.iterations,
                            residual: cg.relative_residual,
                            converged: cg.converged,
                        }),
                        (None, Some(fit)) => Some(Solver {
                            kind: "lbfgs".into(),
                            iterations: fit.iterations,
                            residual: fit.grad_norm,
                            converged: fit.converged,
                        }),
                        (None, None) => None,
                    };
                    store.lock().unwrap_or_else(|p| p.into_inner()).append(Row::Ranking {
                        net: seed,
                        test: a.test_index,
                        method: name.to_string(),
                        class: a.explained_class,
                        versus: a.versus,
                        score: point.score(row),
                        prob: softmax_rows(row, c)[a.explained_class],
                        order,
                        efficiency_residual: Some(a.efficiency_residual()).filter(|v| v.is_finite()),
                        seconds: per_test,
                        solver,
                        phi: lds.map(|_| a.scores.clone()),
                    })?;
                    summary.rankings += 1;
                }
            }
            if lds.is_some() {
                continue;
            }
            for &t in ts {
                let ranking = store
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&Key::Ranking(seed, t, name.to_string()))
                    .cloned();
                let Some(Row::Ranking { class, versus, score, prob, order, .. }) = ranking else {
                    return Err(ExperimentError::config(
                        "methods",
                        format!("{name} returned no explanation for test point {t} of net {seed}"),
                    ));
                };
                for &k in &ks {
                    if !has(&Key::Del(seed, t, name.to_string(), k)) {
                        work.push(Job::Retrain(Retrain {
                            test: t,
                            method: name.to_string(),
                            k,
                            point: TestPoint { index: t, class, versus },
                            s_old: score,
                            p_old: prob,
                            excluded: order[..k.min(order.len())].to_vec(),
                        }));
                    }
                }
            }
        }
        drop(ctx);
        work.extend(subsets_todo.iter().map(|&s| Job::Subset(s)));

        // Retrainings (or subset models), `jobs` at a time.
        let what = if lds.is_some() { "training LDS subset models" } else { "retraining without the deleted points" };
        monitor.stage(&format!("net {seed}: {what}"), work.len());
        let next = AtomicUsize::new(0);
        let failure: Mutex<Option<ExperimentError>> = Mutex::new(None);
        let train_cfg = cfg.train_for(seed);
        std::thread::scope(|scope| {
            for _ in 0..opts.jobs.min(work.len().max(1)) {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= work.len() || failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                        break;
                    }
                    let result = match &work[i] {
                        Job::Retrain(w) => retrain(&spec, seed, &train_cfg, &task, w, &opts.device),
                        Job::Subset(s) => train_subset(&spec, cfg, seed, *s, &task, &all_tests, &opts.device),
                    }
                    .and_then(|row| store.lock().unwrap_or_else(|p| p.into_inner()).append(row));
                    match result {
                        Ok(()) => monitor.tick(),
                        Err(e) => {
                            *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            break;
                        }
                    }
                });
            }
        });
        if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        summary.subset_models += subsets_todo.len();
        summary.retrains += work.len() - subsets_todo.len();
    }
    Ok(summary)
}

/// L2 penalty of the logistic-regression baseline.
pub const BASELINE_LAMBDA: f64 = 1e-3;

/// The row of a trained network: test, balanced test and training accuracy.
fn net_row<A: Architecture>(seed: u64, dir: &RunDir, task: &Task, device: &Device, seconds: f64) -> Result<Row> {
    let model = dir.load_model_as::<A>("final", &device.clone().autodiff())?;
    let c = task.num_classes();
    let (test, balanced) = accuracies(&predict_logits(&model, &task.test, 256, device), &task.test.labels, c);
    let (train, _) = accuracies(&predict_logits(&model, &task.train, 256, device), &task.train.labels, c);
    Ok(Row::Net {
        net: seed,
        test_accuracy: test,
        seconds,
        train_accuracy: Some(train),
        balanced_accuracy: Some(balanced),
    })
}

/// Trains LDS subset model `j` of network `net_seed` (on [`crate::LdsConfig::subset`], from its
/// own seed) and records its logits at the network's test points `tests`, one per batch as for
/// the networks themselves.
fn train_subset<A: Architecture>(
    spec: &A,
    cfg: &ExperimentConfig,
    net_seed: u64,
    j: usize,
    task: &Task,
    tests: &[usize],
    device: &Device,
) -> Result<Row> {
    let lds = cfg.lds.as_ref().ok_or_else(|| ExperimentError::config("lds", "not an LDS experiment"))?;
    let start = Instant::now();
    let n = task.train.len();
    let mut keep = vec![false; n];
    for i in lds.subset(n, net_seed, j) {
        keep[i] = true;
    }
    let model_seed = lds.model_seed(net_seed, j);
    let model = try_init_seeded(device, model_seed, |d| spec.init(d))?;
    let mut fo = FitOptions::new(device.clone());
    fo.excluded = (0..n).filter(|&i| !keep[i]).collect();
    let outcome = fit(model, &task.train, None, &cfg.train_for(model_seed), &fo, &mut [])?;
    let c = task.num_classes();
    let logits = tests
        .iter()
        .map(|&t| predict_logits(&outcome.model, &subset(&task.test, &[t]), 1, device)[..c].to_vec())
        .collect();
    Ok(Row::Subset { net: net_seed, subset: j, tests: tests.to_vec(), logits, seconds: start.elapsed().as_secs_f64() })
}

/// Retrains network `seed` without `w.excluded` and measures DEL at the test point.
fn retrain<A: Architecture>(
    spec: &A,
    seed: u64,
    train_cfg: &genrep_trainer::TrainConfig,
    task: &Task,
    w: &Retrain,
    device: &Device,
) -> Result<Row> {
    let start = Instant::now();
    let model = try_init_seeded(device, seed, |d| spec.init(d))?;
    let mut fo = FitOptions::new(device.clone());
    fo.excluded = w.excluded.clone();
    let outcome = fit(model, &task.train, None, train_cfg, &fo, &mut [])?;
    let logits = predict_logits(&outcome.model, &subset(&task.test, &[w.test]), 1, device);
    let s_new = w.point.score(&logits);
    let p_new = softmax_rows(&logits, logits.len())[w.point.class];
    Ok(Row::Del {
        net: seed,
        test: w.test,
        method: w.method.clone(),
        k: w.k,
        score: s_new,
        prob: p_new,
        del: crate::deletion::del(w.s_old, s_new),
        del_prob: crate::deletion::del(w.p_old, p_new),
        seconds: start.elapsed().as_secs_f64(),
    })
}
