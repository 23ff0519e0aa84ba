//! `genrep bench grads`: throughput of per-example gradient contractions, the inner loop of the
//! NTK, TracInCP and influence kernels: `s_i = < d/dtheta [ w_i . f(x_i) ], v >` for every
//! training example `i` and `--tests` fixed parameter-space vectors `v`.
//!
//! Two paths on the same run, examples and vectors: the generic one (one batch-1 burn backward
//! pass per example, exact for any `Classifier`) and the model's batched layer-wise fast path
//! (`Classifier::per_example_dots`). Each is timed `--reps` times after one untimed warm-up
//! call; the summary is examples/s (median over repetitions) and the ratio, with the largest
//! disagreement between the two paths relative to the largest |score| as a correctness check.

use super::bench::Stats;
use super::explain::{load_run, Loaded};
use clap::Args;
use genrep::explain::{subset, GradientKernel, Kernel, Preconditioner, TestPoint};
use genrep::models::Classifier;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `genrep bench grads`.
#[derive(Debug, Args)]
pub struct GradsBenchArgs {
    /// Run directory written by `genrep train` (its final model is used).
    #[arg(long)]
    pub run: PathBuf,
    /// Number of training examples (the first ones of the training split).
    #[arg(long, default_value_t = 1024)]
    pub examples: usize,
    /// Number of contraction vectors (test points; each is `df_c(x)/dtheta` of a test point).
    #[arg(long, default_value_t = 1)]
    pub tests: usize,
    /// Timed repetitions of each path.
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Device (default: the run's).
    #[arg(long)]
    pub device: Option<String>,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, serde::Serialize)]
struct GradsBench {
    run: String,
    architecture: String,
    examples: usize,
    tests: usize,
    batch1_examples_per_s: Stats,
    fast_examples_per_s: Stats,
    speedup: f64,
    max_rel_diff: f64,
}

/// Runs `genrep bench grads`.
pub fn run(args: GradsBenchArgs, data_dir: Option<&Path>) -> anyhow::Result<()> {
    let Loaded { task, model, .. } = load_run(&args.run, args.device.as_deref(), data_dir)?;
    let n = args.examples.min(task.train.len());
    if n == 0 || args.tests == 0 || args.reps == 0 {
        anyhow::bail!("--examples, --tests and --reps must be at least 1");
    }
    if args.tests > task.test.len() {
        anyhow::bail!("--tests {} exceeds the test split ({} points)", args.tests, task.test.len());
    }
    let train = subset(&task.train, &(0..n).collect::<Vec<_>>());
    let c = model.num_classes();
    // Output weights: the loss derivative's shape (one +-1 pair per example), as TracInCP uses.
    let labels = &train.labels;
    let alpha: Vec<f64> =
        (0..n).flat_map(|i| (0..c).map(move |k| if k == labels[i] { -1.0 } else { 1.0 / c as f64 })).collect();
    let tests: Vec<TestPoint> = (0..args.tests).map(|i| TestPoint::logit(i, 0)).collect();
    let mut kernel = GradientKernel::new(model.clone(), &train, &task.test, Preconditioner::Identity, "ntk-final");
    eprintln!(
        "{}: {} training examples x {} vectors, {} repetitions per path",
        model.architecture(),
        n,
        args.tests,
        args.reps
    );
    let mut time = |batched: bool| -> anyhow::Result<(Vec<f64>, Vec<Vec<f64>>)> {
        kernel.batched = batched;
        let mut out = kernel.contract(&alpha, &tests, &mut |_, _| {})?; // warm-up
        let mut rates = Vec::new();
        for r in 0..args.reps {
            let start = Instant::now();
            out = kernel.contract(&alpha, &tests, &mut |_, _| {})?;
            let s = start.elapsed().as_secs_f64();
            rates.push(n as f64 / s);
            eprintln!(
                "  {}: rep {r}: {:.2}s ({:.0} examples/s)",
                if batched { "fast" } else { "batch-1" },
                s,
                n as f64 / s
            );
        }
        Ok((rates, out))
    };
    let (slow_rates, slow) = time(false)?;
    let (fast_rates, fast) = time(true)?;
    let scale = slow.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
    let max_rel_diff =
        slow.iter().flatten().zip(fast.iter().flatten()).fold(0.0f64, |m, (a, b)| m.max((a - b).abs())) / scale;
    let (s, f) = (Stats::of(&slow_rates), Stats::of(&fast_rates));
    let speedup = f.median / s.median;
    println!("| path | examples/s (median) | mean ± sd | min-max |");
    println!("|---|---|---|---|");
    for (name, st) in [("batch-1 backward per example", &s), ("batched fast path", &f)] {
        println!("| {name} | {:.0} | {:.0} ± {:.0} | {:.0}-{:.0} |", st.median, st.mean, st.sd, st.min, st.max);
    }
    println!("speed-up {speedup:.2}x; largest difference between the paths / largest |score| = {max_rel_diff:.1e}");
    if let Some(path) = &args.json {
        let out = GradsBench {
            run: args.run.display().to_string(),
            architecture: model.architecture(),
            examples: n,
            tests: args.tests,
            batch1_examples_per_s: s,
            fast_examples_per_s: f,
            speedup,
            max_rel_diff,
        };
        genrep::models::write_atomic(path, serde_json::to_string_pretty(&out)?.as_bytes())?;
    }
    Ok(())
}
