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
use genrep::experiments::bench::bench_grads;
use genrep::models::Classifier;
use genrep::trainer::LoadedRun;
use std::path::PathBuf;

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

/// Runs `genrep bench grads`.
pub fn run(args: GradsBenchArgs, data: &super::DataSource) -> anyhow::Result<()> {
    let LoadedRun { task, model, .. } = load_run(&args.run, args.device.as_deref(), data)?;
    tracing::info!(
        "{}: {} training examples x {} vectors, {} repetitions per path{}",
        model.architecture(),
        args.examples.min(task.train.len()),
        args.tests,
        args.reps,
        if model.fast_net().is_some() { "" } else { " (no fused path on this device)" }
    );
    let mut progress = |path: &str, r: usize, s: f64| tracing::info!("  {path}: rep {r}: {s:.2}s");
    let out = bench_grads(&model, &task, args.examples, args.tests, args.reps, &mut progress)?;
    let s = &out.batch1_examples_per_s;
    println!("| path | examples/s (median) | mean ± sd | min-max | vs batch-1 |");
    println!("|---|---|---|---|---|");
    let rows = [
        ("batch-1 burn backward per example", Some(s)),
        ("burn, batched layer-wise", Some(&out.burn_batched_examples_per_s)),
        ("fused CPU path", out.fused_examples_per_s.as_ref()),
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
    println!("largest difference to the batch-1 path / largest |score| = {:.1e}", out.max_rel_diff);
    if let Some(path) = &args.json {
        #[derive(serde::Serialize)]
        struct WithRun<'a> {
            run: String,
            #[serde(flatten)]
            bench: &'a genrep::experiments::bench::GradsBench,
        }
        let json = serde_json::to_string_pretty(&WithRun { run: args.run.display().to_string(), bench: &out })?;
        genrep::models::write_atomic(path, json.as_bytes())?;
    }
    Ok(())
}
