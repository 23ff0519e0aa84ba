//! `genrep bench explain`: the cost of explaining one test point, per method, on a trained run
//! (the 2018 paper's cost table: representer points vs influence functions), and of
//! explaining all of them in one call, with each method's peak resident memory.
//!
//! Protocol: the first `--tests` test points, one at a time, each explained at its predicted
//! class over the whole training split. Representer points are split as in the 2018 paper into
//! the last-layer fine-tune (the L2 refit, redone for every test point so its spread is
//! measured) and the computation of the n representer values. Every other method is timed end
//! to end per test point (all per-test work: test gradients, CG solves, the contraction over
//! the training set). Peak memory is the process's resident high-water mark (`VmHWM`), reset
//! through `/proc/self/clear_refs` before each method (Linux; blank elsewhere).

use super::explain::load_run;
use clap::Args;
use genrep::experiments::bench::bench_explain;
use genrep::explain::{Checkpoints, Context, ExplainOptions};
use genrep::trainer::LoadedRun;
use std::path::PathBuf;

/// Arguments of `genrep bench explain`.
#[derive(Debug, Args)]
pub struct ExplainBenchArgs {
    /// Run directory written by `genrep train`.
    #[arg(long)]
    pub run: PathBuf,
    /// Methods to time (comma-separated `genrep explain` names, each with its own settings).
    #[arg(long, default_value = "representer,influence", value_parser = super::parse_methods)]
    pub methods: super::Methods,
    /// Number of test points (the first ones of the test split).
    #[arg(long, default_value_t = 10)]
    pub tests: usize,
    /// Also time one call that explains all the test points together.
    #[arg(long)]
    pub batched: bool,
    /// Training examples the all-parameter curvature averages over (default: all).
    #[arg(long)]
    pub hessian_sample: Option<usize>,
    /// The explained scalar: margin (default) or logit (what bench/pytorch_explain.py explains).
    #[arg(long, default_value = "margin", value_parser = super::explain::parse_score)]
    pub score: genrep::explain::ExplainedScore,
    /// Device (default: the run's).
    #[arg(long)]
    pub device: Option<String>,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs `genrep bench explain`.
pub fn run(args: ExplainBenchArgs, data: &super::DataSource) -> anyhow::Result<()> {
    let LoadedRun { run, config: cfg, device, task, model } = load_run(&args.run, args.device.as_deref(), data)?;
    let n_tests = args.tests.min(task.test.len());
    if n_tests == 0 {
        anyhow::bail!("--tests must be at least 1 (the test split has {} points)", task.test.len());
    }
    let record = run.read_record_if_present()?;
    let ad = device.clone().autodiff();
    let checkpoints =
        Checkpoints { list: run.read_checkpoints()?, load: Box::new(|name: &str| Ok(run.load_model(name, &ad)?)) };
    let ctx =
        Context { model, train: &task.train, test: &task.test, record: record.as_ref(), batch_size: 256, cache: None };
    let opts = ExplainOptions { hessian_sample: args.hessian_sample, score: args.score, ..ExplainOptions::default() };
    let is_text = cfg.task.dataset.is_text();
    let tests: Vec<usize> = (0..n_tests).collect();
    tracing::info!(
        "{}: {} training points, {} test points, methods {}",
        cfg.task,
        task.train.len(),
        n_tests,
        args.methods.0.join(", ")
    );
    let costs = bench_explain(&ctx, &checkpoints, &args.methods.0, &tests, &opts, is_text, args.batched)?;
    println!(
        "| method | per test point, mean ± sd (s) | min-max (s) | {} test points in one call (s) | peak RSS (MiB) |",
        n_tests
    );
    println!("|---|---|---|---|---|");
    for c in &costs {
        let split = match (&c.fine_tune, &c.computation) {
            (Some(f), Some(p)) => {
                format!(" (fine-tune {:.2} ± {:.2} + computation {:.3} ± {:.3})", f.mean, f.sd, p.mean, p.sd)
            }
            _ => String::new(),
        };
        println!(
            "| `{}` | {:.2} ± {:.2}{split} | {:.2}-{:.2} | {} | {} |",
            c.method,
            c.per_test.mean,
            c.per_test.sd,
            c.per_test.min,
            c.per_test.max,
            c.batched_seconds.map(|s| format!("{s:.1}")).unwrap_or_else(|| "-".into()),
            c.peak_rss_mib.map(|m| format!("{m:.0}")).unwrap_or_else(|| "-".into())
        );
    }
    let find = |m: &str| costs.iter().find(|c| c.method == m);
    if let (Some(i), Some(r)) = (find("influence"), find("representer")) {
        println!(
            "\nInfluence function / representer points, per test point: {:.1}x (the 2018 paper, CIFAR-10: 267.08 / (7.09 + 0.10) = 37x)",
            i.per_test.mean / r.per_test.mean
        );
    }
    if let Some(p) = &args.json {
        let text = serde_json::to_string_pretty(&costs)?;
        genrep::models::write_atomic(p, text.as_bytes())?;
    }
    Ok(())
}
