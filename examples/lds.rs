//! The linear datamodeling score (LDS) of several methods on a trained run: train `M` models on
//! seeded random halves of the training set (each with its own initialisation and minibatch
//! order, as TRAK and dattri do), record each one's explained score at a few test points, and
//! correlate it (Spearman, over the subsets) with the sum of each method's attributions over the
//! subset. One set of subset models serves every method and test point.
//!
//! Run: `GENREP_DATA=/path/to/datasets cargo run --release --example lds -- RUN_DIR [M] [TESTS] [METHODS]`
//! (defaults: 20 subsets, 5 test points, methods below).

use genrep::data::DataDir;
use genrep::experiments::lds::{lds, subset};
use genrep::experiments::stats::mean_ci;
use genrep::explain::{subset as pick, Explainer, Target};
use genrep::models::Architecture;
use genrep::trainer::{fit, predict_logits, try_init_seeded, FitOptions, LoadedRun, TrainConfig};

const METHODS: &str =
    "random,representer,target:ntk-final,tracking:ntk-final,tracking:inf-final,influence,tracincp,trak:d=256";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or_else(|| anyhow::anyhow!("usage: lds RUN_DIR [M] [TESTS] [METHODS]"))?;
    let m: usize = args.next().map(|v| v.parse()).transpose()?.unwrap_or(20);
    let tests: usize = args.next().map(|v| v.parse()).transpose()?.unwrap_or(5);
    let methods: Vec<String> = args.next().unwrap_or_else(|| METHODS.into()).split(',').map(String::from).collect();
    let data = DataDir::resolve(None)?;
    let run = LoadedRun::open(&dir, &data, None)?;
    let (train, test) = (&run.task.train, &run.task.test);
    let n = train.len();
    let idx: Vec<usize> = (0..tests).map(|t| t * test.len() / tests.max(1)).collect();

    // Attributions first (they explain the original model's predicted class at each point).
    let explainer = Explainer::from_run(&run)?;
    let mut phis = Vec::new();
    for method in &methods {
        let start = std::time::Instant::now();
        let (attrs, _) = explainer.explain(method, test, &idx, Target::Predicted)?;
        eprintln!("{method}: explained {} test points in {:.1}s", attrs.len(), start.elapsed().as_secs_f64());
        phis.push(attrs);
    }
    let points: Vec<_> = phis[0].iter().map(|a| (a.test_index, a.explained_class, a.versus)).collect();

    // The subset models: seed j for both the subset and the network.
    let subsets: Vec<Vec<usize>> = (0..m).map(|j| subset(n, 0.5, 2023, j)).collect();
    let probe = pick(test, &idx);
    let c = run.task.num_classes();
    let mut outputs = vec![vec![0.0; m]; idx.len()];
    let start = std::time::Instant::now();
    for (j, s) in subsets.iter().enumerate() {
        let keep: std::collections::HashSet<usize> = s.iter().copied().collect();
        let mut opts = FitOptions::new(run.device.clone());
        opts.excluded = (0..n).filter(|i| !keep.contains(i)).collect();
        let cfg = TrainConfig { seed: 1000 + j as u64, ..run.config.train.clone() };
        let model = try_init_seeded(&run.device, cfg.seed, |d| run.config.model.init(d))?;
        let trained = fit(model, train, None, &cfg, &opts, &mut [])?.model;
        let logits = predict_logits(&trained, &probe, 64, &run.device);
        for (t, &(_, class, versus)) in points.iter().enumerate() {
            let row = &logits[t * c..(t + 1) * c];
            outputs[t][j] = row[class] as f64 - versus.map_or(0.0, |v| row[v] as f64);
        }
        eprintln!("subset model {}/{m} trained ({:.0}s)", j + 1, start.elapsed().as_secs_f64());
    }

    println!("LDS on {dir}: {m} subsets of {} of {n} training points, {} test points", subsets[0].len(), idx.len());
    println!("| method | LDS (mean ± 95% t half-width over test points) | per test point |");
    println!("|---|---|---|");
    for (method, attrs) in methods.iter().zip(&phis) {
        let per: Vec<f64> = attrs.iter().zip(&outputs).map(|(a, out)| lds(&a.scores, &subsets, out)).collect();
        let (mean, half) = mean_ci(&per);
        let list: Vec<String> = per.iter().map(|v| format!("{v:.2}")).collect();
        println!("| `{method}` | {mean:.3} ± {half:.3} | {} |", list.join(", "));
    }
    Ok(())
}
