//! `genrep bench grads`: throughput of per-example gradient contractions, the inner loop of the
//! NTK, TracInCP and influence kernels: `s_i = < d/dtheta [ w_i . f(x_i) ], v >` for every
//! training example `i` and `--tests` fixed parameter-space vectors `v`.
//!
//! Three paths on the same run, examples and vectors: the generic one (one batch-1 burn backward
//! pass per example, exact for any `Classifier`), burn's batched layer-wise path
//! (`Classifier::per_example_dots` on burn tensors) and the fused CPU path (`FastNet`, the
//! default wherever a model has one). Each is timed `--reps` times after one untimed warm-up
//! call; the summary is examples/s (median over repetitions) and the ratios, with the largest
//! disagreement with the batch-1 path relative to the largest |score| as a correctness check.

use super::explain::load_run;
use clap::Args;
use genrep::experiments::stats::Summary;
use genrep::explain::{subset, GradientKernel, Kernel, Preconditioner, TestPoint};
use genrep::models::Classifier;
use genrep::trainer::LoadedRun;
use std::path::PathBuf;
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
    batch1_examples_per_s: Summary,
    burn_batched_examples_per_s: Summary,
    fused_examples_per_s: Option<Summary>,
    max_rel_diff: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Path3 {
    Batch1,
    BurnBatched,
    Fused,
}

/// Runs `genrep bench grads`.
pub fn run(args: GradsBenchArgs, data: &super::DataSource) -> anyhow::Result<()> {
    let LoadedRun { task, model, .. } = load_run(&args.run, args.device.as_deref(), data)?;
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
    let kernel = GradientKernel::new(model.clone(), &train, &task.test, Preconditioner::Identity, "ntk-final");
    let has_fused = kernel.fast.is_some();
    tracing::info!(
        "{}: {} training examples x {} vectors, {} repetitions per path{}",
        model.architecture(),
        n,
        args.tests,
        args.reps,
        if has_fused { "" } else { " (no fused path on this device)" }
    );
    let mut kernel = kernel;
    let fused = kernel.fast.take();
    let mut time = |path: Path3| -> anyhow::Result<(Vec<f64>, Vec<Vec<f64>>)> {
        kernel.batched = path != Path3::Batch1;
        if path == Path3::Fused {
            kernel.fast = fused.as_ref().and_then(|_| model.fast_net());
        }
        let mut out = kernel.contract(&alpha, &tests, &mut |_, _| {})?; // warm-up
        let mut rates = Vec::new();
        for r in 0..args.reps {
            let start = Instant::now();
            out = kernel.contract(&alpha, &tests, &mut |_, _| {})?;
            let s = start.elapsed().as_secs_f64();
            rates.push(n as f64 / s);
            tracing::info!("  {path:?}: rep {r}: {:.2}s ({:.0} examples/s)", s, n as f64 / s);
        }
        Ok((rates, out))
    };
    let (slow_rates, slow) = time(Path3::Batch1)?;
    let (burn_rates, burn) = time(Path3::BurnBatched)?;
    let fused_run = if has_fused { Some(time(Path3::Fused)?) } else { None };
    let scale = slow.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
    let diff = |x: &Vec<Vec<f64>>| {
        slow.iter().flatten().zip(x.iter().flatten()).fold(0.0f64, |m, (a, b)| m.max((a - b).abs())) / scale
    };
    let max_rel_diff = fused_run.as_ref().map(|f| diff(&f.1)).unwrap_or(0.0).max(diff(&burn));
    let (s, b) = (Summary::of(&slow_rates), Summary::of(&burn_rates));
    let f = fused_run.as_ref().map(|r| Summary::of(&r.0));
    println!("| path | examples/s (median) | mean ± sd | min-max | vs batch-1 |");
    println!("|---|---|---|---|---|");
    let rows = [
        ("batch-1 burn backward per example", Some(&s)),
        ("burn, batched layer-wise", Some(&b)),
        ("fused CPU path", f.as_ref()),
    ];
    for (name, st) in rows {
        if let Some(st) = st {
            println!(
                "| {name} | {:.0} | {:.0} ± {:.0} | {:.0}-{:.0} | {:.2}x |",
                st.median,
                st.mean,
                st.sd,
                st.min,
                st.max,
                st.median / s.median
            );
        }
    }
    println!("largest difference to the batch-1 path / largest |score| = {max_rel_diff:.1e}");
    if let Some(path) = &args.json {
        let out = GradsBench {
            run: args.run.display().to_string(),
            architecture: model.architecture(),
            examples: n,
            tests: args.tests,
            batch1_examples_per_s: s,
            burn_batched_examples_per_s: b,
            fused_examples_per_s: f,
            max_rel_diff,
        };
        genrep::models::write_atomic(path, serde_json::to_string_pretty(&out)?.as_bytes())?;
    }
    Ok(())
}
