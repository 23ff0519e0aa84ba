//! How far apart are the tracking representer (Eqn 10 of Tsai et al. 2023) and the target
//! derivative (Eqn 7) on a trained run? Issue 14 measured them delete different points (47-48%
//! overlap of the deletion sets on MNIST) while the paper finds tracking clearly better; this
//! prints the numbers behind that: rank agreement of the global importances, and of the
//! attributions under one kernel (NTK-final) at a few test points.
//!
//! Run: `GENREP_DATA=/path/to/datasets cargo run --release --example importance_agreement -- RUN_DIR [TESTS]`

use genrep::data::DataDir;
use genrep::experiments::lds::spearman;
use genrep::explain::importance::{target_derivative, tracking};
use genrep::explain::{Explainer, Target};
use genrep::trainer::{predict_logits, LoadedRun};

/// Overlap of the `k` most negative entries of two score vectors (the deletion sets).
fn bottom_overlap(a: &[f64], b: &[f64], k: usize) -> f64 {
    let bottom = |x: &[f64]| {
        let mut idx: Vec<usize> = (0..x.len()).collect();
        idx.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
        idx.truncate(k);
        idx
    };
    let (sa, sb) = (bottom(a), bottom(b));
    sa.iter().filter(|i| sb.contains(i)).count() as f64 / k as f64
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or_else(|| anyhow::anyhow!("usage: importance_agreement RUN_DIR [TESTS]"))?;
    let tests: usize = args.next().map(|t| t.parse()).transpose()?.unwrap_or(5);
    let data = DataDir::resolve(None)?;
    let run = LoadedRun::open(&dir, &data, None)?;
    let (train, c) = (&run.task.train, run.task.num_classes());
    let record = run.record()?;
    let logits = predict_logits(&run.model, train, 256, &run.device);
    let target = target_derivative(&logits, &train.labels, c);
    let track = tracking(&record);
    let col = |v: &[f64], k: usize| -> Vec<f64> { v.iter().skip(k).step_by(c).copied().collect() };
    let n = train.len();
    println!("{dir}: {n} training points, {c} classes");
    for k in 0..c {
        let (a, b) = (col(&track, k), col(&target, k));
        println!("  alpha class {k}: Spearman(tracking, target) = {:.3}", spearman(&a, &b));
    }
    // Where the importance mass sits: points the final model fits (|target| small) vs the rest.
    let fitted: Vec<bool> = (0..n).map(|i| (0..c).all(|k| target[i * c + k].abs() < 0.05)).collect();
    let mass = |v: &[f64], sel: bool| -> f64 {
        (0..n).filter(|&i| fitted[i] == sel).map(|i| (0..c).map(|k| v[i * c + k].abs()).sum::<f64>()).sum()
    };
    for (name, v) in [("tracking", &track), ("target", &target)] {
        let (f, r) = (mass(v, true), mass(v, false));
        println!(
            "  {name}: {:.1}% of sum |alpha| on the {} points the final model fits (|dL/df| < 0.05 per class)",
            100.0 * f / (f + r),
            fitted.iter().filter(|&&x| x).count()
        );
    }
    let explainer = Explainer::from_run(&run)?;
    let k = (n as f64 * 0.10).round() as usize;
    let idx: Vec<usize> = (0..tests).map(|t| t * run.task.test.len() / tests.max(1)).collect();
    let (a, _) = explainer.explain("tracking:ntk-final", &run.task.test, &idx, Target::Predicted)?;
    let (b, _) = explainer.explain("target:ntk-final", &run.task.test, &idx, Target::Predicted)?;
    for (x, y) in a.iter().zip(&b) {
        println!(
            "  test #{}: Spearman(phi) = {:.3}, overlap of the {k} most negative = {:.0}%, sum phi {:.2} vs {:.2}",
            x.test_index,
            spearman(&x.scores, &y.scores),
            100.0 * bottom_overlap(&x.scores, &y.scores, k),
            x.total(),
            y.total()
        );
    }
    Ok(())
}
